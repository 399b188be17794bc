package metrics

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

// Per-camera series come from the figures function at scrape time; a
// camera's histograms go when it is forgotten.
func TestCameraSeries(t *testing.T) {
	m := New()
	age := 1500 * time.Millisecond
	cams := []Camera{{
		ID: "a", Running: true, FPS: 29.5, LastFrameAge: &age, Published: 10, Encoded: 9, Decoded: 12,
		Restarts: 1, Errors: 2, Drops: map[string]uint64{"mjpeg": 3}, Viewers: map[string]int{"websocket": 2},
		Renditions: map[media.Rendition]Rendition{media.RenditionFull: {Frames: 10, Viewers: 1}, media.RenditionGrid: {Frames: 4, Viewers: 1}},
	}, {ID: "live", Offline: true}}
	m.WatchCameras(func() []Camera { return cams })
	m.Encoded("a", 3*time.Millisecond, 20000)
	out := scrape(t, m)
	for _, want := range []string{
		`livemon_frames_published_total{camera="a"} 10`,
		`livemon_frames_decoded_total{camera="a"} 12`,
		`livemon_frames_dropped_total{camera="a",transport="mjpeg"} 3`,
		`livemon_frames_dropped_total{camera="a",transport="websocket"} 0`,
		`livemon_viewers{camera="a",transport="websocket"} 2`,
		`livemon_last_frame_age_seconds{camera="a"} 1.5`,
		`livemon_decoder_errors{camera="a"} 2`,
		`livemon_camera_running{camera="a"} 1`,
		`livemon_camera_offline{camera="a"} 0`,
		`livemon_camera_offline{camera="live"} 1`,
		`livemon_jpeg_encode_seconds_count{camera="a"} 1`,
		`livemon_rendition_frames_total{camera="a",rendition="full"} 10`,
		`livemon_rendition_frames_total{camera="a",rendition="grid"} 4`,
		`livemon_rendition_viewers{camera="a",rendition="grid"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	cams = cams[1:]
	if err := m.ForgetCamera(context.Background(), media.CameraID("a")); err != nil {
		t.Fatal(err)
	}
	if out := scrape(t, m); strings.Contains(out, `camera="a"`) {
		t.Fatal("series of a forgotten camera remain")
	}
}
