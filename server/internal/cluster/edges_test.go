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
// a dead one (its NATS connection gone, no goodbye) after EdgeStale. Both
// stay known: pages loaded from them are still accepted, also by an edge
// that started after they went away.
func TestEdgeList(t *testing.T) {
	srv := natstest.Single(t)
	urls := srv.URLs()
	const a, b, c, d = "http://127.0.0.1:8001", "http://127.0.0.1:8002", "http://127.0.0.1:8003", "http://127.0.0.1:8004"
	ea := startEdges(t, connect(t, urls, "edge-a"), a)
	eb := startEdges(t, connect(t, urls, "edge-b"), b)
	connC := connect(t, urls, "edge-c")
	ec := startEdges(t, connC, c)
	for _, e := range []*Edges{ea, eb, ec} {
		waitList(t, e, 5*time.Second, a, b, c)
	}
	if !ea.Allows(b) || !ea.Allows(a) || ea.Allows(d) {
		t.Fatalf("Allows: %v %v %v", ea.Allows(b), ea.Allows(a), ea.Allows(d))
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
	if !ea.Allows(b) || !ea.Allows(c) {
		t.Fatalf("edges that went away are no longer allowed: b %v, c %v", ea.Allows(b), ea.Allows(c))
	}
	// A new edge knows them without listing them; B comes back.
	ed := startEdges(t, connect(t, urls, "edge-d"), d)
	waitList(t, ed, 5*time.Second, a, d)
	if !ed.Allows(b) || !ed.Allows(c) {
		t.Fatalf("a new edge does not know the edges that went away: b %v, c %v", ed.Allows(b), ed.Allows(c))
	}
	eb2 := startEdges(t, connect(t, urls, "edge-b2"), b)
	waitList(t, ea, 5*time.Second, a, b, d)
	waitList(t, eb2, 5*time.Second, a, b, d)
}
