package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// slowClient is an HTTP/1.1 client on a raw connection that sends a
// request body at its own pace, from a chosen loopback address.
type slowClient struct {
	t    *testing.T
	conn net.Conn
	body []byte
}

// startSlow sends the request head of a POST with body to path, from
// local (a 127.0.0.x address; "" for any), and the first n body bytes.
func startSlow(t *testing.T, e *env, local, path, contentType string, body []byte, n int) *slowClient {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", path, addr, contentType, len(body))
	conn.Write(body[:n])
	return &slowClient{t: t, conn: conn, body: body[n:]}
}

// response reads the answer, waiting at most d; it returns status and
// error code.
func (c *slowClient) response(d time.Duration) (int, string) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(bufio.NewReader(c.conn), nil)
	if err != nil {
		c.t.Fatalf("no response within %v: %v", d, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, errCode(out)
}

func uploadForm(t *testing.T, size int) ([]byte, string) {
	t.Helper()
	content := append(synthVideo(5, 900), bytes.Repeat([]byte(" "), size)...)
	body, ct := multipartBody(t, "video", "slow.avi", content)
	b, _ := io.ReadAll(body)
	return b, ct
}

// Issue 18 item 4: a body that stops arriving is cut after the idle
// timeout with 408 and leaves no temp file; so is a JSON body.
func TestSlowBodyIsCut(t *testing.T) {
	const idle = 300 * time.Millisecond
	e := newEnvWith(t, envOptions{}, func(c *Config) { c.BodyIdleTimeout = idle })
	form, ct := uploadForm(t, 64<<10)
	up := startSlow(t, e, "", "/api/cameras/slow/video", ct, form, 20<<10)
	js := startSlow(t, e, "", "/api/cameras", "application/json", []byte(`{"id":"x","name":"never ends"}`), 10)
	waitFor(t, "the temp file", 2*time.Second, func() bool { return len(e.dataFiles()) == 1 })
	start := time.Now()
	for name, c := range map[string]*slowClient{"upload": up, "json": js} {
		status, code := c.response(5 * time.Second)
		if status != http.StatusRequestTimeout || code != "request_timeout" {
			t.Fatalf("%s: %d %q", name, status, code)
		}
	}
	if took := time.Since(start); took > idle+2*time.Second {
		t.Fatalf("cut after %v", took)
	}
	waitFor(t, "temp files to go", 2*time.Second, func() bool { return len(e.dataFiles()) == 0 })
	if status, _ := e.json(http.MethodGet, "/api/cameras/slow", nil); status != http.StatusNotFound {
		t.Fatalf("camera slow exists: %d", status)
	}
}

// Issue 18 item 4: a slow but steady upload (50 KB/s, much longer in all
// than the idle timeout) completes.
func TestSlowSteadyUploadCompletes(t *testing.T) {
	const idle = 300 * time.Millisecond
	e := newEnvWith(t, envOptions{}, func(c *Config) { c.BodyIdleTimeout = idle })
	form, ct := uploadForm(t, 75<<10)
	c := startSlow(t, e, "", "/api/cameras/steady/video", ct, form, 0)
	start := time.Now()
	for rest := c.body; len(rest) > 0; {
		n := min(len(rest), 5<<10) // 5 KB every 100 ms: 50 KB/s
		if _, err := c.conn.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
		time.Sleep(100 * time.Millisecond)
	}
	if took := time.Since(start); took < 3*idle {
		t.Fatalf("the upload took only %v: not slow enough to test anything", took)
	}
	if status, code := c.response(5 * time.Second); status != http.StatusCreated {
		t.Fatalf("steady upload: %d %q", status, code)
	}
}

// Issue 18 item 4: uploads in progress are capped per client address and
// over the server, with 503 upload_limit; a slot frees when an upload ends.
func TestUploadCaps(t *testing.T) {
	e := newEnvWith(t, envOptions{}, func(c *Config) {
		c.MaxUploads, c.MaxUploadsPerClient = 2, 1
		c.BodyIdleTimeout = time.Minute
	})
	form, ct := uploadForm(t, 64<<10)
	a := startSlow(t, e, "127.0.0.1", "/api/cameras/a/video", ct, form, 1<<10)
	waitFor(t, "upload a to start", 2*time.Second, func() bool { return len(e.dataFiles()) == 1 })

	// The same address again: the per-client cap.
	a2 := startSlow(t, e, "127.0.0.1", "/api/cameras/a2/video", ct, form, 1<<10)
	if status, code := a2.response(5 * time.Second); status != http.StatusServiceUnavailable || code != "upload_limit" {
		t.Fatalf("second upload from one address: %d %q", status, code)
	}
	// Another address fits, and fills the server.
	b := startSlow(t, e, "127.0.0.2", "/api/cameras/b/video", ct, form, 1<<10)
	waitFor(t, "upload b to start", 2*time.Second, func() bool { return len(e.dataFiles()) == 2 })
	c := startSlow(t, e, "127.0.0.3", "/api/cameras/c/video", ct, form, 1<<10)
	if status, code := c.response(5 * time.Second); status != http.StatusServiceUnavailable || code != "upload_limit" {
		t.Fatalf("third upload: %d %q", status, code)
	}
	// a finishes: its address may upload again.
	a.conn.Write(a.body)
	if status, _ := a.response(5 * time.Second); status != http.StatusCreated {
		t.Fatalf("upload a: %d", status)
	}
	a3 := startSlow(t, e, "127.0.0.1", "/api/cameras/a/video", ct, form, len(form))
	if status, code := a3.response(5 * time.Second); status != http.StatusCreated {
		t.Fatalf("upload after a slot freed: %d %q", status, code)
	}
	b.conn.Close()
	waitFor(t, "b's temp file to go", 2*time.Second, func() bool {
		return dirCount(t, filepath.Join(e.dir, "tmp")) == 0
	})
}
