package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/fakecam"
	"github.com/livemon/livemon/server/internal/marker"
)

const rtspPassword = "rtsp-s3cret"

// startRTSPCamera serves the fake RTSP camera (small pictures, 15 fps, a
// key frame a second) with credentials admin:rtspPassword.
func startRTSPCamera(t *testing.T) (*fakecam.Camera, *fakecam.RTSP) {
	t.Helper()
	cam := fakecam.New(fakecam.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	rt, err := cam.ServeRTSP(ctx, fakecam.RTSPConfig{
		Width: 320, Height: 180, FPS: 15, ClipSeconds: 2, TLSAddr: "127.0.0.1:0",
		User: "admin", Password: rtspPassword,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		rt.Close()
		http.DefaultClient.CloseIdleConnections()
	})
	return cam, rt
}

// withCredentials puts user:password into an rtsp:// or rtsps:// URL.
func withCredentials(u, user, password string) string {
	scheme, rest, _ := strings.Cut(u, "://")
	return scheme + "://" + user + ":" + password + "@" + rest
}

// apiJSON sends body (if any) as JSON and decodes the answer into a map.
func apiJSON(t *testing.T, method, url string, body any) (int, map[string]any, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return resp.StatusCode, m, data
}

// waitCamera polls the camera until ok holds; it returns how long that took.
func waitCamera(t *testing.T, addr, id string, d time.Duration, what string, ok func(map[string]any) bool) time.Duration {
	t.Helper()
	begin := time.Now()
	var last map[string]any
	for time.Since(begin) < d {
		_, last, _ = apiJSON(t, http.MethodGet, "http://"+addr+"/api/cameras/"+id, nil)
		if ok(last) {
			return time.Since(begin)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("camera %s: not %s within %v; last %v", id, what, d, last)
	return 0
}

func stateIs(s string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["state"] == s }
}

// readMarkedFrames reads n frames with a valid marker from an MJPEG URL,
// after at most skip frames without one: FFmpeg's HEVC decoder conceals
// the pictures that arrive before the first key frame after a connect
// (grey, no marker), where its H.264 decoder waits for one. The first
// part may be the camera's kept frame from before that connect: grey
// pictures right after it start the count again.
func readMarkedFrames(t *testing.T, url string, n, skip int) []part {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var out []part
	for parts := 0; len(out) < n; parts++ {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(p)
		if err != nil {
			t.Fatal(err)
		}
		v, f, ok := marker.Read(img)
		if !ok && parts == 1 && len(out) == 1 && skip > 0 {
			// The first part was the camera's kept frame; the stream's
			// connect for this viewer starts with grey pictures (H.265).
			out = out[:0]
		}
		if !ok {
			if len(out) > 0 || skip == 0 {
				t.Fatalf("frame without marker after %d with one", len(out))
			}
			skip--
			continue
		}
		seq, _ := strconv.ParseUint(p.Header.Get("X-Seq"), 10, 64)
		epoch, _ := strconv.ParseUint(p.Header.Get("X-Epoch"), 10, 64)
		out = append(out, part{video: v, frame: f, seq: seq, epoch: epoch})
	}
	return out
}

// The whole program against the fake RTSP camera: H.264 over TCP and UDP
// and H.265 play the camera's own marker frames through the isolated
// decoder; the camera going down is offline within 5 s and playing again
// soon after it is back; the password shows nowhere.
func TestRTSPCamera(t *testing.T) {
	cam, rt := startRTSPCamera(t)
	addr := freeAddr(t)
	s := start(t, addr, t.TempDir(), "--demo=false")
	defer s.stop(t)
	base := "http://" + addr

	for _, tc := range []struct {
		id, path, transport string
		tls                 bool
	}{
		{"h264-tcp", fakecam.PathH264, "", false},
		{"h264-udp", fakecam.PathH264, "udp", false},
		{"h265-tcp", fakecam.PathH265, "tcp", false},
		{"h264-rtsps", fakecam.PathH264, "", true},
	} {
		u := rt.URL(tc.path)
		if tc.tls {
			u = rt.TLSURL(tc.path)
		}
		src := map[string]any{"url": withCredentials(u, "admin", rtspPassword)}
		if tc.transport != "" {
			src["transport"] = tc.transport
		}
		status, body, data := apiJSON(t, http.MethodPost, base+"/api/cameras", map[string]any{"id": tc.id, "name": tc.id, "source": src})
		if status != http.StatusCreated {
			t.Fatalf("%s: create %d %s", tc.id, status, data)
		}
		source, _ := body["source"].(map[string]any)
		wantTransport := tc.transport
		if wantTransport == "" {
			wantTransport = "tcp"
		}
		if source["kind"] != "rtsp" || source["transport"] != wantTransport || strings.Contains(string(data), rtspPassword) {
			t.Fatalf("%s: source %v", tc.id, source)
		}
		took := waitCamera(t, addr, tc.id, 15*time.Second, "running", stateIs("running"))
		t.Logf("%s: running %v after create", tc.id, took)
		parts := readMarkedFrames(t, base+"/api/cameras/"+tc.id+"/mjpeg", 10, 20)
		for i, p := range parts {
			if p.video != rt.VideoID(tc.path) {
				t.Fatalf("%s: frame %d shows video %d, want the camera's %d", tc.id, i, p.video, rt.VideoID(tc.path))
			}
			if i > 0 && p.seq <= parts[i-1].seq {
				t.Fatalf("%s: seq %d after %d", tc.id, p.seq, parts[i-1].seq)
			}
		}
	}

	// The camera goes away while someone watches: offline within 5 s
	// (plus polling), running again after it returns, without anyone
	// doing anything. (Unwatched, it would only notice at its next
	// 10 s refresh.)
	watcher, err := http.Get(base + "/api/cameras/h264-tcp/mjpeg")
	if err != nil {
		t.Fatal(err)
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		_, _ = io.Copy(io.Discard, watcher.Body)
	}()
	defer func() {
		watcher.Body.Close()
		<-drained
	}()
	cam.SetMode(fakecam.ModeDown)
	took := waitCamera(t, addr, "h264-tcp", 7*time.Second, "offline", stateIs("offline"))
	t.Logf("offline %v after the camera went down", took)
	before := getCamera(t, addr, "h264-tcp")
	cam.SetMode(fakecam.ModeUp)
	took = waitCamera(t, addr, "h264-tcp", 12*time.Second, "running", stateIs("running"))
	t.Logf("running %v after the camera came back", took)
	after := readMJPEG(t, base+"/api/cameras/h264-tcp/mjpeg", 3)
	if after[0].epoch != before.Epoch || after[2].seq <= before.Seq {
		t.Fatalf("after the return: epoch %d seq %d; before epoch %d seq %d", after[0].epoch, after[2].seq, before.Epoch, before.Seq)
	}

	for _, path := range []string{"/api/cameras", "/api/stats", "/metrics"} {
		_, _, data := apiJSON(t, http.MethodGet, base+path, nil)
		if strings.Contains(string(data), rtspPassword) {
			t.Fatalf("%s shows the password", path)
		}
	}
	if strings.Contains(s.logs.String(), rtspPassword) {
		t.Fatal("the logs show the password")
	}
}

// Cameras that answer wrongly show why in plain words and leave the server
// up: a wrong password, a path the camera does not have, an HTTP server
// given as rtsp://, a port nobody listens on.
func TestRTSPCameraErrors(t *testing.T) {
	_, rt := startRTSPCamera(t)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "<html>not a camera</html>")
	}))
	defer web.Close()
	closed := freeAddr(t)
	addr := freeAddr(t)
	s := start(t, addr, t.TempDir(), "--demo=false")
	defer s.stop(t)
	base := "http://" + addr
	for _, tc := range []struct {
		id, url, state, reason string
	}{
		{"wrong-password", withCredentials(rt.URL(fakecam.PathH264), "admin", "wrong-"+rtspPassword), "error", "401 from camera"},
		{"no-such-path", withCredentials(rt.URL("/nope"), "admin", rtspPassword), "error", "404 from camera"},
		{"not-rtsp", strings.Replace(web.URL, "http://", "rtsp://", 1) + "/stream", "error", "no RTSP answer from the camera"},
		{"refused", "rtsp://" + closed + "/stream", "offline", "connection refused"},
	} {
		status, _, data := apiJSON(t, http.MethodPost, base+"/api/cameras", map[string]any{"id": tc.id, "name": tc.id, "source": map[string]any{"url": tc.url}})
		if status != http.StatusCreated {
			t.Fatalf("%s: create %d %s", tc.id, status, data)
		}
		waitCamera(t, addr, tc.id, 15*time.Second, tc.state+" "+tc.reason, func(m map[string]any) bool {
			return m["state"] == tc.state && m["error"] == tc.reason
		})
	}
	if status, _, _ := apiJSON(t, http.MethodGet, base+"/healthz", nil); status != http.StatusOK {
		t.Fatalf("healthz %d", status)
	}
	if strings.Contains(s.logs.String(), rtspPassword) {
		t.Fatal("the logs show the password")
	}
}
