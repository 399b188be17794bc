package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// Issue 18 item 5: one connection subscribes to at most MaxSubscriptions
// cameras; the next subscribe is answered on the socket with an error of
// code subscription_limit, and the connection keeps working.
func TestWebSocketSubscriptionCap(t *testing.T) {
	e := newEnvWith(t, envOptions{}, func(c *Config) { c.MaxSubscriptions = 2 })
	for _, cam := range []string{"a", "b", "c"} {
		e.json(http.MethodPost, "/api/cameras", map[string]any{"id": cam, "name": cam})
	}
	c := e.mustDial(t)
	c.hello("")
	for _, cam := range []string{"a", "b"} {
		c.send(map[string]any{"type": "subscribe", "camera": cam})
		if m := c.message("subscribed"); m["camera"] != cam {
			t.Fatalf("subscribed %v", m)
		}
	}
	c.send(map[string]any{"type": "subscribe", "camera": "c"})
	m := c.message("error")
	if m["code"] != "subscription_limit" || m["camera"] != "c" || m["message"] == "" {
		t.Fatalf("third subscribe: %v", m)
	}
	if n := viewers(e, "c"); n != 0 {
		t.Fatalf("camera c has %d viewers", n)
	}
	c.send(map[string]any{"type": "unsubscribe", "camera": "a"})
	c.message("unsubscribed")
	c.send(map[string]any{"type": "subscribe", "camera": "c"})
	if m := c.message("subscribed"); m["camera"] != "c" {
		t.Fatalf("after unsubscribing: %v", m)
	}
	// Another connection has its own allowance.
	d := e.mustDial(t)
	d.hello("")
	d.send(map[string]any{"type": "subscribe", "camera": "a"})
	d.message("subscribed")
}

// Issue 18 item 5: stats come as one message per second per connection,
// covering every subscribed camera (it was one per camera per second).
func TestWebSocketStatsBatched(t *testing.T) {
	e := newEnv(t, envOptions{})
	cams := []string{"s1", "s2", "s3", "s4"}
	for _, cam := range cams {
		e.json(http.MethodPost, "/api/cameras", map[string]any{"id": cam, "name": cam})
	}
	c := e.mustDial(t)
	c.hello("")
	for _, cam := range cams {
		c.send(map[string]any{"type": "subscribe", "camera": cam})
		c.message("subscribed")
	}
	start := time.Now()
	var stats []map[string]any
	for time.Since(start) < 2500*time.Millisecond {
		m, _, err := c.next(3 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if m != nil && m["type"] == "stats" {
			stats = append(stats, m)
		}
	}
	if len(stats) < 1 || len(stats) > 3 {
		t.Fatalf("%d stats messages in 2.5 s, want 2 or so", len(stats))
	}
	for _, m := range stats {
		list, _ := m["cameras"].([]any)
		if len(list) != len(cams) {
			t.Fatalf("stats for %d cameras, want %d: %v", len(list), len(cams), m)
		}
		for i, x := range list {
			s, _ := x.(map[string]any)
			if s["camera"] != cams[i] || s["state"] != "stopped" {
				t.Fatalf("entry %d: %v", i, s)
			}
			for _, k := range []string{"fps", "viewers", "drops", "position"} {
				if _, ok := s[k].(float64); !ok {
					t.Fatalf("entry %d has no %s: %v", i, k, s)
				}
			}
		}
	}
}

// Issue 18 item 5: a camera that cannot get a decoder slot shows why, to
// WebSocket viewers (an event with error_code decoder_limit), in the HTTP
// API and in a snapshot (503 decoder_limit at once), and plays as soon as
// a slot frees.
func TestDecoderLimitIsVisible(t *testing.T) {
	e := newEnv(t, envOptions{maxDecoders: 1})
	e.upload("/api/cameras/a/video", "a.avi", synthVideo(1, 900))
	waitFor(t, "a running", 3*time.Second, func() bool {
		_, cam := e.json(http.MethodGet, "/api/cameras/a", nil)
		return cam["state"] == "running"
	})
	c := e.mustDial(t)
	c.hello("")
	// a opens its video (and takes the one slot) only once watched: wait
	// for its frames before b competes for the slot.
	c.send(map[string]any{"type": "subscribe", "camera": "a"})
	chA := uint32(c.message("subscribed")["channel"].(float64))
	waitFor(t, "a frame of a", 3*time.Second, func() bool { return c.frame().channel == chA })
	e.json(http.MethodPost, "/api/cameras", map[string]any{"id": "b", "name": "b"})
	c.send(map[string]any{"type": "subscribe", "camera": "b"})
	c.message("subscribed")
	e.upload("/api/cameras/b/video", "b.avi", synthVideo(2, 900))
	var ev map[string]any
	waitFor(t, "b's decoder_limit event", 3*time.Second, func() bool {
		m := c.message("event")
		st, _ := m["camera_state"].(map[string]any)
		if m["camera"] == "b" && st["error_code"] == "decoder_limit" {
			ev = st
			return true
		}
		return false
	})
	if ev["state"] != "error" || !strings.Contains(ev["error"].(string), "decoder") {
		t.Fatalf("b: %v", ev)
	}
	if _, cam := e.json(http.MethodGet, "/api/cameras/b", nil); cam["error_code"] != "decoder_limit" {
		t.Fatalf("HTTP camera b: %v", cam)
	}
	start := time.Now()
	if status, body := e.json(http.MethodGet, "/api/cameras/b/snapshot.jpg", nil); status != http.StatusServiceUnavailable || errCode(body) != "decoder_limit" || time.Since(start) > time.Second {
		t.Fatalf("snapshot of b: %d %v after %v", status, body, time.Since(start))
	}
	// The operator stops a: b gets the slot at once and its frames come.
	e.json(http.MethodPost, "/api/cameras/a/stop", nil)
	waitFor(t, "b running", 3*time.Second, func() bool {
		m := c.message("event")
		st, _ := m["camera_state"].(map[string]any)
		return m["camera"] == "b" && st["state"] == "running" && st["error_code"] == ""
	})
	_, cam := e.json(http.MethodGet, "/api/cameras/b", nil)
	ch := uint32(cam["channel"].(float64))
	waitFor(t, "a frame of b", 3*time.Second, func() bool { return c.frame().channel == ch })
}
