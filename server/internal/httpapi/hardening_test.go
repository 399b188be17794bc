package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/livemon/livemon/server/internal/media"
)

// Traversal attempts in ids, paths and parameters get 400 or 404, and no
// file outside the data dir is ever served.
func TestPathTraversal(t *testing.T) {
	e := newEnv(t, envOptions{})
	sentinel := filepath.Join(filepath.Dir(e.dir), "sentinel.txt")
	if err := os.WriteFile(sentinel, []byte("SENTINEL-CONTENT"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.upload("/api/cameras/cam/video", "a.avi", synthVideo(1, 900))
	paths := []string{
		"/api/cameras/..%2Fsentinel.txt",
		"/api/cameras/..%2F..%2Fsentinel.txt/snapshot.jpg",
		"/api/cameras/%2e%2e%2f/mjpeg",
		"/api/cameras/%5C..%5Csentinel.txt",
		"/api/cameras/" + strings.ReplaceAll(sentinel, "/", "%2F"),
		"/api/live-monitoring/stream/cam?video_path=" + sentinel,
		"/api/live-monitoring/stream/..%2Fsentinel.txt",
		"/api/cameras/cam/snapshot.jpg/../../../sentinel.txt",
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			status, body := e.do(http.MethodGet, p, nil, nil)
			if status != http.StatusBadRequest && status != http.StatusNotFound {
				t.Fatalf("GET %s: %d", p, status)
			}
			if bytes.Contains(body, []byte("SENTINEL")) {
				t.Fatalf("GET %s served a file outside the data dir", p)
			}
		})
	}
	body, ct := multipartBody(t, "video", "../../sentinel.txt", synthVideo(2, 90))
	status, data := e.do(http.MethodPost, "/api/live-monitoring/upload-video?camera_id=cam&video_path="+sentinel, body, http.Header{"Content-Type": {ct}})
	if status != http.StatusBadRequest || bytes.Contains(data, []byte("SENTINEL")) {
		t.Fatalf("upload with video_path: %d %s", status, data)
	}
	// A client file name is metadata only: it never becomes a path.
	body, ct = multipartBody(t, "video", "..\\..\\../../etc/evil<b>name.avi", synthVideo(2, 90))
	status, data = e.do(http.MethodPost, "/api/cameras/cam/video", body, http.Header{"Content-Type": {ct}})
	if status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, data)
	}
	var up uploadBody
	json.Unmarshal(data, &up)
	if n := up.Camera.Video.Name; strings.ContainsAny(n, "/\\\x00") || strings.Contains(n, "..") {
		t.Fatalf("stored name %q is not sanitised", n)
	}
	if got, _ := os.ReadFile(sentinel); string(got) != "SENTINEL-CONTENT" {
		t.Fatal("sentinel was modified")
	}
}

// rawUpload sends an upload over a raw connection; with abortAfter > 0 it
// sends that many body bytes of a larger declared body and hangs up.
func rawUpload(t *testing.T, addr, path string, content []byte, abortAfter int) int {
	t.Helper()
	var buf bytes.Buffer
	body, ct := multipartBody(t, "video", "v.avi", content)
	io.Copy(&buf, body)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", path, addr, ct, buf.Len())
	if abortAfter > 0 {
		conn.Write(buf.Bytes()[:abortAfter])
		conn.(*net.TCPConn).SetLinger(0)
		return 0
	}
	conn.Write(buf.Bytes())
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func dirCount(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// 100 uploads, every other one cut off half way: nothing is left behind,
// neither in the data dir nor in $TMPDIR, and the last complete upload plays.
func TestUploadsAbortedHalfway(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	e := newEnv(t, envOptions{})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	content := append(synthVideo(1, 900), bytes.Repeat([]byte(" "), 64<<10)...)
	for i := range 100 {
		if i%2 == 1 {
			rawUpload(t, addr, "/api/cameras/u/video", content, 32<<10)
			continue
		}
		if status := rawUpload(t, addr, "/api/cameras/u/video", content, 0); status != http.StatusCreated {
			t.Fatalf("upload %d: %d", i, status)
		}
	}
	waitFor(t, "temp files to go", 5*time.Second, func() bool {
		return dirCount(t, filepath.Join(e.dir, "tmp")) == 0
	})
	if n := dirCount(t, filepath.Join(e.dir, "videos")); n != 1 {
		t.Fatalf("%d files in videos/, want 1", n)
	}
	if n := dirCount(t, tmp); n != 0 {
		t.Fatalf("%d files left in $TMPDIR", n)
	}
	if f := e.snapshotMarker(t, "u"); f.video != 1 {
		t.Fatalf("camera shows video %d", f.video)
	}
}

// A client that disconnects half way leaves the previous video playing.
func TestUploadDisconnectKeepsPreviousVideo(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/p/video", "a.avi", synthVideo(1, 9000))
	before := e.snapshotMarker(t, "p")
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	rawUpload(t, addr, "/api/cameras/p/video", append(synthVideo(2, 90), bytes.Repeat([]byte(" "), 1<<18)...), 1<<17)
	waitFor(t, "temp file to go", 5*time.Second, func() bool { return dirCount(t, filepath.Join(e.dir, "tmp")) == 0 })
	after := e.snapshotMarker(t, "p")
	if after.video != 1 || after.epoch != before.epoch || after.seq <= before.seq {
		t.Fatalf("before %+v after %+v", before, after)
	}
}

// 20 concurrent uploads to one camera: each is published whole or
// rejected, and what plays is the upload the database names.
func TestConcurrentUploadsOneCamera(t *testing.T) {
	e := newEnv(t, envOptions{})
	var mu sync.Mutex
	videoOf := map[string]int{}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, ct := multipartBody(t, "video", "v.avi", synthVideo(10+i, 9000))
			req, _ := http.NewRequest(http.MethodPost, e.url("/api/cameras/cc/video"), body)
			req.Header.Set("Content-Type", ct)
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var up uploadBody
			json.NewDecoder(resp.Body).Decode(&up)
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("upload %d: %d", i, resp.StatusCode)
				return
			}
			mu.Lock()
			videoOf[up.Upload] = 10 + i
			mu.Unlock()
		}()
	}
	wg.Wait()
	_, cam := e.json(http.MethodGet, "/api/cameras/cc", nil)
	current := cam["video"].(map[string]any)["upload"].(string)
	if n := dirCount(t, filepath.Join(e.dir, "videos")); n != 1 {
		t.Fatalf("%d files in videos/, want 1", n)
	}
	if cam["epoch"].(float64) != 20 {
		t.Fatalf("epoch %v after 20 uploads", cam["epoch"])
	}
	if f := e.snapshotMarker(t, "cc"); f.video != videoOf[current] {
		t.Fatalf("plays video %d, database names upload %s (video %d)", f.video, current, videoOf[current])
	}
}

// Disk full: 507, temp file removed, process up, previous video playing.
func TestUploadDiskFull(t *testing.T) {
	base := t.TempDir()
	if err := syscall.Mount("tmpfs", base, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a small tmpfs here (%v); store tests cover ENOSPC", err)
	}
	t.Cleanup(func() { syscall.Unmount(base, 0) }) // after the server's own cleanup
	e := newEnvIn(t, base, envOptions{maxUpload: 8 << 20})
	e.upload("/api/cameras/full/video", "a.avi", synthVideo(1, 9000))
	status, body := e.upload("/api/cameras/full/video", "big.avi", append(synthVideo(2, 90), bytes.Repeat([]byte(" "), 2<<20)...))
	if status != http.StatusInsufficientStorage || errCode(body) != "disk_full" {
		t.Fatalf("upload to full disk: %d %v", status, body)
	}
	if n := dirCount(t, filepath.Join(e.dir, "tmp")); n != 0 {
		t.Fatalf("%d temp files left", n)
	}
	if f := e.snapshotMarker(t, "full"); f.video != 1 {
		t.Fatalf("plays video %d", f.video)
	}
}

// A peer that stops answering pings is closed within pong wait plus ping
// period.
func TestPingTimeout(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.api.timing = timing{writeWait: time.Second, pongWait: 400 * time.Millisecond, pingPeriod: 150 * time.Millisecond}
	c := e.mustDial(t)
	c.hello("")
	// The client stops reading, so it never answers a ping.
	start := time.Now()
	waitFor(t, "the silent connection to be closed", 3*time.Second, func() bool {
		e.api.mu.Lock()
		defer e.api.mu.Unlock()
		return len(e.api.conns) == 0
	})
	if d := time.Since(start); d > 550*time.Millisecond+200*time.Millisecond {
		t.Fatalf("closed after %v, want within pong wait + ping period", d)
	}
}

func viewers(e *env, cam string) int {
	st, _ := e.hub.Stats(media.CameraID(cam))
	n := 0
	for _, v := range st.Viewers {
		n += v
	}
	return n
}

// A TCP reset in the middle of a frame ends the handler and its
// subscription; goleak in TestMain checks no goroutine is left.
func TestResetMidFrame(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/r/video", "a.avi", synthVideo(1, 9000))
	addr := strings.TrimPrefix(e.srv.URL, "http://")

	t.Run("mjpeg", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET /api/cameras/r/mjpeg HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		buf := make([]byte, 700) // headers and part of the first frame
		io.ReadFull(conn, buf)
		waitFor(t, "viewer", time.Second, func() bool { return viewers(e, "r") == 1 })
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
		waitFor(t, "viewer gone", 3*time.Second, func() bool { return viewers(e, "r") == 0 })
	})
	t.Run("websocket", func(t *testing.T) {
		var raw *net.TCPConn
		d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			c, err := net.Dial(network, a)
			if err == nil {
				raw = c.(*net.TCPConn)
			}
			return c, err
		}}
		ws, _, err := d.Dial("ws://"+addr+"/api/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		c := &wsClient{t: t, conn: ws}
		c.hello("")
		c.send(map[string]any{"type": "subscribe", "camera": "r"})
		c.frame()
		raw.SetLinger(0)
		raw.Close()
		waitFor(t, "viewer gone", 3*time.Second, func() bool {
			e.api.mu.Lock()
			defer e.api.mu.Unlock()
			return viewers(e, "r") == 0 && len(e.api.conns) == 0
		})
	})
}

// A video damaged on disk puts the camera in error with a readable reason
// and no path; other cameras keep streaming; it recovers when fixed.
func TestDamagedVideo(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/bad/video", "a.avi", synthVideo(1, 9000))
	e.upload("/api/cameras/good/video", "b.avi", synthVideo(2, 9000))
	_, cam := e.json(http.MethodGet, "/api/cameras/bad", nil)
	file := filepath.Join(e.dir, "videos", cam["video"].(map[string]any)["upload"].(string)+".avi")
	good, _ := os.ReadFile(file)
	if err := os.WriteFile(file, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.json(http.MethodPost, "/api/cameras/bad/stop", nil)
	e.json(http.MethodPost, "/api/cameras/bad/start", nil)
	waitFor(t, "error state", 3*time.Second, func() bool {
		_, c := e.json(http.MethodGet, "/api/cameras/bad", nil)
		return c["state"] == "error" && c["error"] != ""
	})
	_, c := e.json(http.MethodGet, "/api/cameras/bad", nil)
	if msg := c["error"].(string); strings.Contains(msg, "/") {
		t.Fatalf("error message leaks a path: %q", msg)
	}
	before := e.snapshotMarker(t, "good")
	time.Sleep(300 * time.Millisecond)
	if after := e.snapshotMarker(t, "good"); after.seq <= before.seq {
		t.Fatal("the healthy camera stopped")
	}
	os.WriteFile(file, good, 0o644)
	waitFor(t, "recovery", 5*time.Second, func() bool {
		_, c := e.json(http.MethodGet, "/api/cameras/bad", nil)
		return c["state"] == "running"
	})
}

// A client that sends its whole upload before reading the answer (browsers,
// Node's fetch, Playwright) must get the 413, not a reset connection, when
// the body is larger than the socket buffers: the server answers, then
// drains the body (bounded) before closing.
func TestTooLargeAnswerReachesWholeBodySender(t *testing.T) {
	e := newEnv(t, envOptions{maxUpload: 1 << 20})
	const size = 40 << 20 // well over loopback's socket buffers
	conn, err := net.DialTimeout("tcp", e.srv.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	head := fmt.Sprintf("POST /api/cameras/big/video HTTP/1.1\r\nHost: %s\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: %d\r\n\r\n",
		e.srv.Listener.Addr(), size)
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for sent := 0; sent < size; sent += len(chunk) {
		if _, err := conn.Write(chunk); err != nil {
			t.Fatalf("the server reset the upload after %d MiB instead of answering: %v", sent>>20, err)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
}
