package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
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

func TestLoginSetsCookie(t *testing.T) {
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
	if resp.StatusCode != 200 || cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("login: %d cookie %+v", resp.StatusCode, cookie)
	}
	if status, _ := e.do(http.MethodGet, "/api/cameras", nil, http.Header{"Cookie": {cookie.String()}}); status != http.StatusOK {
		t.Fatalf("with the login cookie: %d", status)
	}
	if status, body := e.json(http.MethodPost, "/api/login", map[string]string{"token": "nope"}); status != http.StatusUnauthorized || body["error"].(map[string]any)["code"] != "unauthorized" {
		t.Fatalf("login with a wrong token: %d %v", status, body)
	}
}

// GET /api/auth is public: it says whether a token is required and whether
// this request carries a valid one.
func TestAuthStatusIsPublic(t *testing.T) {
	type status struct{ Required, Authenticated bool }
	get := func(e *env, header http.Header) (int, status) {
		t.Helper()
		code, data := e.do(http.MethodGet, "/api/auth", nil, header)
		var st status
		if err := json.Unmarshal(data, &st); err != nil {
			t.Fatalf("/api/auth: %d %s", code, data)
		}
		return code, st
	}
	open := newEnv(t, envOptions{})
	if code, st := get(open, nil); code != http.StatusOK || st != (status{false, true}) {
		t.Fatalf("without --token: %d %+v", code, st)
	}
	e := newEnvWith(t, envOptions{}, func(c *Config) { c.Token = "tok" })
	tests := []struct {
		name   string
		header http.Header
		want   status
	}{
		{"no token", nil, status{true, false}},
		{"wrong cookie", http.Header{"Cookie": {tokenCookie + "=nope"}}, status{true, false}},
		{"cookie", http.Header{"Cookie": {tokenCookie + "=tok"}}, status{true, true}},
		{"bearer", http.Header{"Authorization": {"Bearer tok"}}, status{true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, st := get(e, tt.header); code != http.StatusOK || st != tt.want {
				t.Fatalf("%d %+v, want 200 %+v", code, st, tt.want)
			}
		})
	}
}

// Distinct wrong tokens are limited per address with 429 and Retry-After; nothing
// is delayed; requests without a token, /api/auth and the web app are
// never limited; over the limit even the right token gets 429 (else the
// answer would still tell right from wrong).
func TestTokenGuessingLimited(t *testing.T) {
	e := newEnvWith(t, envOptions{}, func(c *Config) { c.Token = "tok" })
	wrong := http.Header{"Authorization": {"Bearer nope"}}

	// 3 x maxFailures guesses in parallel: the first maxFailures get 401,
	// the rest 429, and none waits.
	start := time.Now()
	codes := make(chan int, 3*maxFailures)
	var wg sync.WaitGroup
	for i := range 3 * maxFailures {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, e.url("/api/cameras"), nil)
			req.Header.Set("Authorization", fmt.Sprintf("Bearer guess-%d", i))
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[http.StatusUnauthorized] != maxFailures || count[http.StatusTooManyRequests] != 2*maxFailures {
		t.Fatalf("answers to %d parallel guesses: %v, want %d x 401 and the rest 429", 3*maxFailures, count, maxFailures)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("guesses answered after %v: nothing should be delayed", d)
	}

	resp := e.get(t, "/api/cameras", http.Header{"Authorization": {"Bearer tok"}})
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || retry < 1 || retry > 60 {
		t.Fatalf("right token over the limit: %d Retry-After %q, want 429 with 1..60", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if status, body := e.json(http.MethodPost, "/api/login", map[string]string{"token": "tok"}); status != http.StatusTooManyRequests || body["error"].(map[string]any)["code"] != "rate_limited" {
		t.Fatalf("login over the limit: %d %v", status, body)
	}
	for _, tt := range []struct {
		path   string
		header http.Header
		status int
	}{
		{"/api/cameras", nil, http.StatusUnauthorized}, // no token: not a guess
		{"/api/auth", wrong, http.StatusOK},
		{"/api/auth", http.Header{"Cookie": {tokenCookie + "=tok"}}, http.StatusOK},
		{"/", wrong, http.StatusOK},
		{"/healthz", wrong, http.StatusOK},
	} {
		start := time.Now()
		if status, _ := e.do(http.MethodGet, tt.path, nil, tt.header); status != tt.status {
			t.Fatalf("GET %s %v over the limit: %d, want %d", tt.path, tt.header, status, tt.status)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("GET %s answered after %v", tt.path, d)
		}
	}
}

// /api/auth is never limited, but it is no free oracle either: wrong
// tokens sent to it count, and over the limit it does not look at the token.
func TestAuthStatusIsNoOracle(t *testing.T) {
	e := newEnvWith(t, envOptions{}, func(c *Config) { c.Token = "tok" })
	for i := range maxFailures {
		if status, body := e.json(http.MethodGet, "/api/auth", nil); status != http.StatusOK || body["authenticated"] != false {
			t.Fatalf("/api/auth without token: %d %v", status, body)
		}
		if status, _ := e.do(http.MethodGet, "/api/auth", nil, http.Header{"Authorization": {fmt.Sprintf("Bearer guess-%d", i)}}); status != http.StatusOK {
			t.Fatalf("/api/auth with a wrong token: %d", status)
		}
	}
	right := http.Header{"Authorization": {"Bearer tok"}}
	if resp := e.get(t, "/api/cameras", right); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after %d wrong tokens at /api/auth: %d, want 429", maxFailures, resp.StatusCode)
	}
	status, data := e.do(http.MethodGet, "/api/auth", nil, right)
	if status != http.StatusOK || !strings.Contains(string(data), `"authenticated":false`) {
		t.Fatalf("/api/auth with the right token over the limit: %d %s, want 200 and not authenticated", status, data)
	}
}

func TestTokenFailureWindowAndBound(t *testing.T) {
	a := newAuth("tok")
	now := time.Unix(1e9, 0)
	a.now = func() time.Time { return now }
	key := netip.MustParsePrefix("192.0.2.1/32")
	for i := range maxFailures {
		if ok, retry := a.check(key, fmt.Sprint("guess-", i)); ok || retry != 0 {
			t.Fatalf("failure within the limit: %v %v", ok, retry)
		}
	}
	if _, retry := a.check(key, "tok"); retry != failureWindow {
		t.Fatalf("over the limit: retry %v, want %v", retry, failureWindow)
	}
	now = now.Add(failureWindow)
	if ok, retry := a.check(key, "tok"); !ok || retry != 0 {
		t.Fatalf("after the window: %v %v", ok, retry)
	}
	// The same wrong token again and again (a stale cookie) is one guess.
	stale := netip.MustParsePrefix("192.0.2.2/32")
	for range 3 * maxFailures {
		if _, retry := a.check(stale, "old-token"); retry != 0 {
			t.Fatal("a repeated stale token hit the limit")
		}
	}
	if ok, retry := a.check(stale, "tok"); !ok || retry != 0 {
		t.Fatalf("right token after a stale one: %v %v", ok, retry)
	}
	// The table stays bounded, whatever the number of addresses.
	for i := range maxTracked + 500 {
		k := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
		a.check(k, "nope")
	}
	if n := len(a.failures); n > maxTracked {
		t.Fatalf("%d addresses tracked, bound %d", n, maxTracked)
	}
}

func TestClientKey(t *testing.T) {
	for _, tt := range []struct{ remote, want string }{
		{"192.0.2.7:4000", "192.0.2.7/32"},
		{"[::ffff:192.0.2.7]:4000", "192.0.2.7/32"},
		{"[2001:db8:1:2:3:4:5:6]:4000", "2001:db8:1:2::/64"},
	} {
		if got := clientKey(&http.Request{RemoteAddr: tt.remote}); got.String() != tt.want {
			t.Errorf("clientKey(%s) = %s, want %s", tt.remote, got, tt.want)
		}
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
