package fakecam

import (
	"bytes"
	"errors"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/livemon/livemon/server/internal/marker"
	"github.com/livemon/livemon/server/internal/mjpeg"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wait = 3 * time.Second

func newServer(t *testing.T, cfg Config) (*Camera, *httptest.Server) {
	t.Helper()
	cam := New(cfg)
	srv := httptest.NewServer(cam.Handler())
	t.Cleanup(srv.Close)
	return cam, srv
}

// frameOf decodes a JPEG and reads its marker.
func frameOf(t *testing.T, j []byte) (video, frame int) {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(j))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	video, frame, ok := marker.Read(img)
	if !ok {
		t.Fatal("frame carries no marker")
	}
	return video, frame
}

type result struct {
	jpeg []byte
	err  error
}

// stream is an open GET /mjpeg read by mjpeg.Reader on a goroutine the
// test owns: closing the body ends it, and cleanup waits for it.
type stream struct {
	status int
	frames chan result
}

func openStream(t *testing.T, url string) *stream {
	t.Helper()
	resp, err := http.Get(url + "/mjpeg")
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{status: resp.StatusCode, frames: make(chan result)}
	done := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(done)
		r := mjpeg.NewReader(resp.Body, resp.Header.Get("Content-Type"))
		for {
			j, err := r.Next()
			select {
			case s.frames <- result{j, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		resp.Body.Close()
		<-done
	})
	return s
}

func (s *stream) next(t *testing.T) result {
	t.Helper()
	select {
	case r := <-s.frames:
		return r
	case <-time.After(wait):
		t.Fatal("no frame or error within", wait)
		return result{}
	}
}

func (s *stream) frame(t *testing.T) []byte {
	t.Helper()
	r := s.next(t)
	if r.err != nil {
		t.Fatalf("stream: %v", r.err)
	}
	return r.jpeg
}

func TestStreamFramesCountUp(t *testing.T) {
	for _, avi1 := range []bool{false, true} {
		t.Run("avi1="+strconv.FormatBool(avi1), func(t *testing.T) {
			cam, srv := newServer(t, Config{FPS: 50, Width: 320, Height: 180, VideoID: 9, AVI1: avi1})
			s := openStream(t, srv.URL)
			last := -1
			for range 5 {
				video, frame := frameOf(t, s.frame(t))
				if video != 9 || frame <= last {
					t.Fatalf("frame (video %d, index %d) after index %d", video, frame, last)
				}
				last = frame
			}
			_, raw, err := cam.Frame()
			if err != nil {
				t.Fatal(err)
			}
			hasDHT := bytes.Contains(raw, []byte{0xFF, 0xC4})
			if hasDHT == avi1 {
				t.Errorf("avi1=%v but the frame sent has DHT: %v", avi1, hasDHT)
			}
			if w, h, err := mjpeg.Size(raw); err != nil || w != 320 || h != 180 {
				t.Errorf("Size = %d x %d, %v", w, h, err)
			}
		})
	}
}

func TestSnapshot(t *testing.T) {
	_, srv := newServer(t, Config{FPS: 20})
	resp, err := http.Get(srv.URL + "/snapshot.jpg")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("snapshot: %d %q %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	video, frame := frameOf(t, body)
	if video != DefaultVideoID || strconv.Itoa(frame) != resp.Header.Get("X-Frame-Index") {
		t.Errorf("snapshot shows video %d frame %d, header says %s", video, frame, resp.Header.Get("X-Frame-Index"))
	}
}

func control(t *testing.T, url, mode string) int {
	t.Helper()
	resp, err := http.Post(url+"/control?mode="+mode, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestDownAndUp(t *testing.T) {
	cam, srv := newServer(t, Config{FPS: 50, Width: 160, Height: 90})
	s := openStream(t, srv.URL)
	_, before := frameOf(t, s.frame(t))

	if code := control(t, srv.URL, "down"); code != http.StatusOK {
		t.Fatalf("control down: %d", code)
	}
	// The open stream is cut, not ended cleanly.
	for range 10 {
		r := s.next(t)
		if r.err == nil {
			continue // a frame already on its way
		}
		if !errors.Is(r.err, io.ErrUnexpectedEOF) && !strings.Contains(r.err.Error(), "unexpected EOF") {
			t.Fatalf("stream ended with %v, want a cut connection", r.err)
		}
		break
	}
	if cam.Mode() != ModeDown {
		t.Fatalf("mode %s", cam.Mode())
	}
	for _, path := range []string{"/mjpeg", "/snapshot.jpg"} {
		if code := get(t, srv.URL+path); code != http.StatusServiceUnavailable {
			t.Errorf("GET %s while down: %d, want 503", path, code)
		}
	}

	control(t, srv.URL, "up")
	again := openStream(t, srv.URL)
	if again.status != http.StatusOK {
		t.Fatalf("GET /mjpeg after up: %d", again.status)
	}
	_, after := frameOf(t, again.frame(t))
	_, next := frameOf(t, again.frame(t))
	if after < before || next <= after {
		t.Errorf("frame indexes %d, %d after coming back, %d before", after, next, before)
	}
}

func TestStall(t *testing.T) {
	_, srv := newServer(t, Config{FPS: 50, Width: 160, Height: 90})
	s := openStream(t, srv.URL)
	s.frame(t)
	control(t, srv.URL, "stall")
	// Drain a frame that may have been on its way, then expect silence
	// for ten frame intervals.
	select {
	case <-s.frames:
	case <-time.After(100 * time.Millisecond):
	}
	select {
	case r := <-s.frames:
		t.Fatalf("stalled camera sent %d bytes, err %v", len(r.jpeg), r.err)
	case <-time.After(200 * time.Millisecond):
	}
	control(t, srv.URL, "up")
	s.frame(t)
}

func TestControlRefusesBadMode(t *testing.T) {
	cam, srv := newServer(t, Config{})
	if code := control(t, srv.URL, "sideways"); code != http.StatusBadRequest {
		t.Errorf("mode sideways: %d, want 400", code)
	}
	if code := get(t, srv.URL+"/control?mode=down"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /control: %d, want 405", code)
	}
	if cam.Mode() != ModeUp {
		t.Errorf("mode %s, want up", cam.Mode())
	}
}

// BenchmarkFrame720p: the cost of one new frame (draw, marker, encode).
func BenchmarkFrame720p(b *testing.B) {
	cam := New(Config{Width: 1280, Height: 720})
	i := 0
	for b.Loop() {
		i++
		if _, _, err := cam.frameAt(i); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBasicAuth(t *testing.T) {
	_, srv := newServer(t, Config{FPS: 20, Width: 160, Height: 90, User: "admin", Password: "s3cret"})
	for _, tt := range []struct {
		name, user, password string
		want                 int
	}{
		{"no credentials", "", "", http.StatusUnauthorized},
		{"wrong password", "admin", "guess", http.StatusUnauthorized},
		{"wrong user", "root", "s3cret", http.StatusUnauthorized},
		{"right", "admin", "s3cret", http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/snapshot.jpg", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.password)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
	// The stream is guarded too; /control is not.
	if code := get(t, srv.URL+"/mjpeg"); code != http.StatusUnauthorized {
		t.Errorf("GET /mjpeg without credentials: %d", code)
	}
	if code := control(t, srv.URL, "up"); code != http.StatusOK {
		t.Errorf("POST /control: %d", code)
	}
}

// With Loop, frame i shows picture i mod Loop, encoded once.
func TestLoop(t *testing.T) {
	c := New(Config{Width: 64, Height: 48, Loop: 3, VideoID: 8})
	var first [3][]byte
	for i := range 7 {
		n, b, err := c.frameAt(i)
		if err != nil || n != i {
			t.Fatalf("frame %d: index %d, %v", i, n, err)
		}
		if v, k := frameOf(t, b); v != 8 || k != i%3 {
			t.Fatalf("frame %d shows %d/%d, want picture %d", i, v, k, i%3)
		}
		if i < 3 {
			first[i] = b
		} else if &b[0] != &first[i%3][0] {
			t.Fatalf("frame %d encoded again", i)
		}
	}
}
