package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// get sends a request with header (a "Host" entry sets the Host header)
// and returns the response with its body read.
func (e *env) send(t *testing.T, method, path string, body string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url(path), r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v[0]
			continue
		}
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	e.assertNoPath(data)
	return resp, data
}

func (e *env) get(t *testing.T, path string, header http.Header) *http.Response {
	t.Helper()
	resp, _ := e.send(t, http.MethodGet, path, "", header)
	return resp
}

func TestHostPolicy(t *testing.T) {
	p := newHostPolicy([]string{"cams.example.com", ".lan.example", "Upper.Example:8000", " "})
	tests := []struct {
		host string
		want bool
	}{
		{"localhost:8000", true},
		{"LOCALHOST.:8000", true},
		{"127.0.0.1:8000", true},
		{"127.0.0.1", true},
		{"[::1]:8000", true},
		{"[::1]", true},
		{"192.168.1.20:8000", true}, // an interface address under --addr 0.0.0.0
		{"[2001:db8::5]:8000", true},
		{"", true}, // HTTP/1.0 without Host: not a browser
		{"cams.example.com:8000", true},
		{"CAMS.example.com.", true},
		{"upper.example", true},
		{"lan.example", true},
		{"nvr.lan.example:8000", true},
		{"evil.example:8000", false},
		{"cams.example.com.evil.example", false},
		{"xlan.example", false},
		{"localhost.evil.example", false},
		{"127.0.0.1.nip.io", false},
		{"2130706433", false}, // browsers send IPv4 literals dotted; a name otherwise
		{"sub.localhost", false},
	}
	for _, tt := range tests {
		if got := p.allows(tt.host); got != tt.want {
			t.Errorf("allows(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
	if !newHostPolicy([]string{"*"}).allows("anything.example") {
		t.Error(`"*" does not allow every name`)
	}
}

// DNS rebinding: a page on a name that resolves to this server is "same
// origin" for the browser. Names the server does not know are refused
// with 421 before any handler, on every route, with or without a token.
func TestUnknownHostRefused(t *testing.T) {
	for _, token := range []string{"", "tok"} {
		e := newEnvWith(t, envOptions{}, func(c *Config) {
			c.Token = token
			c.AllowedHosts = []string{"cams.example.com"}
		})
		auth := http.Header{"Authorization": {"Bearer tok"}}
		evil := func(extra http.Header) http.Header {
			h := http.Header{"Host": {"evil.example:8000"}, "Origin": {"http://evil.example:8000"}, "Sec-Fetch-Site": {"same-origin"}}
			for k, v := range extra {
				h[k] = v
			}
			return h
		}
		for _, tt := range []struct{ method, path, body string }{
			{http.MethodPost, "/api/cameras", `{"id":"rebound","name":"x"}`},
			{http.MethodDelete, "/api/cameras/rebound", ""},
			{http.MethodGet, "/api/cameras", ""},
			{http.MethodGet, "/api/auth", ""},
			{http.MethodPost, "/api/login", `{"token":"tok"}`},
			{http.MethodGet, "/api/ws", ""},
			{http.MethodGet, "/metrics", ""},
			{http.MethodGet, "/healthz", ""},
			{http.MethodGet, "/", ""},
			{http.MethodGet, "/api/nope", ""},
		} {
			resp, data := e.send(t, tt.method, tt.path, tt.body, evil(auth))
			var body errorBody
			_ = json.Unmarshal(data, &body)
			if resp.StatusCode != http.StatusMisdirectedRequest || body.Error.Code != "unknown_host" ||
				!strings.Contains(body.Error.Message, "--allowed-hosts evil.example") {
				t.Fatalf("token %q: %s %s with Host evil.example: %d %s", token, tt.method, tt.path, resp.StatusCode, data)
			}
		}
		if _, resp, err := e.dial(t, evil(auth)); err == nil || resp == nil || resp.StatusCode != http.StatusMisdirectedRequest {
			t.Fatalf("token %q: WebSocket with Host evil.example: %v %v", token, err, resp)
		}
		if _, err := e.cams.Get("rebound"); err == nil {
			t.Fatal("a camera was created through a rebound name")
		}
		// Known names and any IP literal pass.
		for _, host := range []string{"cams.example.com:8000", "localhost:8000", "10.1.2.3:8000", "[::1]:8000"} {
			if resp := e.get(t, "/api/cameras", http.Header{"Host": {host}, "Authorization": {"Bearer tok"}}); resp.StatusCode != http.StatusOK {
				t.Fatalf("token %q: Host %s: %d", token, host, resp.StatusCode)
			}
		}
	}
}

// An Origin must match the server's scheme too: https://host is another
// origin than http://host.
func TestOriginSchemeChecked(t *testing.T) {
	e := newEnvWith(t, envOptions{origins: []string{"https://proxy.example/"}}, nil)
	host := strings.TrimPrefix(e.srv.URL, "http://")
	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"same origin", http.Header{"Origin": {"http://" + host}}, http.StatusCreated},
		{"https on an http server", http.Header{"Origin": {"https://" + host}}, http.StatusForbidden},
		{"ws scheme", http.Header{"Origin": {"ws://" + host}}, http.StatusForbidden},
		{"null origin", http.Header{"Origin": {"null"}}, http.StatusForbidden},
		{"allowed origin", http.Header{"Origin": {"https://proxy.example"}, "Sec-Fetch-Site": {"cross-site"}}, http.StatusCreated},
		// Behind a TLS proxy the browser says same-origin itself.
		{"browser says same-origin", http.Header{"Origin": {"https://" + host}, "Sec-Fetch-Site": {"same-origin"}}, http.StatusCreated},
		{"no origin (not a browser)", nil, http.StatusCreated},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"id":"o` + string(rune('a'+i)) + `","name":"x"}`
			if resp, data := e.send(t, http.MethodPost, "/api/cameras", body, tt.header); resp.StatusCode != tt.want {
				t.Fatalf("POST: %d %s, want %d", resp.StatusCode, data, tt.want)
			}
		})
	}
	if _, resp, err := e.dial(t, http.Header{"Origin": {"https://" + host}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("WebSocket with Origin https://%s: %v %v, want 403", host, err, resp)
	}
	c, _, err := e.dial(t, http.Header{"Origin": {"http://" + host}})
	if err != nil {
		t.Fatalf("WebSocket from its own origin: %v", err)
	}
	c.hello("")
}

// Every response forbids framing; the probes answer HEAD.
func TestSecurityHeadersAndProbes(t *testing.T) {
	e := newEnvWith(t, envOptions{}, func(c *Config) { c.Token = "tok" })
	for _, tt := range []struct {
		method, path string
		header       http.Header
		status       int
	}{
		{http.MethodGet, "/", nil, http.StatusOK},
		{http.MethodGet, "/api/cameras", nil, http.StatusUnauthorized},
		{http.MethodGet, "/api/cameras", http.Header{"Authorization": {"Bearer tok"}}, http.StatusOK},
		{http.MethodGet, "/api/nope", http.Header{"Authorization": {"Bearer tok"}}, http.StatusNotFound},
		{http.MethodGet, "/healthz", http.Header{"Host": {"evil.example"}}, http.StatusMisdirectedRequest},
		{http.MethodHead, "/healthz", nil, http.StatusOK},
		{http.MethodHead, "/readyz", nil, http.StatusOK},
	} {
		resp, _ := e.send(t, tt.method, tt.path, "", tt.header)
		if resp.StatusCode != tt.status {
			t.Fatalf("%s %s: %d, want %d", tt.method, tt.path, resp.StatusCode, tt.status)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if resp.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Fatalf("%s %s: X-Frame-Options %q, CSP %q", tt.method, tt.path, resp.Header.Get("X-Frame-Options"), csp)
		}
	}
}
