package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
)

// cameraFrom extracts and validates the camera id of a request.
type cameraFrom func(r *http.Request) (media.CameraID, error)

func pathCamera(r *http.Request) (media.CameraID, error) {
	return media.ParseCameraID(httprouter.ParamsFromContext(r.Context()).ByName("id"))
}

// errVideoPath answers a video_path that is not an upload id: no
// parameter ever names a file.
var errVideoPath = media.Errorf(media.KindInvalid, "video_path is not accepted: upload the file instead")

// queryCamera is the legacy upload's ?camera_id=.
func queryCamera(r *http.Request) (media.CameraID, error) {
	q := r.URL.Query()
	if q.Has("video_path") {
		return "", errVideoPath
	}
	return media.ParseCameraID(q.Get("camera_id"))
}

// legacyStreamCamera is the legacy stream's path id. A video_path is the
// token the legacy upload answered with (an upload id) and is ignored: the
// stream is the camera's current run. Anything else there is refused.
func legacyStreamCamera(r *http.Request) (media.CameraID, error) {
	if q := r.URL.Query(); q.Has("video_path") && !store.IsUploadID(q.Get("video_path")) {
		return "", errVideoPath
	}
	return pathCamera(r)
}

// lookupCamera returns the request's camera, or writes the error and
// returns false.
func (s *Server) lookupCamera(w http.ResponseWriter, r *http.Request, from cameraFrom) (camera.View, bool) {
	id, err := from(r)
	if err == nil {
		var v camera.View
		if v, err = s.deps.Cameras.Get(id); err == nil {
			return v, true
		}
	}
	writeError(w, r, s.log, err)
	return camera.View{}, false
}

func (s *Server) handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func (s *Server) handleReady() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		checks := map[string]string{"database": "ok", "data_dir": "ok", "decoders": "ok"}
		status := http.StatusOK
		if err := s.deps.Store.Ready(ctx); err != nil {
			s.log.Warn("not ready", "err", err)
			checks["database"] = "failed"
			checks["data_dir"] = "failed"
			status = http.StatusServiceUnavailable
		}
		if !s.deps.Cameras.Supervising() {
			checks["decoders"] = "not running"
			status = http.StatusServiceUnavailable
		}
		body := map[string]any{"status": "ready", "checks": checks}
		if status != http.StatusOK {
			body["status"] = "not_ready"
		}
		writeJSON(w, status, body)
	})
}

func (s *Server) handleListCameras() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"cameras": cameraViews(s.deps.Cameras.List())})
	})
}

type cameraRequest struct {
	ID     *string        `json:"id"`
	Name   *string        `json:"name"`
	Loop   *bool          `json:"loop"`
	Speed  *float64       `json:"speed"`
	Source *sourceRequest `json:"source"`
	Grid   *gridJSON      `json:"grid"`
}

// sourceRequest is a live source URL (rtsp, rtsps, http or https) and an
// RTSP source's transport.
type sourceRequest struct {
	URL       string `json:"url"`
	Transport string `json:"transport"`
}

func (r cameraRequest) settings() camera.Settings {
	s := camera.Settings{Name: r.Name, Loop: r.Loop, Speed: r.Speed}
	if r.Source != nil {
		s.Source = &camera.Source{URL: r.Source.URL, Transport: r.Source.Transport}
	}
	if r.Grid != nil {
		s.Grid = &media.Grid{Width: r.Grid.Width, FPS: r.Grid.FPS}
	}
	return s
}

var nonIDChars = regexp.MustCompile(`[^a-z0-9_-]+`)

// nameHashLen is how many hex digits of the name's SHA-256 an id derived
// from a name carries when its readable form is not enough (40 bits).
const nameHashLen = 10

// idsFromName returns the ids a camera created with only a name tries, in
// order: the readable slug of the name ("Front Door" -> "front-door"), then
// the slug followed by a hash of the exact name ("front-door-1f2e3d4c5b").
// A name with no ASCII letters or digits (Korean, for example) has only the
// hashed form, "camera-<hash>". Distinct names therefore never share all
// their candidates, so two different names created at the same moment get
// two different ids without the client retrying; the same name twice gets
// the slug, then the hashed form, then a conflict.
func idsFromName(name string) []string {
	name = strings.TrimSpace(name)
	slug := strings.Trim(nonIDChars.ReplaceAllString(strings.ToLower(name), "-"), "-")
	sum := sha256.Sum256([]byte(name))
	hash := hex.EncodeToString(sum[:])[:nameHashLen]
	if slug == "" {
		return []string{"camera-" + hash}
	}
	slug = strings.TrimRight(slug[:min(len(slug), 64)], "-")
	short := strings.TrimRight(slug[:min(len(slug), 64-1-nameHashLen)], "-")
	return []string{slug, short + "-" + hash}
}

func (s *Server) handleCreateCamera() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req cameraRequest
		if err := decodeJSON(r, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if req.Name == nil && req.ID == nil {
			writeError(w, r, s.log, media.Errorf(media.KindInvalid, "name is required"))
			return
		}
		var ids []string
		if req.ID != nil {
			ids = []string{*req.ID}
		} else {
			ids = idsFromName(*req.Name)
		}
		var v camera.View
		var err error
		for i, raw := range ids {
			var id media.CameraID
			if id, err = media.ParseCameraID(raw); err != nil {
				break
			}
			v, err = s.deps.Cameras.Create(r.Context(), id, req.settings())
			if !media.IsKind(err, media.KindConflict) || i == len(ids)-1 {
				break
			}
		}
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusCreated, cameraView(v))
	})
}

func (s *Server) handleGetCamera() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v, ok := s.lookupCamera(w, r, pathCamera); ok {
			writeJSON(w, http.StatusOK, cameraView(v))
		}
	})
}

func (s *Server) handleUpdateCamera() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathCamera(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		var req cameraRequest
		if err := decodeJSON(r, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if req.ID != nil && *req.ID != string(id) {
			writeError(w, r, s.log, media.Errorf(media.KindInvalid, "a camera's id cannot be changed"))
			return
		}
		v, err := s.deps.Cameras.Update(r.Context(), id, req.settings())
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, cameraView(v))
	})
}

func (s *Server) handleDeleteCamera() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathCamera(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		// Delete makes the hub, sessions, metrics and this server's
		// caches forget the camera (camera.Forgetter).
		if err := s.deps.Cameras.Delete(r.Context(), id); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func (s *Server) handleControl(op func(context.Context, media.CameraID) (camera.View, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathCamera(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		v, err := op(r.Context(), id)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, cameraView(v))
	})
}

func (s *Server) handleStats() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		conns := len(s.conns)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, statsBody{
			Server: serverStats{
				Version:       s.deps.Config.Version,
				UptimeSeconds: time.Since(s.started).Seconds(),
				Sessions:      s.deps.Sessions.Count(),
				WSConnections: conns,
			},
			Cameras: cameraStats(s.deps.Cameras.Stats()),
		})
	})
}

func (s *Server) handleNotFound() http.Handler {
	ui := s.handleWebUI()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") || r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeJSON(w, http.StatusNotFound, errorBody{Error: errorDetail{Code: "not_found", Message: "no such route"}})
			return
		}
		ui.ServeHTTP(w, r)
	})
}
