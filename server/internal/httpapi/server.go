// Package httpapi is livemon's HTTP surface: the JSON API, uploads, MJPEG,
// snapshots, the WebSocket and the embedded web app. routes.go lists every
// route.
//
// Contract: NewServer returns a Server that serves requests concurrently.
// Long-lived responses (WebSockets, MJPEG streams) end when their client
// leaves or when Close is called; Close waits for all of them, so it is
// registered with http.Server.RegisterOnShutdown (Shutdown does not wait
// for hijacked connections).
package httpapi

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/metrics"
	"github.com/livemon/livemon/server/internal/session"
	"github.com/livemon/livemon/server/internal/store"
)

// Config are the HTTP layer's settings.
type Config struct {
	MaxUpload int64 // largest accepted video file, bytes
	// MaxUploadText is MaxUpload as the operator wrote it ("5MB"), for
	// messages; empty: MaxUpload in binary units.
	MaxUploadText  string
	AllowedOrigins []string // extra origins allowed for writes and WebSockets
	// AllowedHosts are the host names (besides localhost and IP
	// literals) accepted in the Host header: ".example.com" is that domain
	// and its subdomains, "*" turns the check off.
	AllowedHosts []string
	Version      string
	// Token, if set, is required on every API, WebSocket and stream request.
	Token string
	// MaxViewers and MaxViewersPerCamera cap viewers (0: no cap).
	MaxViewers          int
	MaxViewersPerCamera int
	// BodyIdleTimeout cuts a request body that sends nothing for this
	// long (408); 0: no limit. See bodyIdle.
	BodyIdleTimeout time.Duration
	// MaxUploads and MaxUploadsPerClient cap uploads in progress over the
	// server and per client address (503 upload_limit; 0: no cap).
	MaxUploads          int
	MaxUploadsPerClient int
	// MaxSubscriptions caps the cameras one WebSocket subscribes to
	// (subscription_limit; 0: no cap).
	MaxSubscriptions int
}

// Deps are the HTTP layer's collaborators.
type Deps struct {
	Config   Config
	Cameras  Cameras
	Hub      *hub.Hub
	Store    *store.Store
	Sessions *session.Manager
	Logger   *slog.Logger
	// WebUI is the built web app (index.html at its root); nil serves a
	// short notice instead.
	WebUI fs.FS
	// Metrics records server-wide figures and serves /metrics; nil
	// disables both.
	Metrics *metrics.Metrics
	// Edges is the cluster's edge list on an edge (nil on a single node):
	// GET /api/edges lists it, and pages of the other live edges may open
	// WebSockets and call the API here (origin check, CSP connect-src).
	Edges Edges
}

// Edges is the live edge list of a cluster (cluster.Edges).
type Edges interface {
	// List returns the live edges' public URLs (scheme://host[:port],
	// lower case), this edge's included.
	List() []string
	// Allows reports whether origin is a live edge's.
	Allows(origin string) bool
}

// Cameras is what the HTTP layer needs of the cameras: *camera.Manager on
// a single node (and an ingest), the cluster's edge read model on an
// edge. Errors are media errors whose kind gives the HTTP status.
type Cameras interface {
	List() []camera.View
	Get(media.CameraID) (camera.View, error)
	Stats() []camera.Stats
	// Supervising reports whether the cameras are being run (readiness).
	Supervising() bool
	Create(context.Context, media.CameraID, camera.Settings) (camera.View, error)
	Update(context.Context, media.CameraID, camera.Settings) (camera.View, error)
	Delete(context.Context, media.CameraID) error
	Start(context.Context, media.CameraID) (camera.View, error)
	Stop(context.Context, media.CameraID) (camera.View, error)
	Restart(context.Context, media.CameraID) (camera.View, error)
	PublishUpload(ctx context.Context, id media.CameraID, tf *store.TempFile, originalName string) (camera.Upload, error)
	// Subscribe returns camera events and a function ending them.
	Subscribe() (<-chan camera.Event, func())
}

var _ Cameras = (*camera.Manager)(nil)

// Server is the HTTP handler.
type Server struct {
	deps    Deps
	log     *slog.Logger
	handler http.Handler
	started time.Time
	wire    wireCache
	auth    *auth
	hosts   hostPolicy
	origins originPolicy
	viewers *capacity
	uploads *uploadSlots
	timing  timing

	// closing is closed by Close; streams watch it.
	closing   chan struct{}
	closeOnce sync.Once
	streams   sync.WaitGroup

	mu    sync.Mutex
	conns map[*wsConn]struct{}
}

// NewServer builds the handler.
func NewServer(deps Deps) *Server {
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Config.MaxUpload <= 0 {
		deps.Config.MaxUpload = 2 << 30
	}
	s := &Server{
		deps:    deps,
		log:     deps.Logger,
		started: time.Now(),
		wire:    newWireCache(),
		auth:    newAuth(deps.Config.Token),
		hosts:   newHostPolicy(deps.Config.AllowedHosts),
		timing:  defaultTiming,
		viewers: newCapacity(deps.Config.MaxViewers, deps.Config.MaxViewersPerCamera),
		uploads: newUploadSlots(deps.Config.MaxUploads, deps.Config.MaxUploadsPerClient),
		closing: make(chan struct{}),
		conns:   make(map[*wsConn]struct{}),
	}
	router := httprouter.New()
	router.RedirectTrailingSlash = false
	router.RedirectFixedPath = false
	router.HandleMethodNotAllowed = true
	router.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: errorDetail{Code: "method_not_allowed", Message: "method not allowed"}})
	})
	router.PanicHandler = func(w http.ResponseWriter, r *http.Request, v any) {
		s.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: errorDetail{Code: "internal", Message: "internal server error"}})
	}
	if deps.Metrics != nil {
		deps.Metrics.WatchCameras(s.cameraFigures)
	}
	s.origins = newOriginPolicy(deps.Config.AllowedOrigins, func(o string, err error) {
		s.log.Warn("ignoring allowed origin", "origin", o, "err", err)
	})
	s.routes(router)
	s.handler = s.securityHeaders(s.checkHost(s.checkOrigin(s.requireToken(s.bodyIdle(router)))))
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Close ends every WebSocket and stream and waits for their goroutines.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.streams.Wait()
}

// stream registers a long-lived response; it returns false once closing.
func (s *Server) stream() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closing:
		return false
	default:
	}
	s.streams.Add(1)
	return true
}
