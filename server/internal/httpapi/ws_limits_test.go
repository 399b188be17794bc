package httpapi

import (
	"net/http"
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
