package httpapi

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
)

// routes maps the whole API. docs/api.md describes each route.
func (s *Server) routes(r *httprouter.Router) {
	// Probes answer HEAD too (load balancers and uptime checkers use it).
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		r.Handler(m, "/healthz", s.handleHealth())
		r.Handler(m, "/readyz", s.handleReady())
	}
	if s.deps.Metrics != nil {
		r.Handler(http.MethodGet, "/metrics", s.deps.Metrics.Handler())
	}

	r.Handler(http.MethodPost, "/api/login", s.handleLogin())
	r.Handler(http.MethodGet, "/api/auth", s.handleAuthStatus())

	r.Handler(http.MethodGet, "/api/cameras", s.handleListCameras())
	r.Handler(http.MethodPost, "/api/cameras", s.handleCreateCamera())
	r.Handler(http.MethodGet, "/api/cameras/:id", s.handleGetCamera())
	r.Handler(http.MethodPatch, "/api/cameras/:id", s.handleUpdateCamera())
	r.Handler(http.MethodDelete, "/api/cameras/:id", s.handleDeleteCamera())
	r.Handler(http.MethodPost, "/api/cameras/:id/video", s.handleUpload(pathCamera, uploadAnswer))
	r.Handler(http.MethodPost, "/api/cameras/:id/start", s.handleControl(s.deps.Cameras.Start))
	r.Handler(http.MethodPost, "/api/cameras/:id/stop", s.handleControl(s.deps.Cameras.Stop))
	r.Handler(http.MethodPost, "/api/cameras/:id/restart", s.handleControl(s.deps.Cameras.Restart))
	r.Handler(http.MethodGet, "/api/cameras/:id/mjpeg", s.handleMJPEG(pathCamera, false))
	r.Handler(http.MethodGet, "/api/cameras/:id/snapshot.jpg", s.handleSnapshot())
	r.Handler(http.MethodGet, "/api/stats", s.handleStats())
	r.Handler(http.MethodGet, "/api/edges", s.handleEdges())
	r.Handler(http.MethodGet, "/api/ws", s.handleWebSocket())

	// Legacy routes of the earlier prototype's client.
	r.Handler(http.MethodPost, "/api/live-monitoring/upload-video", s.handleUpload(queryCamera, legacyUploadAnswer))
	r.Handler(http.MethodGet, "/api/live-monitoring/stream/:id", s.handleMJPEG(legacyStreamCamera, true))

	// Unknown /api/ paths get a JSON 404; everything else is the web app.
	r.NotFound = s.handleNotFound()
}
