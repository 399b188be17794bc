package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeEdges is a settable edge list.
type fakeEdges struct {
	mu   sync.Mutex
	list []string
}

func (f *fakeEdges) set(l ...string) { f.mu.Lock(); defer f.mu.Unlock(); f.list = l }
func (f *fakeEdges) List() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.list)
}
func (f *fakeEdges) Allows(o string) bool { return slices.Contains(f.List(), o) }

func getEdges(t *testing.T, e *env) (edgeList, http.Header) {
	t.Helper()
	resp, data := e.send(t, http.MethodGet, "/api/edges", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/edges: %d %s", resp.StatusCode, data)
	}
	var l edgeList
	if err := json.Unmarshal(data, &l); err != nil || l.Edges == nil {
		t.Fatalf("GET /api/edges: %s (%v)", data, err)
	}
	return l, resp.Header
}

// A single node lists no edges, keeps its CSP and takes no other origin.
func TestEdgesSingleNode(t *testing.T) {
	e := newEnv(t, envOptions{})
	l, h := getEdges(t, e)
	if len(l.Edges) != 0 || h.Get("Content-Security-Policy") != contentSecurityPolicy {
		t.Fatalf("single node: edges %v, CSP %q", l.Edges, h.Get("Content-Security-Policy"))
	}
	if _, resp, err := e.dial(t, http.Header{"Origin": {"http://127.0.0.1:1"}, "Sec-Fetch-Site": {"same-site"}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("WebSocket from another origin: %v %v, want 403", err, resp)
	}
}

// An edge lists the live edges, lets their pages connect (CSP) and open
// WebSockets and write (origin check), and refuses them once the list
// does not allow them.
func TestEdgesCluster(t *testing.T) {
	edges := &fakeEdges{}
	e := newEnv(t, envOptions{edges: edges})
	self := e.srv.URL
	const other = "http://127.0.0.1:1"
	edges.set(other, self, "https://edge-c.example")
	l, h := getEdges(t, e)
	if !slices.Equal(l.Edges, []string{other, self, "https://edge-c.example"}) {
		t.Fatalf("edges %v", l.Edges)
	}
	csp := h.Get("Content-Security-Policy")
	wantSrc := "connect-src 'self' " + other + " ws://127.0.0.1:1 " + self + " ws" + strings.TrimPrefix(self, "http") + " https://edge-c.example wss://edge-c.example"
	if !strings.HasPrefix(csp, contentSecurityPolicy) || !strings.HasSuffix(csp, "; "+wantSrc) {
		t.Fatalf("CSP %q, want the default and %q", csp, wantSrc)
	}

	fromOther := http.Header{"Origin": {other}, "Sec-Fetch-Site": {"same-site"}}
	c, _, err := e.dial(t, fromOther)
	if err != nil {
		t.Fatalf("WebSocket from a live edge's page: %v", err)
	}
	c.hello("")
	if resp, data := e.send(t, http.MethodPost, "/api/cameras", `{"id":"fromedge","name":"x"}`, fromOther); resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST from a live edge's page: %d %s", resp.StatusCode, data)
	}

	edges.set(self) // the list no longer allows the other edge
	if _, resp, err := e.dial(t, fromOther); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("WebSocket from an origin no longer allowed: %v %v, want 403", err, resp)
	}
	if resp, _ := e.send(t, http.MethodPost, "/api/cameras", `{"id":"fromgone","name":"x"}`, fromOther); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST from an origin no longer allowed: %d, want 403", resp.StatusCode)
	}
}
