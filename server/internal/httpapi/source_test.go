package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/fakecam"
	"github.com/livemon/livemon/server/internal/synth"
)

const camPassword = "s3cret-pw"

// fakeCamera serves a fakecam that wants admin:s3cret-pw and returns its
// base URL with those credentials.
func fakeCamera(t *testing.T) (*fakecam.Camera, string) {
	t.Helper()
	cam := fakecam.New(fakecam.Config{FPS: 20, Width: 96, Height: 64, VideoID: 9, User: "admin", Password: camPassword})
	srv := httptest.NewServer(cam.Handler())
	t.Cleanup(srv.Close)
	return cam, strings.Replace(srv.URL, "http://", "http://admin:"+camPassword+"@", 1)
}

// noPassword fails if the password is in data.
func noPassword(t *testing.T, what string, data []byte) {
	t.Helper()
	if bytes.Contains(data, []byte(camPassword)) {
		t.Fatalf("%s shows the camera's password: %s", what, data)
	}
}

func sourceOf(body map[string]any) map[string]any {
	s, _ := body["source"].(map[string]any)
	return s
}

func TestLiveCameraAPI(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, base := fakeCamera(t)

	status, body := e.json(http.MethodPost, "/api/cameras", map[string]any{
		"name": "Door", "source": map[string]any{"url": base + "/mjpeg"},
	})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, body)
	}
	src := sourceOf(body)
	wantURL := strings.Replace(base, camPassword, "xxxxx", 1) + "/mjpeg"
	if src["url"] != wantURL || (src["kind"] != "http" && src["kind"] != "mjpeg") {
		t.Fatalf("created source %v, want url %s", src, wantURL)
	}
	epoch := body["epoch"].(float64)
	waitFor(t, "running mjpeg", 5*time.Second, func() bool {
		_, b := e.json(http.MethodGet, "/api/cameras/door", nil)
		return b["state"] == "running" && sourceOf(b)["kind"] == "mjpeg"
	})
	// The camera's own frames (its marker), passed through.
	status, jpg := e.do(http.MethodGet, "/api/cameras/door/snapshot.jpg", nil, nil)
	if video, _, ok := synth.ReadMarker(jpg); status != http.StatusOK || !ok || video != 9 {
		t.Fatalf("snapshot: %d, marker video %d ok %v", status, video, ok)
	}

	status, body = e.json(http.MethodPatch, "/api/cameras/door", map[string]any{
		"source": map[string]any{"url": base + "/snapshot.jpg"},
	})
	if status != http.StatusOK || body["epoch"].(float64) != epoch+1 {
		t.Fatalf("patch source: %d %v, want epoch %v", status, body, epoch+1)
	}
	waitFor(t, "running snapshot", 5*time.Second, func() bool {
		_, b := e.json(http.MethodGet, "/api/cameras/door", nil)
		return b["state"] == "running" && sourceOf(b)["kind"] == "snapshot"
	})

	// A wrong password: the plain reason, the server stays up.
	wrong := strings.Replace(base, camPassword, "nope", 1)
	status, _ = e.json(http.MethodPost, "/api/cameras", map[string]any{"id": "bad", "source": map[string]any{"url": wrong + "/mjpeg"}})
	if status != http.StatusCreated {
		t.Fatalf("create bad: %d", status)
	}
	waitFor(t, "401 shown", 5*time.Second, func() bool {
		_, b := e.json(http.MethodGet, "/api/cameras/bad", nil)
		return b["state"] == "error" && b["error"] == "401 from camera"
	})
	if status, _ := e.do(http.MethodGet, "/healthz", nil, nil); status != http.StatusOK {
		t.Fatalf("healthz %d", status)
	}

	for _, path := range []string{"/api/cameras", "/api/cameras/door", "/api/stats", "/metrics"} {
		_, data := e.do(http.MethodGet, path, nil, nil)
		noPassword(t, path, data)
	}
}

func TestSourceRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct{ url, want string }{
		{"rtsp://admin:" + camPassword + "@/stream", "no host"},
		{"rtsps://127.0.0.1/stream\", \"transport\": \"quic", "tcp or udp"},
		{"http://127.0.0.1/mjpeg\", \"transport\": \"udp", "rtsp:// and rtsps:// sources only"},
		{"file:///etc/passwd", "not accepted"},
		{"gopher://127.0.0.1/", "not accepted"},
		{"http://", "no host"},
		{"127.0.0.1/mjpeg", "needs a scheme"},
		{"http://127.0.0.1/" + strings.Repeat("a", 3000), "longer than"},
	} {
		status, data := e.do(http.MethodPost, "/api/cameras",
			strings.NewReader(`{"id":"x","source":{"url":"`+tc.url+`"}}`), nil)
		if status != http.StatusBadRequest || !strings.Contains(string(data), tc.want) || !strings.Contains(string(data), "invalid_argument") {
			t.Errorf("%.40s: %d %s, want 400 with %q", tc.url, status, data, tc.want)
		}
		noPassword(t, "refusal", data)
	}
	// PATCH validates the same way and changes nothing.
	if status, _ := e.json(http.MethodPost, "/api/cameras", map[string]any{"id": "y"}); status != http.StatusCreated {
		t.Fatal(status)
	}
	status, _ := e.json(http.MethodPatch, "/api/cameras/y", map[string]any{"source": map[string]any{"url": "ftp://h/x"}})
	if status != http.StatusBadRequest {
		t.Fatalf("patch ftp: %d", status)
	}
	if _, b := e.json(http.MethodGet, "/api/cameras/y", nil); sourceOf(b)["kind"] != "file" || b["state"] != "stopped" {
		t.Fatalf("after refused patch: %v", b)
	}
}

// A returning viewer of an unwatched live camera gets the frame the camera
// kept at once, even when the camera is unreachable by then (an unwatched
// file camera's kept frame is skipped instead: its timeline ran on).
func TestLiveKeptFrameReachesNewViewer(t *testing.T) {
	e := newEnv(t, envOptions{})
	cam, base := fakeCamera(t)
	if status, body := e.json(http.MethodPost, "/api/cameras", map[string]any{
		"id": "door", "source": map[string]any{"url": base + "/mjpeg"},
	}); status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, body)
	}
	waitFor(t, "a kept frame", 5*time.Second, func() bool {
		status, _ := e.do(http.MethodGet, "/api/cameras/door/snapshot.jpg", nil, nil)
		return status == http.StatusOK
	})
	waitFor(t, "unwatched", 5*time.Second, func() bool { return !e.hub.Watched("door") })
	cam.SetMode(fakecam.ModeDown)

	c := e.mustDial(t)
	c.hello("")
	c.send(map[string]any{"type": "subscribe", "camera": "door"})
	if f := c.frame(); f.video != 9 {
		t.Fatalf("frame of video %d, want the camera's own (9)", f.video)
	}
}
