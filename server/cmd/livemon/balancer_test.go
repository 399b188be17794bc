package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/cluster/natstest"
	"github.com/livemon/livemon/server/internal/opencv"
)

func TestPublicURLFlag(t *testing.T) {
	env := func(string) string { return "" }
	nats := []string{"--role", "edge", "--nats", "127.0.0.1:4222"}
	for _, tc := range []struct {
		args []string
		want string // PublicURL, or the error's text after "!"
	}{
		{append(slices.Clone(nats), "--addr", "127.0.0.1:8001"), "http://127.0.0.1:8001"},
		{append(slices.Clone(nats), "--addr", "localhost:8001", "--public-url", "HTTPS://Cams.Example.com/"), "https://cams.example.com"},
		{append(slices.Clone(nats), "--addr", ":8001", "--insecure"), ""}, // every interface: not in the edge list
		{append(slices.Clone(nats), "--public-url", "http://edge/x"), "!--public-url: public URL"},
		{[]string{"--public-url", "http://127.0.0.1:8001"}, "!--public-url is only for --role edge"},
	} {
		c, err := parseConfig(tc.args, env, io.Discard)
		if msg, isErr := strings.CutPrefix(tc.want, "!"); isErr {
			if err == nil || !strings.Contains(err.Error(), msg) {
				t.Errorf("%q: err = %v, want %q", tc.args, err, msg)
			}
			continue
		}
		if err != nil || c.PublicURL != tc.want {
			t.Errorf("%q: PublicURL %q, err %v; want %q", tc.args, c.PublicURL, err, tc.want)
		}
	}
	c, err := parseConfig(append(slices.Clone(nats), "--public-url", "http://cams.example.com:8080"), env, io.Discard)
	if err != nil || !slices.Contains(c.AllowedHosts, "cams.example.com") {
		t.Fatalf("the public URL's host is not an allowed host: %v, %v", c.AllowedHosts, err)
	}
}

// failoverProxy is the simplest load balancer in front of edges: every
// request goes to the backend that answered last, and to the next one
// when that one does not accept the connection. No sticky sessions:
// sessions live in the cluster.
type failoverProxy struct {
	backends []*url.URL
	mu       sync.Mutex
	current  int
}

// wroteWriter tells whether anything was written, so a request is
// retried on the next backend only when nothing reached the client.
type wroteWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *wroteWriter) WriteHeader(code int) { w.wrote = true; w.ResponseWriter.WriteHeader(code) }
func (w *wroteWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}
func (w *wroteWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (p *failoverProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	start := p.current
	p.mu.Unlock()
	for i := range p.backends {
		b := (start + i) % len(p.backends)
		failed := false
		ww := &wroteWriter{ResponseWriter: w}
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(p.backends[b])
				pr.Out.Host = pr.In.Host // as nginx's proxy_set_header Host $host
			},
			ErrorHandler: func(http.ResponseWriter, *http.Request, error) { failed = true },
			// A WebSocket is proxied for its whole life: the backend that
			// took it is known when its upgrade answer goes out.
			ModifyResponse: func(*http.Response) error {
				p.mu.Lock()
				p.current = b
				p.mu.Unlock()
				return nil
			},
		}
		rp.ServeHTTP(ww, r)
		if !failed || ww.wrote {
			return
		}
	}
	http.Error(w, "no edge answers", http.StatusBadGateway)
}

// using is the backend that answered last.
func (p *failoverProxy) using() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.current
}

// Issue 16 with a load balancer: a WebSocket viewer through a reverse
// proxy in front of edges A and B resumes the same session, subscriptions
// and video position through the same URL after the edge it used stops.
// The edges also list each other (GET /api/edges).
func TestClusterBalancerFailover(t *testing.T) {
	nats := natstest.Single(t)
	natsURL := nats.URL()
	ingest := startWithin(t, time.Minute, freeAddr(t), t.TempDir(), "--role", "ingest", "--nats", natsURL)
	defer ingest.stop(t)
	addrs := []string{freeAddr(t), freeAddr(t)}
	edges := make([]*server, 2)
	proxy := &failoverProxy{}
	for i, addr := range addrs {
		edges[i] = start(t, addr, t.TempDir(), "--role", "edge", "--nats", natsURL)
		proxy.backends = append(proxy.backends, &url.URL{Scheme: "http", Host: addr})
	}
	halted := make([]bool, 2)
	defer func() {
		for i, e := range edges {
			if !halted[i] {
				e.halt(t)
			}
		}
	}()
	want := []string{"http://" + addrs[0], "http://" + addrs[1]}
	slices.Sort(want)
	waitEdgeList(t, addrs[0], want)

	lb := httptest.NewServer(proxy)
	defer lb.Close()
	lbAddr := strings.TrimPrefix(lb.URL, "http://")
	path := filepath.Join(t.TempDir(), "clip.avi")
	if err := opencv.WriteVideo(path, opencv.VideoSpec{VideoID: 5, Frames: demoFrames, Width: 320, Height: 180, FPS: 30}); err != nil {
		t.Fatal(err)
	}
	if code := postVideo(t, lb.URL+"/api/cameras/demo/video", path); code != http.StatusCreated {
		t.Fatalf("upload through the balancer: %d\ningest:\n%s", code, ingest.logs)
	}
	waitRunning(t, lbAddr, "demo")

	ws, w := hello(t, lbAddr, "")
	if err := ws.WriteJSON(map[string]any{"type": "subscribe", "camera": "demo", "rendition": "grid"}); err != nil {
		t.Fatal(err)
	}
	first := readWSFrame(t, ws)
	last := first
	for until := time.Now().Add(2500 * time.Millisecond); time.Now().Before(until); {
		last = readWSFrame(t, ws)
	}
	used := proxy.using()
	edges[used].halt(t)
	halted[used] = true
	ws.Close()

	ws, w2 := hello(t, lbAddr, w.Session)
	defer ws.Close()
	if proxy.using() == used {
		t.Fatalf("the balancer still uses the stopped edge %d", used)
	}
	if !w2.Resumed || w2.Session != w.Session || len(w2.Subscriptions) != 1 || w2.Subscriptions[0].Camera != "demo" {
		t.Fatalf("welcome through the balancer after edge %d stopped = %+v, want session %s resumed with demo", used, w2, w.Session)
	}
	if sub := w2.Subscriptions[0]; sub.Epoch != last.epoch {
		t.Fatalf("resumed subscription %+v after epoch %d seq %d", sub, last.epoch, last.seq)
	}
	// The first frame may be the one the viewer already has (the newest
	// when it resumed); then the video goes on from there.
	next := readWSFrame(t, ws)
	if next.epoch != last.epoch || next.seq < last.seq {
		t.Fatalf("after the failover: epoch %d seq %d, before epoch %d seq %d", next.epoch, next.seq, last.epoch, last.seq)
	}
	if next.seq == last.seq {
		next = readWSFrame(t, ws)
	}
	if next.epoch != last.epoch || next.seq <= last.seq {
		t.Fatalf("after the failover: epoch %d seq %d, before epoch %d seq %d", next.epoch, next.seq, last.epoch, last.seq)
	}
	if moved, byFrame := (next.seq-last.seq)%demoFrames, uint64((next.frame-last.frame+demoFrames)%demoFrames); moved != byFrame {
		t.Fatalf("video jumped: seq moved %d, marker frame %d -> %d (%d)", moved, last.frame, next.frame, byFrame)
	}
	// The stopped edge left the list at once.
	waitEdgeList(t, addrs[1-used], []string{"http://" + addrs[1-used]})
}

// waitEdgeList waits up to 10 s for GET addr/api/edges to list want.
func waitEdgeList(t *testing.T, addr string, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got struct {
		Edges []string `json:"edges"`
	}
	for {
		resp, err := http.Get("http://" + addr + "/api/edges")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
		}
		if err == nil && slices.Equal(got.Edges, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/api/edges = %v (%v), want %v", addr, got.Edges, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
