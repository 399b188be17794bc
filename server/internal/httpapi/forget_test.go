package httpapi

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// cachedFrame is the frame the wire cache holds for cam, or nil.
func (e *env) cachedFrame(cam media.CameraID) *media.Frame {
	w := &e.api.wire
	w.mu.Lock()
	defer w.mu.Unlock()
	if en := w.m[wireKey{cam, media.RenditionFull}]; en != nil {
		return en.frame
	}
	return nil
}

// A WebSocket viewer of a camera that is deleted and created again with
// the same id: it hears "deleted" and gets no more frames of the old
// camera; subscribing again (as the web app does when the camera is back
// in its list) shows the new camera's video, at a higher epoch than the
// old camera ever had.
func TestDeleteRecreateWebSocketViewer(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/cam/video", "a.avi", synthVideo(1, 900))
	if status, _ := e.json(http.MethodPost, "/api/cameras/cam/restart", nil); status != http.StatusOK {
		t.Fatalf("restart: %d", status)
	}
	c := e.mustDial(t)
	c.hello("")
	c.send(map[string]any{"type": "subscribe", "camera": "cam"})
	sub := c.message("subscribed")
	oldChannel := uint32(sub["channel"].(float64))
	old := c.frame()
	if old.epoch != 2 || old.video != 1 {
		t.Fatalf("before delete: %+v, want video 1 at epoch 2", old)
	}

	if status, _ := e.do(http.MethodDelete, "/api/cameras/cam", nil, nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d", status)
	}
	// Frames already on their way may precede the event; none may follow
	// (checked below: every frame after it is the new camera's).
	deadline := time.Now().Add(3 * time.Second)
	for {
		m, _, err := c.next(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for the deleted event: %v", err)
		}
		if m != nil && m["type"] == "event" && m["event"] == "deleted" {
			break
		}
	}
	if status, body := e.json(http.MethodPost, "/api/cameras", map[string]any{"id": "cam", "name": "Again"}); status != http.StatusCreated {
		t.Fatalf("re-create: %d %v", status, body)
	} else if ep := body["epoch"].(float64); uint64(ep) < old.epoch {
		t.Fatalf("re-created camera at epoch %v, below the old camera's %d", ep, old.epoch)
	}
	c.send(map[string]any{"type": "subscribe", "camera": "cam"})
	sub = c.message("subscribed")
	newChannel := uint32(sub["channel"].(float64))
	if newChannel == oldChannel {
		t.Fatalf("the re-created camera has the old channel %d", oldChannel)
	}
	e.upload("/api/cameras/cam/video", "b.avi", synthVideo(2, 900))
	for range 10 {
		f := c.frame()
		if f.channel != newChannel || f.video != 2 || f.epoch <= old.epoch {
			t.Fatalf("after re-create and upload: frame %+v, want video 2 on channel %d at an epoch above %d", f, newChannel, old.epoch)
		}
	}
}

// Deleting a camera that only MJPEG viewers watched drops its cached frame
// and its metric series: one call (camera.Manager.Delete) is heard by the
// hub, the HTTP layer, metrics and sessions.
func TestDeleteForgetsMJPEGCamera(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/m/video", "a.avi", synthVideo(1, 900))
	resp, err := e.srv.Client().Get(e.url("/api/cameras/m/mjpeg"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	if _, err := io.ReadAtLeast(resp.Body, buf, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a cached MJPEG frame", 3*time.Second, func() bool { return e.cachedFrame("m") != nil })
	_, metricsBefore := e.do(http.MethodGet, "/metrics", nil, nil)
	if !strings.Contains(string(metricsBefore), `camera="m"`) {
		t.Fatal("no metric series for the camera before delete")
	}

	if status, _ := e.do(http.MethodDelete, "/api/cameras/m", nil, nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d", status)
	}
	// The stream ends with the camera.
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		ended <- err
	}()
	select {
	case <-ended:
	case <-time.After(3 * time.Second):
		t.Fatal("the MJPEG stream outlived its camera")
	}
	if f := e.cachedFrame("m"); f != nil {
		t.Fatalf("the deleted camera's frame (epoch %d seq %d) is still cached", f.Epoch, f.Seq)
	}
	_, metricsAfter := e.do(http.MethodGet, "/metrics", nil, nil)
	if strings.Contains(string(metricsAfter), `camera="m"`) {
		t.Fatal("metric series of the deleted camera remain")
	}
}

// A session subscribed to a deleted camera does not get it back on resume.
func TestDeleteForgetsSessionSubscription(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/s/video", "a.avi", synthVideo(1, 900))
	c := e.mustDial(t)
	sess := c.hello("")["session"].(string)
	c.send(map[string]any{"type": "subscribe", "camera": "s"})
	c.message("subscribed")
	c.frame()
	c.conn.Close()
	waitFor(t, "the session to disconnect", 3*time.Second, func() bool { return e.api.deps.Sessions.Count() == 0 })
	if err := e.cams.Delete(context.Background(), "s"); err != nil {
		t.Fatal(err)
	}
	e.upload("/api/cameras/s/video", "b.avi", synthVideo(2, 900))
	c2 := e.mustDial(t)
	w := c2.hello(sess)
	if subs := w["subscriptions"].([]any); w["resumed"] != true || len(subs) != 0 {
		t.Fatalf("resume after delete: %v, want resumed without subscriptions", w)
	}
}

// A forgotten camera's frame that a viewer still sends is not cached
// again; the frames of a camera created again with the id are.
func TestWireCacheForget(t *testing.T) {
	c := newWireCache()
	old := &media.Frame{Camera: "c", Epoch: 3, Seq: 10, JPEG: []byte{1}}
	c.mjpegHeader(old)
	c.forget("c")
	c.mjpegHeader(old)
	if c.m[wireKey{"c", media.RenditionFull}] != nil {
		t.Fatal("a deleted camera's frame was cached again")
	}
	again := &media.Frame{Camera: "c", Epoch: 4, Seq: 1, JPEG: []byte{2}}
	c.mjpegHeader(again)
	if en := c.m[wireKey{"c", media.RenditionFull}]; en == nil || en.frame != again {
		t.Fatal("the re-created camera's frame is not cached")
	}
	if len(c.forgotten) != 0 {
		t.Fatalf("forgotten = %v after the id's new frames, want empty", c.forgotten)
	}
}

// POST /api/cameras and an upload that would create a camera beyond
// --max-cameras answer 503 camera_limit.
func TestMaxCameras(t *testing.T) {
	e := newEnv(t, envOptions{maxCameras: 1})
	if status, _ := e.json(http.MethodPost, "/api/cameras", map[string]any{"id": "a"}); status != http.StatusCreated {
		t.Fatalf("first camera: %d", status)
	}
	status, body := e.json(http.MethodPost, "/api/cameras", map[string]any{"id": "b"})
	if status != http.StatusServiceUnavailable || errCode(body) != "camera_limit" {
		t.Fatalf("camera over the cap: %d %v", status, body)
	}
	status, body = e.upload("/api/cameras/c/video", "a.avi", synthVideo(1, 30))
	if status != http.StatusServiceUnavailable || errCode(body) != "camera_limit" {
		t.Fatalf("upload creating a camera over the cap: %d %v", status, body)
	}
	if status, body = e.upload("/api/cameras/a/video", "a.avi", synthVideo(1, 30)); status != http.StatusCreated {
		t.Fatalf("upload to an existing camera at the cap: %d %v", status, body)
	}
}
