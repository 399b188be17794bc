package live

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// testCam is a small camera for these tests: /mjpeg streams numbered
// JPEGs (the number in a COM segment), /snapshot.jpg serves the current
// one. Modes: up, down (streams end, requests get 503), stall (streams and
// new requests stay open and get nothing until up).
type testCam struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	mode    string
	n       int
	sent    map[int][]byte // every JPEG served, by number
	conns   int            // requests answered
	auth    string         // last Authorization header
	changed chan struct{}  // closed and replaced on every mode change
}

func newTestCam(t *testing.T) *testCam {
	c := &testCam{t: t, mode: "up", sent: map[int][]byte{}, changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/mjpeg", c.mjpeg)
	mux.HandleFunc("/snapshot.jpg", c.snapshot)
	mux.HandleFunc("/401", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusUnauthorized) })
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html>login</html>")
	})
	mux.HandleFunc("/garbage", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=x")
		w.Write(bytes.Repeat([]byte("garbage "), 1000))
	})
	c.srv = httptest.NewServer(mux)
	t.Cleanup(c.srv.Close)
	t.Cleanup(func() { c.setMode("up") }) // release stalled handlers
	return c
}

func (c *testCam) url(path string) string { return c.srv.URL + path }

func (c *testCam) setMode(m string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mode != m {
		c.mode = m
		close(c.changed)
		c.changed = make(chan struct{})
	}
}

func (c *testCam) state() (string, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mode, c.changed
}

func (c *testCam) connections() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conns
}

func (c *testCam) frame(n int) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent[n]
}

// next makes and records JPEG number n.
func (c *testCam) next() (int, []byte) {
	img := image.NewGray(image.Rect(0, 0, 32, 24))
	c.mu.Lock()
	c.n++
	n := c.n
	c.mu.Unlock()
	for i := range img.Pix {
		img.Pix[i] = uint8(n * 7)
	}
	img.Set(0, 0, color.Gray{Y: 255})
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		panic(err)
	}
	com := []byte("frame " + strconv.Itoa(n))
	out := append([]byte{0xFF, 0xD8, 0xFF, 0xFE, 0, byte(len(com) + 2)}, com...)
	out = append(out, b.Bytes()[2:]...)
	c.mu.Lock()
	c.sent[n] = out
	c.mu.Unlock()
	return n, out
}

// frameNumber reads the number a testCam JPEG carries, or -1.
func frameNumber(j []byte) int {
	if len(j) < 6 || j[2] != 0xFF || j[3] != 0xFE {
		return -1
	}
	var n int
	if _, err := fmt.Sscanf(string(j[6:4+int(j[5])]), "frame %d", &n); err != nil {
		return -1
	}
	return n
}

// admit counts the request and answers it as the mode says; false when
// the handler should return.
func (c *testCam) admit(w http.ResponseWriter, r *http.Request) bool {
	c.mu.Lock()
	c.conns++
	c.auth = r.Header.Get("Authorization")
	c.mu.Unlock()
	for {
		mode, changed := c.state()
		switch mode {
		case "down":
			http.Error(w, "down", http.StatusServiceUnavailable)
			return false
		case "stall":
			select {
			case <-changed:
				continue
			case <-r.Context().Done():
				return false
			}
		}
		return true
	}
}

func (c *testCam) mjpeg(w http.ResponseWriter, r *http.Request) {
	if !c.admit(w, r) {
		return
	}
	w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=frame")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
		mode, changed := c.state()
		switch mode {
		case "down":
			return
		case "stall":
			select {
			case <-changed:
			case <-r.Context().Done():
				return
			}
			continue
		}
		_, j := c.next()
		fmt.Fprintf(w, "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", len(j))
		w.Write(j)
		w.Write([]byte("\r\n"))
		if rc.Flush() != nil {
			return
		}
	}
}

func (c *testCam) snapshot(w http.ResponseWriter, r *http.Request) {
	if !c.admit(w, r) {
		return
	}
	_, j := c.next()
	w.Header().Set("Content-Type", "image/jpeg")
	w.Write(j)
}

// recorder is a Publisher and a Watcher.
type recorder struct {
	mu      sync.Mutex
	frames  []*media.Frame
	watched bool
	wake    chan struct{}
	got     chan struct{} // capacity 1: a frame arrived
	states  []string      // every status change, "state: err"
}

func newRecorder() *recorder {
	return &recorder{watched: true, wake: make(chan struct{}, 1), got: make(chan struct{}, 1)}
}

func (p *recorder) Publish(f *media.Frame) {
	p.mu.Lock()
	p.frames = append(p.frames, f)
	p.mu.Unlock()
	select {
	case p.got <- struct{}{}:
	default:
	}
}

func (p *recorder) Watched(media.CameraID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.watched
}

func (p *recorder) Wake(media.CameraID) <-chan struct{} { return p.wake }

func (p *recorder) setWatched(w bool) {
	p.mu.Lock()
	p.watched = w
	p.mu.Unlock()
	if w {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

func (p *recorder) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.frames)
}

func (p *recorder) all() []*media.Frame {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*media.Frame(nil), p.frames...)
}

// waitFor polls cond every 10ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("%s: not within %s", what, d)
		}
	}
	return time.Since(start)
}
