package live

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/fakecam"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/synth"
)

// Against the project's fake camera: each kind delivers the camera's own
// marker frames, AVI1 frames become displayable, credentials work, and a
// camera that goes down and up is offline then running again.
func TestFakeCamera(t *testing.T) {
	for _, tc := range []struct {
		name string
		path string
		avi1 bool
		kind media.SourceKind
	}{
		{"mjpeg", "/mjpeg", false, media.SourceMJPEG},
		{"mjpeg avi1", "/mjpeg", true, media.SourceMJPEG},
		{"snapshot", "/snapshot.jpg", false, media.SourceSnapshot},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cam := fakecam.New(fakecam.Config{FPS: 25, Width: 96, Height: 64, VideoID: 42, AVI1: tc.avi1, User: "u", Password: "s3cret-pw"})
			srv := httptest.NewServer(cam.Handler())
			t.Cleanup(srv.Close)
			url := strings.Replace(srv.URL, "http://", "http://u:s3cret-pw@", 1) + tc.path
			h := start(t, url, 0, fast)
			waitFor(t, 5*time.Second, "frames", func() bool { return h.rec.count() >= 3 })
			if k := h.r.Kind(); k != tc.kind {
				t.Fatalf("kind %q, want %q", k, tc.kind)
			}
			for _, f := range h.rec.all() {
				video, _, ok := synth.ReadMarker(f.JPEG)
				if !ok || video != 42 || f.Width != 96 || f.Height != 64 {
					t.Fatalf("frame seq %d: marker video %d ok %v, %dx%d", f.Seq, video, ok, f.Width, f.Height)
				}
			}
			cam.SetMode(fakecam.ModeDown)
			h.waitState(t, 2*time.Second, media.StateOffline)
			cam.SetMode(fakecam.ModeUp)
			took := h.waitState(t, 2*time.Second, media.StateRunning)
			t.Logf("running again %s after up", took)
			if strings.Contains(h.logs.String(), "s3cret-pw") {
				t.Fatal("password in the logs")
			}
		})
	}
}

// Passthrough, byte for byte: the snapshot fakecam serves is the frame
// published.
func TestFakeCameraBytesEqual(t *testing.T) {
	cam := fakecam.New(fakecam.Config{FPS: 1, Width: 64, Height: 48})
	srv := httptest.NewServer(cam.Handler())
	t.Cleanup(srv.Close)
	h := start(t, srv.URL+"/mjpeg", 0, fast)
	waitFor(t, 5*time.Second, "a frame", func() bool { return h.rec.count() >= 1 })
	_, want, err := cam.Frame()
	if err != nil {
		t.Fatal(err)
	}
	got := h.rec.all()
	if !bytes.Equal(got[len(got)-1].JPEG, want) && (len(got) < 2 || !bytes.Equal(got[len(got)-2].JPEG, want)) {
		t.Fatalf("published frame (%d bytes) differs from the camera's (%d bytes)", len(got[len(got)-1].JPEG), len(want))
	}
}
