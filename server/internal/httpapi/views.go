package httpapi

import (
	"context"
	"time"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/metrics"
)

// The read models of the camera package, shaped for clients: the camera
// object of the API (docs/api.md), /api/stats and the per-camera metrics.

// cameraJSON is the camera object of the HTTP API and of WebSocket events.
type cameraJSON struct {
	ID             media.CameraID `json:"id"`
	Name           string         `json:"name"`
	Loop           bool           `json:"loop"`
	Speed          float64        `json:"speed"`
	State          media.State    `json:"state"`
	Error          string         `json:"error"`
	ErrorCode      string         `json:"error_code"` // API code of Error, e.g. "decoder_limit"; "" if none
	Epoch          uint64         `json:"epoch"`
	Seq            uint64         `json:"seq"`
	Position       float64        `json:"position"`
	Channel        uint32         `json:"channel"`
	Viewers        map[string]int `json:"viewers"`
	LastFrameAgeMS *int64         `json:"last_frame_age_ms"`
	FPS            float64        `json:"fps"`
	Video          *videoJSON     `json:"video"`
	Source         sourceJSON     `json:"source"`
	Grid           cameraGridJSON `json:"grid"`
}

// gridJSON is a grid rendition's size and rate (docs/protocol.md,
// Renditions); in an update, 0 is the server's (--grid-width, --grid-fps).
type gridJSON struct {
	Width int     `json:"width"`
	FPS   float64 `json:"fps"`
}

// cameraGridJSON is the grid rendition a camera plays and its own setting.
type cameraGridJSON struct {
	Width int      `json:"width"`
	FPS   float64  `json:"fps"`
	Own   gridJSON `json:"own"`
}

// sourceJSON is what feeds a camera. url never carries the password
// (camera.SourceView is redacted).
type sourceJSON struct {
	Kind      media.SourceKind `json:"kind"`
	URL       string           `json:"url"`
	Transport string           `json:"transport"`
}

// videoJSON describes a camera's current video. It never names a server
// path.
type videoJSON struct {
	Upload   string  `json:"upload"`
	Name     string  `json:"name"`
	Size     int64   `json:"size"`
	Width    int     `json:"width"`
	Height   int     `json:"height"`
	FPS      float64 `json:"fps"`
	Frames   int64   `json:"frames"`
	Duration float64 `json:"duration"`
}

func cameraView(v camera.View) cameraJSON {
	out := cameraJSON{
		ID: v.ID, Name: v.Name, Loop: v.Loop, Speed: v.Speed, State: v.State, Error: v.Error, ErrorCode: v.ErrorCode,
		Epoch: v.Epoch, Seq: v.Seq, Position: v.Position, Channel: v.Channel, Viewers: v.Viewers, FPS: v.FPS,
		Source: sourceJSON{Kind: v.Source.Kind, URL: v.Source.URL, Transport: v.Source.Transport},
		Grid: cameraGridJSON{Width: v.Grid.Width, FPS: v.Grid.FPS,
			Own: gridJSON{Width: v.GridOwn.Width, FPS: v.GridOwn.FPS}},
	}
	if out.Source.Kind == "" {
		out.Source.Kind = media.SourceFile
	}
	if out.Viewers == nil {
		out.Viewers = map[string]int{}
	}
	if v.LastFrameAge != nil {
		ms := v.LastFrameAge.Milliseconds()
		out.LastFrameAgeMS = &ms
	}
	if vid := v.Video; vid != nil {
		out.Video = &videoJSON{
			Upload: vid.Upload, Name: vid.Name, Size: vid.Size, Width: vid.Width, Height: vid.Height,
			FPS: vid.FPS, Frames: vid.Frames, Duration: vid.Duration.Seconds(),
		}
	}
	return out
}

func cameraViews(vs []camera.View) []cameraJSON {
	out := make([]cameraJSON, len(vs))
	for i, v := range vs {
		out[i] = cameraView(v)
	}
	return out
}

// statsBody is the /api/stats response.
type statsBody struct {
	Server  serverStats       `json:"server"`
	Cameras []cameraStatsJSON `json:"cameras"`
}

type serverStats struct {
	Version       string  `json:"version"`
	UptimeSeconds float64 `json:"uptime_s"`
	Sessions      int     `json:"sessions"`
	WSConnections int     `json:"ws_connections"`
}

// cameraStatsJSON is a camera object plus its counters and recent errors.
type cameraStatsJSON struct {
	cameraJSON
	Drops     map[string]uint64 `json:"drops"`
	Published uint64            `json:"published"`
	Encoded   uint64            `json:"encoded"`
	Grabbed   uint64            `json:"grabbed"`
	Restarts  int               `json:"restarts"`
	Errors    []errorRecordJSON `json:"errors"`
}

type errorRecordJSON struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
}

func cameraStats(st []camera.Stats) []cameraStatsJSON {
	out := make([]cameraStatsJSON, len(st))
	for i, s := range st {
		errs := make([]errorRecordJSON, len(s.Errors))
		for j, e := range s.Errors {
			errs[j] = errorRecordJSON{Time: e.Time, Message: e.Message}
		}
		out[i] = cameraStatsJSON{
			cameraJSON: cameraView(s.View), Drops: s.Drops, Published: s.Published,
			Encoded: s.Encoded, Grabbed: s.Grabbed, Restarts: s.Restarts, Errors: errs,
		}
	}
	return out
}

// cameraFigures gives metrics the per-camera figures at scrape time.
func (s *Server) cameraFigures() []metrics.Camera {
	st := s.deps.Cameras.Stats()
	out := make([]metrics.Camera, len(st))
	for i, c := range st {
		out[i] = metrics.Camera{
			ID:      c.ID,
			Running: c.State == media.StateRunning || c.State == media.StateStarting,
			Offline: c.State == media.StateOffline,
			FPS:     c.FPS, LastFrameAge: c.LastFrameAge,
			Published: c.Published, Encoded: c.Encoded, Decoded: c.Grabbed,
			Restarts: c.Restarts, Errors: len(c.Errors), Drops: c.Drops, Viewers: c.Viewers,
			Renditions: s.renditionFigures(c.ID),
		}
	}
	return out
}

// renditionFigures reads a camera's per-rendition figures from the hub.
func (s *Server) renditionFigures(id media.CameraID) map[media.Rendition]metrics.Rendition {
	out := map[media.Rendition]metrics.Rendition{}
	for _, r := range media.Renditions() {
		st, ok := s.deps.Hub.RenditionStats(id, r)
		if !ok {
			continue
		}
		n := 0
		for _, v := range st.Viewers {
			n += v
		}
		out[r] = metrics.Rendition{Frames: st.Published, Viewers: n}
	}
	return out
}

// ForgetCamera drops what the HTTP layer caches about a deleted camera:
// its frame in the wire cache (kept for MJPEG as well as WebSocket
// viewers). It implements camera.Forgetter. Each WebSocket connection
// ends its own subscription when the deleted event reaches it.
func (s *Server) ForgetCamera(_ context.Context, id media.CameraID) error {
	s.wire.forget(id)
	return nil
}
