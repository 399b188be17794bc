package httpapi

import (
	"bytes"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/livemon/livemon/server/internal/synth"
)

// wideVideo is a 640x360 synthetic video: its grid rendition is 480x270.
func wideVideo(video int) []byte {
	return []byte(synth.Spec{Video: video, Frames: 9000, FPS: 30, Width: 640, Height: 360}.String())
}

// jpegWidth is a JPEG's width, failing the test if it is not one.
func jpegWidth(t *testing.T, b []byte) int {
	t.Helper()
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a JPEG: %v", err)
	}
	return cfg.Width
}

// subscribeTo subscribes c to cam in rendition r and returns the channel
// of the subscribed reply, checking that it names r.
func (c *wsClient) subscribeTo(cam, r string) uint32 {
	c.t.Helper()
	msg := map[string]any{"type": "subscribe", "camera": cam}
	if r != "" {
		msg["rendition"] = r
	}
	c.send(msg)
	sub := c.message("subscribed")
	want := r
	if want == "" {
		want = "full"
	}
	if sub["camera"] != cam || sub["rendition"] != want {
		c.t.Fatalf("subscribed = %v, want camera %s rendition %s", sub, cam, want)
	}
	return uint32(sub["channel"].(float64))
}

// A WebSocket subscription names its rendition: grid frames are scaled and
// at most 10 a second on a channel of their own; switching to full keeps
// sending grid until full's first frame, and never after; resume restores
// the rendition.
func TestWebSocketRenditions(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/r/video", "a.avi", wideVideo(4))
	c := e.mustDial(t)
	sess := c.hello("")["session"].(string)

	c.send(map[string]any{"type": "subscribe", "camera": "r", "rendition": "thumb"})
	if m := c.message("error"); m["code"] != "invalid_argument" || m["camera"] != "r" ||
		!strings.Contains(m["message"].(string), `unknown rendition "thumb"`) {
		t.Fatalf("unknown rendition: %v", m)
	}

	grid := c.subscribeTo("r", "grid")
	var last *wsFrame
	for range 5 {
		f := c.frame()
		if f.channel != grid || f.w != 480 || f.h != 270 || f.video != 4 {
			t.Fatalf("grid frame %+v, want 480x270 on channel %d", f, grid)
		}
		if last != nil && f.seq < last.seq+3 {
			t.Fatalf("grid seqs %d then %d: more than 10 fps", last.seq, f.seq)
		}
		last = f
	}

	full := c.subscribeTo("r", "")
	if full == grid {
		t.Fatal("full and grid share a channel")
	}
	fulls := 0
	for i := 0; fulls < 10; i++ {
		if i > 300 {
			t.Fatalf("%d full frames in %d", fulls, i)
		}
		f := c.frame()
		switch {
		case f.channel == grid && fulls > 0:
			t.Fatalf("a grid frame after full's first (seq %d)", f.seq)
		case f.channel == grid:
			if f.seq <= last.seq {
				t.Fatalf("grid went backwards: %d after %d", f.seq, last.seq)
			}
		case f.channel == full:
			if f.w != 640 || f.h != 360 || f.seq <= last.seq {
				t.Fatalf("full frame %+v after %+v", f, last)
			}
			fulls++
		default:
			t.Fatalf("frame on unknown channel %d", f.channel)
		}
		last = f
	}

	// Back to grid, then resume: the session brings grid back.
	if ch := c.subscribeTo("r", "grid"); ch != grid {
		t.Fatalf("grid channel %d, was %d", ch, grid)
	}
	for i, f := 0, c.frame(); f.channel != grid; i, f = i+1, c.frame() {
		if i > 300 {
			t.Fatal("no grid frame after switching back")
		}
	}
	c.conn.Close()
	c2 := e.mustDial(t)
	w := c2.hello(sess)
	subs := w["subscriptions"].([]any)
	if len(subs) != 1 {
		t.Fatalf("restored %v", subs)
	}
	s := subs[0].(map[string]any)
	if s["camera"] != "r" || s["rendition"] != "grid" || uint32(s["channel"].(float64)) != grid {
		t.Fatalf("restored subscription %v, want r in grid on channel %d", s, grid)
	}
	if f := c2.frame(); f.channel != grid || f.w != 480 {
		t.Fatalf("resumed frame %+v, want grid", f)
	}
	// The grid's frames show in /metrics.
	_, body := e.do(http.MethodGet, "/metrics", nil, nil)
	if !strings.Contains(string(body), `livemon_rendition_frames_total{camera="r",rendition="grid"}`) {
		t.Fatal("/metrics lacks the grid rendition's frames")
	}
}

// mjpegParts reads n parts of an MJPEG stream.
func (e *env) mjpegParts(t *testing.T, path string, n int) [][]byte {
	t.Helper()
	resp, err := e.srv.Client().Get(e.url(path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("%s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var out [][]byte
	for range n {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// MJPEG, snapshot and the legacy stream take ?rendition=; an unknown one
// is a 400 that says which exist.
func TestHTTPRenditions(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/h/video", "a.avi", wideVideo(6))
	for _, path := range []string{"/api/cameras/h/mjpeg", "/api/live-monitoring/stream/h?loop=true"} {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		for _, r := range []struct {
			q     string
			width int
		}{{"", 640}, {sep + "rendition=full", 640}, {sep + "rendition=grid", 480}} {
			for _, part := range e.mjpegParts(t, path+r.q, 3) {
				if w := jpegWidth(t, part); w != r.width {
					t.Fatalf("%s%s: part %d wide, want %d", path, r.q, w, r.width)
				}
			}
		}
		status, body := e.do(http.MethodGet, path+sep+"rendition=huge", nil, nil)
		if status != http.StatusBadRequest || !strings.Contains(string(body), `unknown rendition \"huge\": use one of full, grid`) {
			t.Fatalf("%s with an unknown rendition: %d %s", path, status, body)
		}
	}
	status, body := e.do(http.MethodGet, "/api/cameras/h/snapshot.jpg?rendition=grid", nil, nil)
	if status != http.StatusOK || jpegWidth(t, body) != 480 {
		t.Fatalf("grid snapshot: %d", status)
	}
	if status, _ := e.do(http.MethodGet, "/api/cameras/h/snapshot.jpg?rendition=x", nil, nil); status != http.StatusBadRequest {
		t.Fatalf("snapshot with an unknown rendition: %d", status)
	}
}

// A camera's own grid rendition (PATCH grid) applies at once, is kept,
// and 0 goes back to the server's.
func TestCameraGridSetting(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/g/video", "a.avi", wideVideo(7))
	grid := func(body map[string]any) map[string]any {
		t.Helper()
		g, _ := body["grid"].(map[string]any)
		if g == nil {
			t.Fatalf("camera without grid: %v", body)
		}
		return g
	}
	_, cam := e.json(http.MethodGet, "/api/cameras/g", nil)
	if g := grid(cam); g["width"] != 480.0 || g["fps"] != 10.0 {
		t.Fatalf("default grid %v", g)
	}
	status, cam := e.json(http.MethodPatch, "/api/cameras/g", map[string]any{"grid": map[string]any{"width": 320}})
	if g := grid(cam); status != http.StatusOK || g["width"] != 320.0 || g["fps"] != 10.0 ||
		g["own"].(map[string]any)["width"] != 320.0 || g["own"].(map[string]any)["fps"] != 0.0 {
		t.Fatalf("PATCH grid: %d %v", status, cam)
	}
	for _, part := range e.mjpegParts(t, "/api/cameras/g/mjpeg?rendition=grid", 3) {
		if w := jpegWidth(t, part); w != 320 {
			t.Fatalf("grid part %d wide after PATCH, want 320", w)
		}
	}
	for _, bad := range []map[string]any{{"width": 10}, {"fps": 100}, {"fps": -1}} {
		if status, body := e.json(http.MethodPatch, "/api/cameras/g", map[string]any{"grid": bad}); status != http.StatusBadRequest || errCode(body) != "invalid_argument" {
			t.Fatalf("PATCH grid %v: %d %v", bad, status, body)
		}
	}
	status, cam = e.json(http.MethodPatch, "/api/cameras/g", map[string]any{"grid": map[string]any{"width": 0, "fps": 0}})
	if g := grid(cam); status != http.StatusOK || g["width"] != 480.0 {
		t.Fatalf("PATCH grid back to the server's: %d %v", status, cam)
	}
}
