package live

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
)

// fast are timings that keep tests short.
var fast = Timings{
	SnapshotInterval: 30 * time.Millisecond,
	FrameTimeout:     500 * time.Millisecond,
	ConnectTimeout:   500 * time.Millisecond,
	Refresh:          200 * time.Millisecond,
	RTSPRefresh:      600 * time.Millisecond,
	MinBackoff:       50 * time.Millisecond,
	MaxBackoff:       200 * time.Millisecond,
}

type harness struct {
	r    *Runner
	rec  *recorder
	logs *syncBuffer

	mu       sync.Mutex
	statuses []decoder.Status
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, url string, seq uint64, tm Timings) *harness {
	t.Helper()
	h := &harness{rec: newRecorder(), logs: &syncBuffer{}}
	client := NewClient(tm.ConnectTimeout)
	h.r = Start(context.Background(), Config{Camera: "cam", URL: url, Epoch: 3, Seq: seq, Timings: tm}, Deps{
		Publisher: h.rec, Watcher: h.rec, Client: client,
		Logger: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnStatus: func(st decoder.Status) {
			h.mu.Lock()
			h.statuses = append(h.statuses, st)
			h.mu.Unlock()
		},
	})
	t.Cleanup(func() {
		h.r.Stop()
		client.CloseIdleConnections()
	})
	return h
}

func (h *harness) waitState(t *testing.T, d time.Duration, s media.State) time.Duration {
	t.Helper()
	return waitFor(t, d, "state "+string(s), func() bool { return h.r.Status().State == s })
}

// withPassword puts the password s3cret-pw in url twice: as user info and
// as a query parameter, as some cameras take it.
func withPassword(url string) string {
	return strings.Replace(url, "http://", "http://viewer:s3cret-pw@", 1) + "?pwd=s3cret-pw"
}

func TestMJPEGPassthrough(t *testing.T) {
	cam := newTestCam(t)
	h := start(t, withPassword(cam.url("/mjpeg")), 100, fast)
	waitFor(t, 5*time.Second, "10 frames", func() bool { return h.rec.count() >= 10 })
	if k := h.r.Kind(); k != media.SourceMJPEG {
		t.Fatalf("kind %q, want mjpeg", k)
	}
	prev := uint64(100)
	for _, f := range h.rec.all() {
		n := frameNumber(f.JPEG)
		if n < 0 || !bytes.Equal(f.JPEG, cam.frame(n)) {
			t.Fatalf("frame seq %d is not a camera frame passed through (number %d)", f.Seq, n)
		}
		if f.Seq <= prev || f.Epoch != 3 || f.Camera != "cam" || f.Width != 32 || f.Height != 24 {
			t.Fatalf("frame %+v after seq %d", f, prev)
		}
		prev = f.Seq
	}
	if st := h.r.Status(); st.State != media.StateRunning || st.Seq < 110 {
		t.Fatalf("status %+v", st)
	}
	cam.mu.Lock()
	auth := cam.auth
	cam.mu.Unlock()
	if auth == "" {
		t.Fatal("no Basic auth sent")
	}
}

func TestSnapshotPolled(t *testing.T) {
	cam := newTestCam(t)
	h := start(t, cam.url("/snapshot.jpg"), 0, fast)
	waitFor(t, 5*time.Second, "3 snapshots", func() bool { return h.rec.count() >= 3 })
	if k := h.r.Kind(); k != media.SourceSnapshot {
		t.Fatalf("kind %q, want snapshot", k)
	}
	for _, f := range h.rec.all() {
		if n := frameNumber(f.JPEG); n < 0 || !bytes.Equal(f.JPEG, cam.frame(n)) {
			t.Fatalf("snapshot seq %d not passed through", f.Seq)
		}
	}
}

// Down: offline at once, seq grows on across the reconnect, running again
// soon after up.
func TestOfflineAndBack(t *testing.T) {
	cam := newTestCam(t)
	h := start(t, cam.url("/mjpeg"), 0, fast)
	waitFor(t, 5*time.Second, "frames", func() bool { return h.rec.count() >= 3 })
	cam.setMode("down")
	h.waitState(t, 2*time.Second, media.StateOffline)
	before := h.r.Status().Seq
	cam.setMode("up")
	h.waitState(t, 2*time.Second, media.StateRunning)
	waitFor(t, 2*time.Second, "frames after up", func() bool { return h.r.Status().Seq > before })
	if st := h.r.Status(); st.Restarts == 0 {
		t.Fatalf("status %+v: no restart counted", st)
	}
	prev := uint64(0)
	for _, f := range h.rec.all() {
		if f.Seq <= prev {
			t.Fatalf("seq %d after %d: seqs must grow across reconnects", f.Seq, prev)
		}
		prev = f.Seq
	}
}

// The defaults: a stalled camera is offline within 5 s, and frames flow
// within 2 s of its return.
func TestStallDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 5 s")
	}
	cam := newTestCam(t)
	h := start(t, cam.url("/mjpeg"), 0, Timings{})
	waitFor(t, 5*time.Second, "frames", func() bool { return h.rec.count() >= 3 })
	cam.setMode("stall")
	took := h.waitState(t, DefaultFrameTimeout+time.Second, media.StateOffline)
	if took < DefaultFrameTimeout-time.Second {
		t.Fatalf("offline after %s: sooner than the frame timeout", took)
	}
	if st := h.r.Status(); st.Err != "no frames for 5 s" {
		t.Fatalf("error %q", st.Err)
	}
	cam.setMode("up")
	h.waitState(t, 2*time.Second, media.StateRunning)
}

func TestCameraErrors(t *testing.T) {
	cam := newTestCam(t)
	closed := newTestCam(t)
	closedURL := closed.url("/mjpeg")
	closed.srv.Close()
	for _, tc := range []struct {
		url   string
		state media.State
		err   string
	}{
		{cam.url("/401"), media.StateError, "401 from camera"},
		{cam.url("/html"), media.StateError, "not a JPEG or MJPEG answer"},
		{cam.url("/garbage"), media.StateError, "not a JPEG or MJPEG answer"},
		{closedURL, media.StateOffline, "connection refused"},
	} {
		t.Run(tc.err, func(t *testing.T) {
			h := start(t, withPassword(tc.url), 0, fast)
			waitFor(t, 5*time.Second, tc.err, func() bool {
				st := h.r.Status()
				return st.State == tc.state && st.Err == tc.err
			})
			// it keeps trying
			waitFor(t, 5*time.Second, "retries", func() bool { return h.r.Status().Restarts >= 2 })
			h.r.Stop()
			h.mu.Lock()
			defer h.mu.Unlock()
			all := h.logs.String()
			for _, st := range h.statuses {
				all += st.Err
			}
			if strings.Contains(all, "s3cret-pw") {
				t.Fatalf("the password leaked:\n%s", all)
			}
			if !strings.Contains(h.logs.String(), "viewer:xxxxx@") {
				t.Fatalf("logs do not name the redacted source:\n%s", h.logs.String())
			}
		})
	}
}

// Unwatched: the stream is dropped and one frame is refreshed every
// Refresh; a viewer's arrival reconnects at once.
func TestUnwatchedRefreshes(t *testing.T) {
	cam := newTestCam(t)
	h := start(t, cam.url("/mjpeg"), 0, fast)
	waitFor(t, 5*time.Second, "frames", func() bool { return h.rec.count() >= 2 })
	h.rec.setWatched(false)
	conns := cam.connections()
	// Each refresh is a new connection with one frame.
	waitFor(t, 5*time.Second, "two refreshes", func() bool { return cam.connections() >= conns+2 })
	n0, c0 := h.rec.count(), cam.connections()
	waitFor(t, 5*time.Second, "next refresh", func() bool { return cam.connections() > c0 })
	if got := h.rec.count() - n0; got > 3 {
		t.Fatalf("%d frames over one refresh while unwatched, want about 1", got)
	}
	h.rec.setWatched(true)
	n1 := h.rec.count()
	took := waitFor(t, 2*time.Second, "streaming again", func() bool { return h.rec.count() >= n1+5 })
	t.Logf("5 frames %s after the viewer came back", took)
}

// A camera away long enough for the backoff to grow plays again within
// about ProbeEvery of its return: a TCP probe cuts the backoff short.
func TestReturnCutsBackoff(t *testing.T) {
	cam := newTestCam(t)
	addr := cam.srv.Listener.Addr().String()
	tm := fast
	tm.MaxBackoff, tm.ProbeEvery = 10*time.Second, 100*time.Millisecond
	h := start(t, cam.url("/mjpeg"), 0, tm)
	waitFor(t, 5*time.Second, "frames", func() bool { return h.rec.count() >= 2 })
	cam.setMode("down") // streams end; Close waits for none
	cam.srv.Close()
	h.waitState(t, 2*time.Second, media.StateOffline)
	// 50ms doubling: after 3 s away the next attempt is seconds off.
	waitFor(t, 10*time.Second, "backoff grown", func() bool { return h.r.Status().Restarts >= 7 })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	cam.setMode("up")
	back := httptest.NewUnstartedServer(cam.srv.Config.Handler)
	back.Listener.Close()
	back.Listener = ln
	back.Start()
	t.Cleanup(func() { cam.setMode("down"); back.Close() })
	took := h.waitState(t, 5*time.Second, media.StateRunning)
	if took > time.Second {
		t.Fatalf("running %s after the camera came back, want about ProbeEvery", took)
	}
	t.Logf("running %s after the camera came back", took)
}
