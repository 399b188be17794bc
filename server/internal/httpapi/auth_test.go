package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestTokenRequired(t *testing.T) {
	e := newEnvWith(t, envOptions{}, func(c *Config) { c.Token = "s3cret-token" })
	e.upload("/api/cameras/a/video?token=s3cret-token", "a.avi", synthVideo(1, 900))

	tests := []struct {
		name   string
		path   string
		header http.Header
		status int
	}{
		{"no token", "/api/cameras", nil, http.StatusUnauthorized},
		{"wrong bearer", "/api/cameras", http.Header{"Authorization": {"Bearer nope"}}, http.StatusUnauthorized},
		{"bearer", "/api/cameras", http.Header{"Authorization": {"Bearer s3cret-token"}}, http.StatusOK},
		{"cookie", "/api/cameras", http.Header{"Cookie": {tokenCookie + "=s3cret-token"}}, http.StatusOK},
		{"query for img tags", "/api/cameras/a/snapshot.jpg?token=s3cret-token", nil, http.StatusOK},
		{"mjpeg without token", "/api/cameras/a/mjpeg", nil, http.StatusUnauthorized},
		{"metrics without token", "/metrics", nil, http.StatusUnauthorized},
		{"websocket without token", "/api/ws", nil, http.StatusUnauthorized},
		{"healthz is public", "/healthz", nil, http.StatusOK},
		{"web app shell is public", "/cameras", nil, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _ := e.do(http.MethodGet, tt.path, nil, tt.header)
			if status != tt.status {
				t.Fatalf("GET %s: %d, want %d", tt.path, status, tt.status)
			}
		})
	}
	if _, _, err := e.dial(t, nil); err == nil {
		t.Fatal("websocket opened without token")
	}
	if _, _, err := e.dial(t, http.Header{"Authorization": {"Bearer s3cret-token"}}); err != nil {
		t.Fatalf("websocket with token: %v", err)
	}
}

func TestLoginSetsCookieAndThrottles(t *testing.T) {
	e := newEnvWith(t, envOptions{}, func(c *Config) { c.Token = "tok" })
	req, _ := http.NewRequest(http.MethodPost, e.url("/api/login"), strings.NewReader(`{"token":"tok"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == tokenCookie {
			cookie = c
		}
	}
	if resp.StatusCode != 200 || cookie == nil || !cookie.HttpOnly {
		t.Fatalf("login: %d cookie %+v", resp.StatusCode, cookie)
	}
	// Repeated failures are slowed down.
	for range freeFailures {
		if status, _ := e.do(http.MethodGet, "/api/cameras", nil, nil); status != http.StatusUnauthorized {
			t.Fatal(status)
		}
	}
	start := time.Now()
	if status, _ := e.do(http.MethodGet, "/api/cameras", nil, nil); status != http.StatusUnauthorized {
		t.Fatal(status)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("failure %d answered after %v, want a pause", freeFailures+1, d)
	}
}

func TestViewerCaps(t *testing.T) {
	e := newEnvWith(t, envOptions{}, func(c *Config) { c.MaxViewersPerCamera = 1; c.MaxViewers = 2 })
	e.upload("/api/cameras/a/video", "a.avi", synthVideo(1, 900))
	e.upload("/api/cameras/b/video", "b.avi", synthVideo(2, 900))
	e.upload("/api/cameras/c/video", "c.avi", synthVideo(3, 900))

	first, err := e.srv.Client().Get(e.url("/api/cameras/a/mjpeg"))
	if err != nil || first.StatusCode != http.StatusOK {
		t.Fatalf("first viewer: %v %v", err, first)
	}
	defer first.Body.Close()
	if status, _ := e.do(http.MethodGet, "/api/cameras/a/mjpeg", nil, nil); status != http.StatusServiceUnavailable {
		t.Fatalf("second MJPEG viewer of a: %d, want 503", status)
	}
	c := e.mustDial(t)
	c.hello("")
	c.send(map[string]any{"type": "subscribe", "camera": "a"})
	if m := c.message("error"); m["code"] != "over_capacity" || m["camera"] != "a" {
		t.Fatalf("ws over per-camera cap: %v", m)
	}
	c.send(map[string]any{"type": "subscribe", "camera": "b"})
	c.message("subscribed")
	c.send(map[string]any{"type": "subscribe", "camera": "c"})
	if m := c.message("error"); m["code"] != "over_capacity" {
		t.Fatalf("ws over global cap: %v", m)
	}
	// Leaving frees the slot.
	c.send(map[string]any{"type": "unsubscribe", "camera": "b"})
	c.message("unsubscribed")
	c.send(map[string]any{"type": "subscribe", "camera": "c"})
	c.message("subscribed")
}
