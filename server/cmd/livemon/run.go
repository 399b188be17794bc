package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/httpapi"
	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/live"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/metrics"
	"github.com/livemon/livemon/server/internal/opencv"
	"github.com/livemon/livemon/server/internal/session"
	"github.com/livemon/livemon/server/internal/store"
	"github.com/livemon/livemon/server/internal/webui"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const shutdownTimeout = 4 * time.Second

// run is the whole program: it serves until ctx ends, then shuts down.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "gen-video" {
		return genVideo(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "fake-camera" {
		return fakeCamera(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && isChildCommand(args[0]) {
		return runChild(ctx, args[0], args[1:])
	}
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	if cfg.Insecure && cfg.Token == "" && !loopback(cfg.Addr) {
		log.Warn("listening on a non-loopback address without a token: anyone who can reach it controls livemon", "addr", cfg.Addr)
	}

	if cfg.Role == roleIngest {
		return runIngest(ctx, cfg, cfg.NATS, log, stderr)
	}
	st, err := store.Open(ctx, cfg.Data)
	if err != nil {
		return fmt.Errorf("open data dir: %w", err)
	}
	defer st.Close()
	h := hub.New(hub.WithLinger(cfg.Linger))
	mets := metrics.New()
	if cfg.Role == roleEdge {
		return runEdge(ctx, cfg, log, st, h, mets)
	}

	opener, prober, scaler, closeDecoders := decoders(cfg, stderr)
	defer closeDecoders() // after the decoders: serve waits for them, or they never started
	cams := camera.New(cameraConfig(cfg), camera.Deps{Store: st, Hub: h, Opener: opener, Prober: prober, Logger: log, OnEncode: mets.Encoded, Scaler: scaler})
	if err := cams.Load(ctx); err != nil {
		return err
	}
	if cfg.Demo {
		if err := ensureDemo(ctx, st, cams, log); err != nil {
			log.Warn("demo camera not created", "err", err)
		}
	}
	sessions := session.New(st, cfg.SessionTTL, time.Now)
	api := newAPI(cfg, log, cams, h, st, sessions, mets, nil)
	// Deleting a camera is one call (camera.Manager.Delete) that these
	// hear, besides the hub.
	cams.AddForgetter(sessions)
	cams.AddForgetter(mets)
	cams.AddForgetter(api)
	return serve(ctx, cfg, log, api, sessions, func(bgCtx context.Context) { _ = cams.Run(bgCtx) })
}

// newAPI builds the HTTP handler of any role.
func newAPI(cfg config, log *slog.Logger, cams httpapi.Cameras, h *hub.Hub, st *store.Store, sessions *session.Manager, mets *metrics.Metrics, edges httpapi.Edges) *httpapi.Server {
	return httpapi.NewServer(httpapi.Deps{
		Config: httpapi.Config{
			MaxUpload:           cfg.MaxUpload,
			MaxUploadText:       cfg.MaxUploadText,
			AllowedOrigins:      cfg.AllowedOrigins,
			AllowedHosts:        cfg.AllowedHosts,
			Version:             version,
			Token:               cfg.Token,
			MaxViewers:          cfg.MaxViewers,
			MaxViewersPerCamera: cfg.MaxPerCamera,
			BodyIdleTimeout:     cfg.BodyIdleTimeout,
			MaxUploads:          cfg.MaxUploads,
			MaxUploadsPerClient: cfg.MaxUploadsPerClient,
			MaxSubscriptions:    cfg.MaxSubscriptions,
		},
		Cameras:  cams,
		Hub:      h,
		Store:    st,
		Sessions: sessions,
		Logger:   log,
		WebUI:    webui.FS(),
		Metrics:  mets,
		Edges:    edges,
	})
}

// serve listens on cfg.Addr and serves api until ctx ends, with the
// session upkeep and the tasks running beside it; then it shuts down
// gracefully, waits for the tasks and flushes the sessions.
func serve(ctx context.Context, cfg config, log *slog.Logger, api *httpapi.Server, sessions *session.Manager, tasks ...func(context.Context)) error {
	srv := &http.Server{
		Handler:           api,
		ConnContext:       httpapi.ConnContext, // MJPEG sizes its send buffer
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(api.Close)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("livemon listening", "addr", "http://"+ln.Addr().String(), "role", cfg.Role, "data", cfg.Data, "version", version, "decoder", cfg.Decoder, "max_decoders", cfg.MaxDecoders)

	// Background work, each owned here and waited for below.
	bgCtx, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	tasks = append(tasks, func(ctx context.Context) { maintainSessions(ctx, sessions, log) })
	for _, task := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			task(bgCtx)
		}()
	}
	err = serveUntil(ctx, srv, ln)
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	if serr := srv.Shutdown(sctx); serr != nil {
		log.Warn("http shutdown", "err", serr)
		_ = srv.Close()
	}
	cancel()
	api.Close()
	stopBG()
	wg.Wait()
	fctx, cancel := context.WithTimeout(context.Background(), time.Second)
	if ferr := sessions.Flush(fctx); ferr != nil {
		log.Warn("session flush", "err", ferr)
	}
	cancel()
	log.Info("stopped")
	return err
}

// serveUntil serves srv on ln until ctx ends (nil) or serving fails; the
// caller shuts srv down, which ends the serving goroutine.
func serveUntil(ctx context.Context, srv *http.Server, ln net.Listener) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		return nil
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	}
}

// decoders is the decoder backend --decoder, --decoder-spares and
// --max-decoders ask for; call the func it returns after the decoders
// stopped.
func decoders(cfg config, stderr io.Writer) (decoder.Opener, camera.Prober, decoder.Scaler, func()) {
	opener, prober, closeSpares := decoderBackend(cfg.Decoder, cfg.DecoderSpares, stderr)
	// The scaler's children do not count against --max-decoders.
	scaler, closeScaler := gridScaler(opener)
	if cfg.MaxDecoders > 0 {
		opener = decoder.NewLimit(opener, cfg.MaxDecoders)
	}
	return opener, prober, scaler, func() {
		closeScaler() // before the spares it may take children from
		closeSpares()
	}
}

// cameraConfig is the camera manager's configuration from the flags.
func cameraConfig(cfg config) camera.Config {
	return camera.Config{
		Quality:      cfg.Quality,
		MaxFPS:       cfg.MaxFPS,
		Grid:         cfg.Grid,
		ProbeTimeout: cfg.ProbeTimeout,
		MaxCameras:   cfg.MaxCameras,
		Live:         live.Timings{SnapshotInterval: cfg.SnapshotInterval},
	}
}

// maintainSessions persists delivered positions and removes expired
// sessions until ctx ends.
func maintainSessions(ctx context.Context, sessions *session.Manager, log *slog.Logger) {
	flush := time.NewTicker(2 * time.Second)
	defer flush.Stop()
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-flush.C:
			if err := sessions.Flush(ctx); err != nil && ctx.Err() == nil {
				log.Warn("session flush", "err", err)
			}
		case <-sweep.C:
			if n, err := sessions.Sweep(ctx); err != nil && ctx.Err() == nil {
				log.Warn("session sweep", "err", err)
			} else if n > 0 {
				log.Debug("expired sessions removed", "count", n)
			}
		}
	}
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// inProcessProber adapts opencv.Probe to camera.Prober.
type inProcessProber struct{}

func (inProcessProber) Probe(ctx context.Context, path string) (media.VideoInfo, error) {
	return opencv.Probe(ctx, path, opencv.Limits{})
}

// ensureDemo gives an empty database a camera "demo" playing a generated
// video, so a first start shows a moving picture.
func ensureDemo(ctx context.Context, st *store.Store, cams *camera.Manager, log *slog.Logger) error {
	existing, err := st.Cameras(ctx)
	if err != nil || len(existing) > 0 {
		return err
	}
	dir, err := os.MkdirTemp("", "livemon-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "demo.avi")
	if err := opencv.WriteVideo(src, opencv.VideoSpec{VideoID: 1, Frames: 300, Width: 640, Height: 360, FPS: 30, Quality: 80, Label: "livemon demo"}); err != nil {
		return fmt.Errorf("generate demo video: %w", err)
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	tf, err := st.CreateTemp()
	if err != nil {
		return err
	}
	if _, err := io.Copy(tf, f); err != nil {
		tf.Abort()
		return err
	}
	if _, err := cams.PublishUpload(ctx, "demo", tf, "demo.avi"); err != nil {
		return err
	}
	if _, err := cams.Update(ctx, "demo", camera.Settings{Name: ptr("Demo")}); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("demo camera created", "camera", "demo")
	return nil
}

func ptr[T any](v T) *T { return &v }
