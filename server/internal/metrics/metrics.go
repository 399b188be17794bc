// Package metrics exposes livemon's Prometheus metrics. Per-camera figures
// are read at scrape time from a function that returns them as Camera
// values (the HTTP layer adapts the camera manager's stats to it) (nothing is updated per
// frame on the hot path except two histograms); server-wide counters are
// incremented by the HTTP layer. Labels are bounded: camera ids, transports
// and outcomes only, never session ids.
//
// All methods are safe for concurrent use.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/livemon/livemon/server/internal/media"
)

// Camera is one camera's figures at scrape time.
type Camera struct {
	ID                          media.CameraID
	Running                     bool // running or starting
	Offline                     bool // a live source that does not answer
	FPS                         float64
	LastFrameAge                *time.Duration // nil without a frame
	Published, Encoded, Decoded uint64
	Restarts                    int
	Errors                      int               // recent errors kept
	Drops                       map[string]uint64 // by transport
	Viewers                     map[string]int    // by transport
	// Renditions holds the figures of each rendition (media.Rendition)
	// that exists for the camera.
	Renditions map[media.Rendition]Rendition
}

// Rendition is one rendition's figures.
type Rendition struct {
	// Frames counts the frames produced (encoded, or passed through) and
	// published in the rendition: it grows only while the rendition is
	// watched.
	Frames  uint64
	Viewers int // over every transport
}

// Metrics holds the registry and the server-wide instruments.
type Metrics struct {
	reg *prometheus.Registry

	uploads         *prometheus.CounterVec
	uploadBytes     *prometheus.CounterVec
	sessionsCreated prometheus.Counter
	sessionsResumed prometheus.Counter
	wsConnections   prometheus.Gauge
	encodeSeconds   *prometheus.HistogramVec
	frameBytes      *prometheus.HistogramVec
}

// New registers every server-wide metric; WatchCameras adds the per-camera
// ones.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "livemon_uploads_total", Help: "Video uploads by outcome (ok or an error code).",
		}, []string{"outcome"}),
		uploadBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "livemon_upload_bytes_total", Help: "Bytes received in video uploads by outcome.",
		}, []string{"outcome"}),
		sessionsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "livemon_ws_sessions_created_total", Help: "WebSocket sessions created.",
		}),
		sessionsResumed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "livemon_ws_sessions_resumed_total", Help: "WebSocket sessions resumed.",
		}),
		wsConnections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "livemon_ws_connections", Help: "Open WebSocket connections.",
		}),
		encodeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "livemon_jpeg_encode_seconds", Help: "Time to decode and JPEG-encode one frame.",
			Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .2},
		}, []string{"camera"}),
		frameBytes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "livemon_frame_bytes", Help: "Size of encoded JPEG frames.",
			Buckets: prometheus.ExponentialBuckets(8<<10, 2, 8),
		}, []string{"camera"}),
	}
	reg.MustRegister(m.uploads, m.uploadBytes, m.sessionsCreated, m.sessionsResumed, m.wsConnections,
		m.encodeSeconds, m.frameBytes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WatchCameras registers the per-camera metrics, read from cameras at
// scrape time. Call it once.
func (m *Metrics) WatchCameras(cameras func() []Camera) {
	m.reg.MustRegister(&cameraCollector{cameras: cameras})
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Upload records an upload's outcome ("ok" or an API error code).
func (m *Metrics) Upload(outcome string, bytes int64) {
	if m == nil {
		return
	}
	m.uploads.WithLabelValues(outcome).Inc()
	m.uploadBytes.WithLabelValues(outcome).Add(float64(bytes))
}

// Session records a WebSocket session opened, resumed or not.
func (m *Metrics) Session(resumed bool) {
	if m == nil {
		return
	}
	if resumed {
		m.sessionsResumed.Inc()
	} else {
		m.sessionsCreated.Inc()
	}
}

// Connection tracks open WebSocket connections (+1 on open, -1 on close).
func (m *Metrics) Connection(delta int) {
	if m == nil {
		return
	}
	m.wsConnections.Add(float64(delta))
}

// Encoded records one encoded frame.
func (m *Metrics) Encoded(cam media.CameraID, d time.Duration, size int) {
	if m == nil {
		return
	}
	m.encodeSeconds.WithLabelValues(string(cam)).Observe(d.Seconds())
	m.frameBytes.WithLabelValues(string(cam)).Observe(float64(size))
}

// ForgetCamera drops a deleted camera's histogram series (the other
// per-camera series are read at scrape time and vanish with the camera).
// It implements camera.Forgetter.
func (m *Metrics) ForgetCamera(_ context.Context, cam media.CameraID) error {
	if m == nil {
		return nil
	}
	m.encodeSeconds.DeleteLabelValues(string(cam))
	m.frameBytes.DeleteLabelValues(string(cam))
	return nil
}

var (
	descPublished  = prometheus.NewDesc("livemon_frames_published_total", "Frames published to viewers.", []string{"camera"}, nil)
	descEncoded    = prometheus.NewDesc("livemon_frames_encoded_total", "Frames JPEG-encoded.", []string{"camera"}, nil)
	descDecoded    = prometheus.NewDesc("livemon_frames_decoded_total", "Frames read from the video file.", []string{"camera"}, nil)
	descDropped    = prometheus.NewDesc("livemon_frames_dropped_total", "Frames a viewer skipped because a newer one replaced them.", []string{"camera", "transport"}, nil)
	descFPS        = prometheus.NewDesc("livemon_camera_fps", "Frames published per second, measured.", []string{"camera"}, nil)
	descViewers    = prometheus.NewDesc("livemon_viewers", "Current viewers.", []string{"camera", "transport"}, nil)
	descAge        = prometheus.NewDesc("livemon_last_frame_age_seconds", "Age of the camera's latest frame.", []string{"camera"}, nil)
	descRestarts   = prometheus.NewDesc("livemon_decoder_restarts_total", "Decoder restarts after errors.", []string{"camera"}, nil)
	descErrors     = prometheus.NewDesc("livemon_decoder_errors", "Recent decoder errors kept (up to 10).", []string{"camera"}, nil)
	descRunning    = prometheus.NewDesc("livemon_camera_running", "1 while the camera's decoder runs (running or starting).", []string{"camera"}, nil)
	descOffline    = prometheus.NewDesc("livemon_camera_offline", "1 while the camera's live source does not answer (state offline).", []string{"camera"}, nil)
	descRendFrames = prometheus.NewDesc("livemon_rendition_frames_total",
		"Frames produced (encoded, or passed through) and published per rendition; a rendition nobody watches does not grow.", []string{"camera", "rendition"}, nil)
	descRendViewers = prometheus.NewDesc("livemon_rendition_viewers", "Current viewers per rendition (every transport).", []string{"camera", "rendition"}, nil)
)

// cameraCollector reads per-camera figures at scrape time.
type cameraCollector struct{ cameras func() []Camera }

func (c *cameraCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPublished, descEncoded, descDecoded, descDropped, descFPS, descViewers, descAge, descRestarts, descErrors, descRunning, descOffline, descRendFrames, descRendViewers} {
		ch <- d
	}
}

func (c *cameraCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.cameras() {
		id := string(s.ID)
		ch <- prometheus.MustNewConstMetric(descPublished, prometheus.CounterValue, float64(s.Published), id)
		ch <- prometheus.MustNewConstMetric(descEncoded, prometheus.CounterValue, float64(s.Encoded), id)
		ch <- prometheus.MustNewConstMetric(descDecoded, prometheus.CounterValue, float64(s.Decoded), id)
		for _, tr := range media.Transports() {
			t := string(tr)
			ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(s.Drops[t]), id, t)
			ch <- prometheus.MustNewConstMetric(descViewers, prometheus.GaugeValue, float64(s.Viewers[t]), id, t)
		}
		ch <- prometheus.MustNewConstMetric(descFPS, prometheus.GaugeValue, s.FPS, id)
		if s.LastFrameAge != nil {
			ch <- prometheus.MustNewConstMetric(descAge, prometheus.GaugeValue, s.LastFrameAge.Seconds(), id)
		}
		ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(s.Restarts), id)
		ch <- prometheus.MustNewConstMetric(descErrors, prometheus.GaugeValue, float64(s.Errors), id)
		running := 0.0
		if s.Running {
			running = 1
		}
		ch <- prometheus.MustNewConstMetric(descRunning, prometheus.GaugeValue, running, id)
		offline := 0.0
		if s.Offline {
			offline = 1
		}
		ch <- prometheus.MustNewConstMetric(descOffline, prometheus.GaugeValue, offline, id)
		for _, r := range media.Renditions() {
			if f, ok := s.Renditions[r]; ok {
				ch <- prometheus.MustNewConstMetric(descRendFrames, prometheus.CounterValue, float64(f.Frames), id, string(r))
				ch <- prometheus.MustNewConstMetric(descRendViewers, prometheus.GaugeValue, float64(f.Viewers), id, string(r))
			}
		}
	}
}
