package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

// TestMain makes the test binary stand in for livemon as the isolated
// decoder's child: run() starts /proc/self/exe, here this test binary,
// with a hidden subcommand (decode-child, probe-child), which it serves
// through run() as livemon would, with OpenCV.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && isChildCommand(os.Args[1]) {
		if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "livemon:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// server is one run of the whole program.
type server struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func start(t *testing.T, addr, data string, extra ...string) *server {
	t.Helper()
	return startWithin(t, 20*time.Second, addr, data, extra...)
}

// startWithin is start with its own limit for becoming healthy.
func startWithin(t *testing.T, limit time.Duration, addr, data string, extra ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{addr: addr, cancel: cancel, done: make(chan error, 1), logs: &syncBuffer{}}
	args := append([]string{"--addr", addr, "--data", data, "--log-level", "debug"}, extra...)
	go func() { s.done <- run(ctx, args, func(string) string { return "" }, io.Discard, s.logs) }()
	waitHealthy(t, limit, addr, s.done, s.logs)
	return s
}

// waitHealthy waits up to limit for addr's /healthz to answer 200,
// failing if the run ends first.
func waitHealthy(t *testing.T, limit time.Duration, addr string, done <-chan error, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v\n%s", err, logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healthy within %v\n%s", limit, logs)
		}
	}
}

// stop ends the run like SIGTERM does and checks it exits in time.
func (s *server) stop(t *testing.T) {
	t.Helper()
	begin := time.Now()
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(6 * time.Second):
		t.Fatalf("run did not stop within 6s\n%s", s.logs)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
	// Every decode and probe child, spares included, is reaped.
	if kids := childrenOf(os.Getpid()); len(kids) > 0 {
		t.Fatalf("child processes left after run returned: %v", kids)
	}
}

// childrenOf lists the processes (zombies included) whose parent is pid.
func childrenOf(pid int) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if f := procStat(mustAtoi(e.Name())); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, e.Name()+" ("+f[0]+")")
		}
	}
	return out
}

func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

type camView struct {
	Epoch    uint64  `json:"epoch"`
	Seq      uint64  `json:"seq"`
	State    string  `json:"state"`
	Position float64 `json:"position"`
}

func getCamera(t *testing.T, addr, id string) camView {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/cameras/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v camView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// waitRunning returns the camera's view once its decoder runs (before,
// the position is not known yet).
func waitRunning(t *testing.T, addr, id string) camView {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v := getCamera(t, addr, id)
		if v.State == "running" {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("camera %s is %q, not running, after 20s", id, v.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type part struct {
	video, frame int
	seq, epoch   uint64
}

func readMJPEG(t *testing.T, url string, n int) []part {
	t.Helper()
	return readMarkedFrames(t, url, n, 0)
}

// The whole program: demo camera on first start, MJPEG shows it moving,
// and a restart resumes the same run (epoch, seq, position) and the same
// WebSocket session.
func TestRunDemoAndRestart(t *testing.T) {
	data := t.TempDir()
	addr := freeAddr(t)
	s := start(t, addr, data)

	parts := readMJPEG(t, "http://"+addr+"/api/cameras/demo/mjpeg", 20)
	if parts[0].video != 1 || parts[len(parts)-1].frame == parts[0].frame {
		t.Fatalf("demo not moving: %+v ... %+v", parts[0], parts[len(parts)-1])
	}

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/api/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.WriteJSON(map[string]any{"type": "hello"})
	var welcome struct {
		Session string `json:"session"`
	}
	if err := ws.ReadJSON(&welcome); err != nil {
		t.Fatal(err)
	}
	ws.WriteJSON(map[string]any{"type": "subscribe", "camera": "demo"})
	var lastSeq uint64
	for lastSeq == 0 {
		ws.SetReadDeadline(time.Now().Add(3 * time.Second))
		mt, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if mt == websocket.BinaryMessage {
			lastSeq = binary.BigEndian.Uint64(msg[16:])
		}
	}

	time.Sleep(1500 * time.Millisecond) // let a checkpoint happen
	before := getCamera(t, addr, "demo")
	s.stop(t)
	ws.Close()

	s = start(t, addr, data)
	defer s.stop(t)
	after := waitRunning(t, addr, "demo")
	if after.Epoch != before.Epoch {
		t.Fatalf("epoch changed across restart: %d -> %d", before.Epoch, after.Epoch)
	}
	if d := after.Position - before.Position; d < -2 || d > 4 {
		t.Fatalf("position %v after restart, %v before", after.Position, before.Position)
	}
	p := readMJPEG(t, "http://"+addr+"/api/cameras/demo/mjpeg", 3)
	if p[0].seq <= lastSeq || p[0].epoch != before.Epoch {
		t.Fatalf("after restart seq %d epoch %d; before seq %d epoch %d", p[0].seq, p[0].epoch, lastSeq, before.Epoch)
	}

	ws2, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/api/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.Close()
	ws2.WriteJSON(map[string]any{"type": "hello", "session": welcome.Session})
	var w2 struct {
		Session       string `json:"session"`
		Resumed       bool   `json:"resumed"`
		Subscriptions []struct {
			Camera string `json:"camera"`
		} `json:"subscriptions"`
	}
	if err := ws2.ReadJSON(&w2); err != nil {
		t.Fatal(err)
	}
	if !w2.Resumed || w2.Session != welcome.Session || len(w2.Subscriptions) != 1 || w2.Subscriptions[0].Camera != "demo" {
		t.Fatalf("welcome after restart = %+v", w2)
	}
	if strings.Contains(s.logs.String(), "panic") {
		t.Fatalf("panic in logs:\n%s", s.logs)
	}
}

func TestRunRefusesPublicAddrWithoutToken(t *testing.T) {
	err := run(context.Background(), []string{"--addr", "0.0.0.0:0", "--data", t.TempDir()}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--token") {
		t.Fatalf("err = %v", err)
	}
}

func TestAllowedHostsConfig(t *testing.T) {
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"none", nil, nil, nil},
		{"flag", []string{"--allowed-hosts", " cams.example.com, .lan.example ,"}, nil, []string{"cams.example.com", ".lan.example"}},
		{"environment", nil, map[string]string{"LIVEMON_ALLOWED_HOSTS": "cams.example.com"}, []string{"cams.example.com"}},
		{"flag wins", []string{"--allowed-hosts", "a.example"}, map[string]string{"LIVEMON_ALLOWED_HOSTS": "b.example"}, []string{"a.example"}},
		{"listen name", []string{"--addr", "nvr.lan:8000", "--insecure"}, nil, []string{"nvr.lan"}},
		{"listen address", []string{"--addr", "0.0.0.0:8000", "--insecure"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, env(tt.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(c.AllowedHosts) != fmt.Sprint(tt.want) {
				t.Fatalf("AllowedHosts = %q, want %q", c.AllowedHosts, tt.want)
			}
		})
	}
	if _, err := parseConfig([]string{"--allowed-hosts", "https://cams.example.com"}, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "not a host name") {
		t.Fatalf("a URL in --allowed-hosts: %v", err)
	}
}

// The whole program refuses unknown Host names (DNS rebinding) and
// answers to --allowed-hosts.
func TestRunRefusesUnknownHost(t *testing.T) {
	addr := freeAddr(t)
	s := start(t, addr, t.TempDir(), "--demo=false", "--allowed-hosts", "cams.example.com")
	defer s.stop(t)
	for host, want := range map[string]int{
		"evil.example:8000":     http.StatusMisdirectedRequest,
		"cams.example.com:8000": http.StatusOK,
		"localhost:8000":        http.StatusOK,
		addr:                    http.StatusOK,
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/cameras", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
}
