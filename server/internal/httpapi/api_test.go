package httpapi

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/synth"
)

func TestUploadHappyPath(t *testing.T) {
	e := newEnv(t, envOptions{})
	status, body := e.upload("/api/cameras/cam1/video", "clip.mp4", synthVideo(1, 90))
	if status != http.StatusCreated {
		t.Fatalf("status %d: %v", status, body)
	}
	if id, _ := body["upload"].(string); !strings.HasPrefix(id, "u_") {
		t.Fatalf("upload id = %v", body["upload"])
	}
	probe := body["probe"].(map[string]any)
	if probe["width"].(float64) != 96 || probe["fps"].(float64) != 30 || probe["frames"].(float64) != 90 {
		t.Fatalf("probe = %v", probe)
	}
	cam := body["camera"].(map[string]any)
	if cam["epoch"].(float64) != 1 || cam["video"].(map[string]any)["name"] != "clip.mp4" {
		t.Fatalf("camera = %v", cam)
	}
	// Frames of the new video arrive.
	f := e.snapshotMarker(t, "cam1")
	if f.video != 1 {
		t.Fatalf("snapshot shows video %d", f.video)
	}
}

func TestUploadLimits(t *testing.T) {
	const limit = 4096
	e := newEnv(t, envOptions{maxUpload: limit})
	if st, _ := e.upload("/api/cameras/keep/video", "a.avi", synthVideo(7, 300)); st != http.StatusCreated {
		t.Fatal("first upload failed")
	}
	before := e.dataFiles()

	spec := synthVideo(2, 90)
	padded := func(n int) []byte { return append(bytes.Clone(spec), bytes.Repeat([]byte(" "), n-len(spec))...) }
	tests := []struct {
		name    string
		content []byte
		file    string
		status  int
		code    string
	}{
		{"at the limit", padded(limit), "b.avi", http.StatusCreated, ""},
		{"one byte over", padded(limit + 1), "c.avi", http.StatusRequestEntityTooLarge, "too_large"},
		{"text renamed mp4", []byte("hello, I am not a video\n"), "fake.mp4", http.StatusUnsupportedMediaType, "unsupported_media"},
		{"empty file", nil, "empty.mp4", http.StatusUnsupportedMediaType, "unsupported_media"},
		{"unusable video", []byte("SYNTH frames=0\n"), "zero.avi", http.StatusUnprocessableEntity, "unusable_video"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.upload("/api/cameras/other/video", tt.file, tt.content)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, body)
			}
			if tt.code != "" && errCode(body) != tt.code {
				t.Fatalf("code %q, want %q", errCode(body), tt.code)
			}
		})
	}
	// Failed uploads left nothing behind and did not touch "keep".
	after := e.dataFiles()
	if len(after) != len(before)+1 { // +1: the accepted "at the limit" upload
		t.Fatalf("files before %v, after %v", before, after)
	}
	if f := e.snapshotMarker(t, "keep"); f.video != 7 {
		t.Fatalf("camera keep shows video %d after failed uploads", f.video)
	}
}

func TestUploadLyingContentLength(t *testing.T) {
	e := newEnv(t, envOptions{maxUpload: 4096})
	body, ct := multipartBody(t, "video", "x.avi", bytes.Repeat([]byte("x"), 10<<20))
	req, _ := http.NewRequest(http.MethodPost, e.url("/api/cameras/c/video"), body)
	req.Header.Set("Content-Type", ct)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if files := e.dataFiles(); len(files) != 0 {
		t.Fatalf("left files %v", files)
	}
}

func TestInvalidCameraIDs(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, id := range []string{"bad%20id", "..%2Fx", "%2e%2e%2f", "a%5Cb", strings.Repeat("a", 65), "%2Fetc%2Fpasswd"} {
		t.Run(id, func(t *testing.T) {
			status, body := e.json(http.MethodGet, "/api/cameras/"+id, nil)
			if status != http.StatusBadRequest && status != http.StatusNotFound || body["error"] == nil {
				t.Fatalf("GET %s: %d %v", id, status, body)
			}
		})
	}
	status, body := e.json(http.MethodPost, "/api/cameras", map[string]any{"id": "../x", "name": "x"})
	if status != http.StatusBadRequest {
		t.Fatalf("create with bad id: %d %v", status, body)
	}
	status, _ = e.do(http.MethodPost, "/api/live-monitoring/upload-video?camera_id=x&video_path=/etc/passwd", strings.NewReader(""), nil)
	if status != http.StatusBadRequest {
		t.Fatalf("video_path accepted: %d", status)
	}
}

func TestCameraCRUD(t *testing.T) {
	e := newEnv(t, envOptions{})
	status, cam := e.json(http.MethodPost, "/api/cameras", map[string]any{"name": "Front Door"})
	if status != http.StatusCreated || cam["id"] != "front-door" || cam["loop"] != true || cam["speed"].(float64) != 1 {
		t.Fatalf("create: %d %v", status, cam)
	}
	if status, body := e.json(http.MethodPost, "/api/cameras", map[string]any{"id": "front-door", "name": "x"}); status != http.StatusConflict {
		t.Fatalf("duplicate: %d %v", status, body)
	}
	if status, body := e.json(http.MethodPatch, "/api/cameras/front-door", map[string]any{"speed": 9}); status != http.StatusBadRequest {
		t.Fatalf("speed 9: %d %v", status, body)
	}
	if status, body := e.json(http.MethodPatch, "/api/cameras/front-door", map[string]any{"bogus": 1}); status != http.StatusBadRequest {
		t.Fatalf("unknown field: %d %v", status, body)
	}
	status, cam = e.json(http.MethodPatch, "/api/cameras/front-door", map[string]any{"name": "Back", "loop": false, "speed": 2})
	if status != http.StatusOK || cam["name"] != "Back" || cam["loop"] != false || cam["speed"].(float64) != 2 {
		t.Fatalf("patch: %d %v", status, cam)
	}
	if status, body := e.json(http.MethodPost, "/api/cameras/front-door/start", nil); status != http.StatusConflict {
		t.Fatalf("start without video: %d %v", status, body)
	}
	_, list := e.json(http.MethodGet, "/api/cameras", nil)
	if n := len(list["cameras"].([]any)); n != 1 {
		t.Fatalf("list has %d cameras", n)
	}
	if status, _ := e.do(http.MethodDelete, "/api/cameras/front-door", nil, nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d", status)
	}
	if status, _ := e.json(http.MethodGet, "/api/cameras/front-door", nil); status != http.StatusNotFound {
		t.Fatalf("get deleted: %d", status)
	}
	if status, body := e.json(http.MethodGet, "/api/nope", nil); status != http.StatusNotFound || errCode(body) != "not_found" {
		t.Fatalf("unknown route: %d %v", status, body)
	}
}

func TestDeleteRemovesFiles(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/d/video", "a.avi", synthVideo(1, 30))
	if len(e.dataFiles()) != 1 {
		t.Fatalf("files %v", e.dataFiles())
	}
	if status, _ := e.do(http.MethodDelete, "/api/cameras/d", nil, nil); status != http.StatusNoContent {
		t.Fatal(status)
	}
	if files := e.dataFiles(); len(files) != 0 {
		t.Fatalf("files left after delete: %v", files)
	}
}

func TestCrossSiteWritesRejected(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, method := range []string{http.MethodPost, http.MethodPatch, http.MethodDelete} {
		status, _ := e.do(method, "/api/cameras", strings.NewReader(`{"name":"x"}`), http.Header{
			"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"},
		})
		if status != http.StatusForbidden {
			t.Fatalf("%s cross-site: %d", method, status)
		}
	}
	status, _ := e.json(http.MethodGet, "/api/cameras", nil)
	if status != http.StatusOK {
		t.Fatal("GET rejected")
	}
}

type marked struct {
	video, frame int
	epoch, seq   uint64
}

// snapshotMarker fetches a snapshot and reads its marker.
func (e *env) snapshotMarker(t *testing.T, cam string) marked {
	t.Helper()
	resp, err := e.srv.Client().Get(e.url("/api/cameras/" + cam + "/snapshot.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("snapshot: %d %s", resp.StatusCode, data)
	}
	v, f, ok := synth.ReadMarker(data)
	if !ok {
		t.Fatal("snapshot has no marker")
	}
	epoch, _ := strconv.ParseUint(resp.Header.Get("X-Epoch"), 10, 64)
	seq, _ := strconv.ParseUint(resp.Header.Get("X-Seq"), 10, 64)
	return marked{video: v, frame: f, epoch: epoch, seq: seq}
}

// readMJPEG reads parts from an MJPEG stream for d.
func (e *env) readMJPEG(t *testing.T, path string, d time.Duration) []marked {
	t.Helper()
	resp, err := e.srv.Client().Get(e.url(path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/x-mixed-replace" {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var out []marked
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		data, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		if cl, _ := strconv.Atoi(p.Header.Get("Content-Length")); cl != len(data) {
			t.Fatalf("Content-Length %d, part has %d bytes", cl, len(data))
		}
		v, f, ok := synth.ReadMarker(data)
		if !ok {
			t.Fatal("part without marker")
		}
		seq, _ := strconv.ParseUint(p.Header.Get("X-Seq"), 10, 64)
		epoch, _ := strconv.ParseUint(p.Header.Get("X-Epoch"), 10, 64)
		out = append(out, marked{video: v, frame: f, seq: seq, epoch: epoch})
	}
	return out
}

func TestMJPEGRateAndOrder(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/m/video", "a.avi", synthVideo(3, 900))
	parts := e.readMJPEG(t, "/api/cameras/m/mjpeg", 2*time.Second)
	// 30 fps for 2 s; generous bounds for a loaded CI machine.
	if len(parts) < 40 || len(parts) > 65 {
		t.Fatalf("%d parts in 2s, want about 60", len(parts))
	}
	for i, p := range parts {
		if p.video != 3 {
			t.Fatalf("part %d shows video %d", i, p.video)
		}
		if i > 0 && p.seq <= parts[i-1].seq {
			t.Fatalf("seq not increasing: %d then %d", parts[i-1].seq, p.seq)
		}
	}
	span := parts[len(parts)-1].frame - parts[0].frame
	if span < 45 || span > 70 {
		t.Fatalf("video advanced %d frames in 2s, want about 60", span)
	}
}

// The newest upload is what plays: after uploading B, no frame of A.
func TestNewestUploadPlays(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/n/video", "a.avi", synthVideo(1, 900))
	done := make(chan []marked)
	go func() { done <- e.readMJPEG(t, "/api/cameras/n/mjpeg", 1500*time.Millisecond) }()
	time.Sleep(300 * time.Millisecond)
	status, body := e.upload("/api/cameras/n/video", "b.avi", synthVideo(2, 900))
	if status != http.StatusCreated || body["camera"].(map[string]any)["epoch"].(float64) != 2 {
		t.Fatalf("second upload: %d %v", status, body)
	}
	parts := <-done
	sawB := false
	for _, p := range parts {
		if p.video == 2 {
			sawB = true
			if p.epoch != 2 {
				t.Fatalf("video B with epoch %d", p.epoch)
			}
		} else if sawB {
			t.Fatal("video A shown after video B")
		}
	}
	if !sawB {
		t.Fatal("video B never shown")
	}
	if files := e.dataFiles(); len(files) != 1 {
		t.Fatalf("previous upload not removed: %v", files)
	}
}

func TestLegacyRoutes(t *testing.T) {
	e := newEnv(t, envOptions{})
	body, ct := multipartBody(t, "video", "legacy.avi", synthVideo(4, 900))
	status, data := e.do(http.MethodPost, "/api/live-monitoring/upload-video?camera_id=old", body, http.Header{"Content-Type": {ct}})
	if status != http.StatusCreated {
		t.Fatalf("legacy upload: %d %s", status, data)
	}
	first := e.readMJPEG(t, "/api/live-monitoring/stream/old?loop=true&speed=1&t=1", 500*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	second := e.readMJPEG(t, "/api/live-monitoring/stream/old?loop=false&speed=3&t=999", 500*time.Millisecond)
	a, b := first[len(first)-1], second[0]
	if b.epoch != a.epoch || b.seq <= a.seq || b.video != 4 {
		t.Fatalf("legacy stream restarted the video: %+v then %+v", a, b)
	}
	_, cam := e.json(http.MethodGet, "/api/cameras/old", nil)
	if cam["speed"].(float64) != 1 || cam["loop"] != true {
		t.Fatalf("legacy query changed settings: %v", cam)
	}
	// A stopped camera is not started by the legacy route:
	// TestLegacyStreamDoesNotStartCamera.
}

func TestSpeedChangeIsLive(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/s/video", "a.avi", synthVideo(1, 3000))
	before := e.snapshotMarker(t, "s")
	status, cam := e.json(http.MethodPatch, "/api/cameras/s", map[string]any{"speed": 2})
	if status != http.StatusOK || cam["epoch"].(float64) != float64(before.epoch) {
		t.Fatalf("patch: %d %v", status, cam)
	}
	after := e.snapshotMarker(t, "s")
	if after.epoch != before.epoch || after.seq <= before.seq || after.frame < before.frame {
		t.Fatalf("speed change restarted: before %+v after %+v", before, after)
	}
	parts := e.readMJPEG(t, "/api/cameras/s/mjpeg", time.Second)
	span := parts[len(parts)-1].frame - parts[0].frame
	if span < 40 {
		t.Fatalf("at speed 2 the video advanced %d frames in ~1s, want about 60", span)
	}
}

func TestRestartNewEpoch(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/r/video", "a.avi", synthVideo(1, 3000))
	time.Sleep(500 * time.Millisecond)
	status, cam := e.json(http.MethodPost, "/api/cameras/r/restart", nil)
	if status != http.StatusOK || cam["epoch"].(float64) != 2 {
		t.Fatalf("restart: %d %v", status, cam)
	}
	f := e.snapshotMarker(t, "r")
	if f.epoch != 2 || f.frame > 20 {
		t.Fatalf("after restart: %+v", f)
	}
}

func TestHealthAndReady(t *testing.T) {
	e := newEnv(t, envOptions{})
	if status, body := e.json(http.MethodGet, "/healthz", nil); status != 200 || body["status"] != "ok" {
		t.Fatalf("healthz %d %v", status, body)
	}
	if status, body := e.json(http.MethodGet, "/readyz", nil); status != 200 || body["status"] != "ready" {
		t.Fatalf("readyz %d %v", status, body)
	}
	// A data dir that cannot be written to makes the server not ready.
	tmp := filepath.Join(e.dir, "tmp")
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	status, body := e.json(http.MethodGet, "/readyz", nil)
	if status != http.StatusServiceUnavailable || body["checks"].(map[string]any)["data_dir"] != "failed" {
		t.Fatalf("readyz with unwritable data dir: %d %v", status, body)
	}
	if status, _ := e.json(http.MethodGet, "/healthz", nil); status != 200 {
		t.Fatal("healthz must not depend on the data dir")
	}
}

// metricValue returns the value of the sample line starting with prefix.
func metricValue(t *testing.T, text, prefix string) float64 {
	t.Helper()
	v, ok := metricSample(text, prefix)
	if !ok {
		t.Fatalf("no metric %s", prefix)
	}
	return v
}

// metricSample is metricValue without failing: ok is false when there is
// no such sample or it is not a number.
func metricSample(text, prefix string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, prefix)), 64)
			return v, err == nil
		}
	}
	return 0, false
}

func TestMetricsMove(t *testing.T) {
	e := newEnv(t, envOptions{sendBuffer: 16 << 10})
	// Large frames and small socket buffers, so a viewer that does not
	// read stalls the server's writes soon.
	e.upload("/api/cameras/x/video", "a.avi", []byte(synth.Spec{Video: 1, Frames: 9000, FPS: 30, Width: 640, Height: 360, Noise: true}.String()))
	scrape := func() string {
		_, data := e.do(http.MethodGet, "/metrics", nil, nil)
		return string(data)
	}
	// Two WebSocket viewers, one reading and one stalled, and one MJPEG
	// viewer.
	c := e.mustDial(t)
	c.hello("")
	c.send(map[string]any{"type": "subscribe", "camera": "x"})
	c.message("subscribed")
	e.dialStalled(t, "x")
	resp, err := e.srv.Client().Get(e.url("/api/cameras/x/mjpeg"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	const wsDrops = `livemon_frames_dropped_total{camera="x",transport="websocket"}`
	var m1 string
	waitFor(t, "two WebSocket viewers and one MJPEG viewer", 5*time.Second, func() bool {
		m1 = scrape()
		ws, _ := metricSample(m1, `livemon_viewers{camera="x",transport="websocket"}`)
		mj, _ := metricSample(m1, `livemon_viewers{camera="x",transport="mjpeg"}`)
		return ws == 2 && mj == 1
	})
	d1 := metricValue(t, m1, wsDrops)
	// The stalled viewer's socket fills; its writer blocks and newer
	// frames replace the one waiting in its mailbox: drops.
	var m2 string
	began := time.Now()
	waitFor(t, "the WebSocket drop counter to move", 15*time.Second, func() bool {
		m2 = scrape()
		d2, _ := metricSample(m2, wsDrops)
		return d2 > d1
	})
	t.Logf("drops moved after %v", time.Since(began).Round(time.Millisecond))
	for _, name := range []string{`livemon_frames_encoded_total{camera="x"}`, `livemon_frames_published_total{camera="x"}`} {
		if a, b := metricValue(t, m1, name), metricValue(t, m2, name); b <= a {
			t.Fatalf("%s did not grow: %v -> %v", name, a, b)
		}
	}
	if v := metricValue(t, m2, `livemon_uploads_total{outcome="ok"}`); v != 1 {
		t.Fatalf("uploads ok = %v", v)
	}
	if v := metricValue(t, m2, `livemon_jpeg_encode_seconds_count{camera="x"}`); v == 0 {
		t.Fatal("no encode durations observed")
	}
	if v := metricValue(t, m2, `livemon_ws_sessions_created_total`); v != 2 {
		t.Fatalf("sessions created = %v", v)
	}
	for _, want := range []string{"go_goroutines", "process_cpu_seconds_total", "livemon_frame_bytes_bucket"} {
		if !contains(m2, want) {
			t.Fatalf("metrics lack %q", want)
		}
	}
	if strings.Contains(m2, "session=") {
		t.Fatal("a metric is labelled by session")
	}
}
