package camera

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/marker"
	"github.com/livemon/livemon/server/internal/media"
)

// mjpegCamera serves /mjpeg: a stream of one marker JPEG (video n) every
// 20ms. It is closed when the test ends.
func mjpegCamera(t *testing.T, n int) (url string, frame []byte) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 96, 64))
	marker.Draw(img, n, 0)
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	frame = b.Bytes()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=b")
		rc := http.NewResponseController(w)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for range 500 {
			fmt.Fprintf(w, "--b\r\nContent-Type: image/jpeg\r\n\r\n")
			w.Write(frame)
			w.Write([]byte("\r\n"))
			if rc.Flush() != nil {
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
		}
	}))
	t.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "http://", "http://admin:hunter2@", 1) + "/mjpeg", frame
}

// A camera created with a source plays it (passthrough), a new source is
// a new epoch, an upload switches it back to its file, and the password
// shows nowhere.
func TestLiveSourceLifecycle(t *testing.T) {
	h := newHarness(t, Config{})
	url1, frame1 := mjpegCamera(t, 7)
	url2, _ := mjpegCamera(t, 8)
	ctx := context.Background()

	v, err := h.m.Create(ctx, "door", Settings{Source: &Source{URL: url1}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Source.Kind != media.SourceHTTP && v.Source.Kind != media.SourceMJPEG {
		t.Fatalf("created source %+v", v.Source)
	}
	vw := h.watch("door")
	f, n := vw.next()
	if n != 7 || f.Epoch != v.Epoch || !bytes.Equal(f.JPEG, frame1) {
		t.Fatalf("first frame: video %d epoch %d (want 7, %d), bytes equal %v", n, f.Epoch, v.Epoch, bytes.Equal(f.JPEG, frame1))
	}
	eventually(t, "running mjpeg", func() bool {
		v, _ := h.m.Get("door")
		return v.State == media.StateRunning && v.Source.Kind == media.SourceMJPEG
	})
	v, _ = h.m.Get("door")
	if v.Source.URL != strings.Replace(url1, "hunter2", "xxxxx", 1) || v.Video != nil {
		t.Fatalf("view source %+v video %+v", v.Source, v.Video)
	}

	v2, err := h.m.Update(ctx, "door", Settings{Source: &Source{URL: url2}})
	if err != nil {
		t.Fatal(err)
	}
	if v2.Epoch != v.Epoch+1 {
		t.Fatalf("new source epoch %d, want %d", v2.Epoch, v.Epoch+1)
	}
	for {
		f, n := vw.next()
		if f.Epoch == v2.Epoch {
			if n != 8 {
				t.Fatalf("new epoch's frame is video %d, want 8", n)
			}
			break
		}
	}

	u := h.mustUpload("door", 9)
	if u.Camera.Source.Kind != media.SourceFile || u.Camera.Epoch != v2.Epoch+1 || u.Camera.Video == nil {
		t.Fatalf("after upload %+v", u.Camera)
	}
	for {
		f, n := vw.next()
		if f.Epoch == u.Camera.Epoch {
			if n != 9 {
				t.Fatalf("upload's frame is video %d, want 9", n)
			}
			break
		}
	}
	for _, v := range h.m.List() {
		if strings.Contains(fmt.Sprintf("%+v", v), "hunter2") {
			t.Fatalf("password in view %+v", v)
		}
	}
}

// A live camera keeps its seq across a server restart.
func TestLiveSeqSurvivesRestart(t *testing.T) {
	h := newHarness(t, Config{})
	url, _ := mjpegCamera(t, 3)
	if _, err := h.m.Create(context.Background(), "c", Settings{Source: &Source{URL: url}}); err != nil {
		t.Fatal(err)
	}
	vw := h.watch("c")
	vw.next()
	f, _ := vw.next()
	if _, err := h.m.Stop(context.Background(), "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.m.Start(context.Background(), "c"); err != nil {
		t.Fatal(err)
	}
	for {
		g, _ := vw.next()
		if g.Seq > f.Seq && g.Epoch == f.Epoch {
			break
		}
		if g.Seq <= f.Seq && g != f {
			t.Fatalf("seq went back: %d after %d", g.Seq, f.Seq)
		}
	}
	rec, err := h.st.Camera(context.Background(), "c")
	if err != nil || rec.Seq < f.Seq {
		t.Fatalf("stored seq %d (err %v), want >= %d", rec.Seq, err, f.Seq)
	}
}

func TestSourceValidation(t *testing.T) {
	h := newHarness(t, Config{})
	for _, s := range []Source{
		{URL: "rtsp:///x"}, {URL: "file:///etc/passwd"}, {URL: "http://"}, {URL: "cam/mjpeg"},
		{URL: "rtsp://h/", Transport: "quic"}, {URL: "http://h/", Transport: "udp"},
	} {
		_, err := h.m.Create(context.Background(), "x", Settings{Source: &s})
		wantKind(t, err, media.KindInvalid)
	}
	// An RTSP source without a transport is stored with tcp.
	v, err := h.m.Create(context.Background(), "r", Settings{Source: &Source{URL: "rtsp://127.0.0.1:1/x"}})
	if err != nil || v.Source.Kind != media.SourceRTSP || v.Source.Transport != "tcp" {
		t.Fatalf("rtsp camera: %+v, %v", v.Source, err)
	}
}

// A viewer returning to an unwatched live camera gets the kept frame at
// once and live frames right after: the runner reconnects on the hub's wake.
func TestLiveReturningViewer(t *testing.T) {
	h := newHarness(t, Config{})
	url, _ := mjpegCamera(t, 5)
	if _, err := h.m.Create(context.Background(), "c", Settings{Source: &Source{URL: url}}); err != nil {
		t.Fatal(err)
	}
	first := h.watch("c")
	first.next()
	first.sub.Close()
	eventually(t, "unwatched after the linger", func() bool { return !h.hub.Watched("c") })
	kept := h.hub.Latest("c")

	start := time.Now()
	vw := h.watch("c")
	f, _ := vw.next()
	atOnce := time.Since(start)
	if f != kept || atOnce > 300*time.Millisecond {
		t.Fatalf("first frame for the returning viewer: kept %v, after %s", f == kept, atOnce)
	}
	g, _ := vw.next()
	live := time.Since(start)
	if g.Seq <= f.Seq || live > 2*time.Second {
		t.Fatalf("next frame seq %d after %d, %s after the viewer came back", g.Seq, f.Seq, live)
	}
	t.Logf("kept frame after %s, live frame after %s", atOnce, live)
}

// A killed server's last checkpoint may be older than the last frame it
// published: the cameras loaded by the next process continue above it, so
// no viewer sees a seq again.
func TestSeqAfterKillSkipsPastCheckpoint(t *testing.T) {
	h := newHarness(t, Config{})
	url, _ := mjpegCamera(t, 3)
	if _, err := h.m.Create(context.Background(), "c", Settings{Source: &Source{URL: url}}); err != nil {
		t.Fatal(err)
	}
	vw := h.watch("c")
	vw.next()
	f, _ := vw.next()
	// The process dies with its checkpoint a few frames behind f (the
	// camera is stopped first, so this process's checkpoints stop).
	if _, err := h.m.Stop(context.Background(), "c"); err != nil {
		t.Fatal(err)
	}
	if err := h.st.Checkpoint(context.Background(), "c", f.Epoch, f.Seq-2, 0); err != nil {
		t.Fatal(err)
	}
	next := New(Config{}, Deps{Store: h.st, Hub: hub.New(), Opener: h.opener, Prober: h.prober,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := next.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, err := next.Get("c")
	if err != nil {
		t.Fatal(err)
	}
	if v.Epoch == f.Epoch && v.Seq <= f.Seq {
		t.Fatalf("after the restart seq %d epoch %d: a viewer that saw seq %d would see it again", v.Seq, v.Epoch, f.Seq)
	}
}
