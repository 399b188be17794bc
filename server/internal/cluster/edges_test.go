package cluster

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/cluster/natstest"
)

func TestParsePublicURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://127.0.0.1:8001", "http://127.0.0.1:8001"},
		{"HTTPS://Edge-A.Example.com/", "https://edge-a.example.com"},
		{" http://[::1]:8001 ", "http://[::1]:8001"},
		{"http://edge/livemon", ""},
		{"ftp://edge", ""},
		{"edge:8001", ""},
		{"http://user@edge", ""},
		{"http://edge?x=1", ""},
		{"", ""},
	} {
		got, err := ParsePublicURL(tc.in)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("ParsePublicURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func startEdges(t *testing.T, c *Conn, url string) *Edges {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := StartEdges(ctx, c, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// waitList waits up to within for e's list to be want.
func waitList(t *testing.T, e *Edges, within time.Duration, want ...string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if got := e.List(); slices.Equal(got, want) {
			return time.Since(start)
		}
		select {
		case <-deadline.C:
			t.Fatalf("%s lists %v after %v, want %v", e.Self(), e.List(), within, want)
		case <-tick.C:
		}
	}
}

// Edges list each other; a stopped edge leaves the others' lists at once,
// a dead one (its NATS connection gone, no goodbye) after EdgeStale.
func TestEdgeList(t *testing.T) {
	srv := natstest.Single(t)
	urls := srv.URLs()
	const a, b, c = "http://127.0.0.1:8001", "http://127.0.0.1:8002", "http://127.0.0.1:8003"
	ea := startEdges(t, connect(t, urls, "edge-a"), a)
	eb := startEdges(t, connect(t, urls, "edge-b"), b)
	connC := connect(t, urls, "edge-c")
	ec := startEdges(t, connC, c)
	for _, e := range []*Edges{ea, eb, ec} {
		waitList(t, e, 5*time.Second, a, b, c)
	}
	if !ea.Allows(b) || ea.Allows("http://127.0.0.1:9") {
		t.Fatalf("Allows: %v, %v", ea.Allows(b), ea.Allows("http://127.0.0.1:9"))
	}

	// Edge B stops: it says goodbye.
	eb.Close()
	if took := waitList(t, ea, 2*time.Second, a, c); took >= EdgeStale {
		t.Fatalf("a stopped edge left the list after %v, not at once", took)
	}
	// Edge C dies: its entry is no longer renewed.
	connC.Close()
	if took := waitList(t, ea, EdgeStale+3*time.Second, a); took < EdgeStale-EdgeRenew {
		t.Fatalf("a dead edge left the list after %v, before it went stale", took)
	}
	// B comes back.
	eb2 := startEdges(t, connect(t, urls, "edge-b2"), b)
	waitList(t, ea, 5*time.Second, a, b)
	waitList(t, eb2, 5*time.Second, a, b)
}
