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
	"sync"
	"time"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/cluster"
	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/metrics"
	"github.com/livemon/livemon/server/internal/store"
)

// runIngest is `--role ingest`: it runs the cameras the cluster gives
// this node (cluster.Ingest: leases, records, the owner API), publishes
// their watched frames once on NATS (cluster.Publisher) and serves only
// /healthz and /metrics on --addr. Its data dir is a cache of the cameras
// it runs now; the cameras live in NATS. When ctx ends it hands its
// cameras back to the other ingests before it stops them.
func runIngest(ctx context.Context, cfg config, natsURLs []string, log *slog.Logger, stderr io.Writer) error {
	st, err := store.Open(ctx, cfg.Data)
	if err != nil {
		return fmt.Errorf("open data dir: %w", err)
	}
	defer st.Close()
	node := nodeName("ingest", cfg.Addr)
	log = log.With("role", "ingest", "node", node)
	conn, err := cluster.Connect(ctx, cluster.Options{URLs: natsURLs, Name: node, Logger: log})
	if err != nil {
		return err
	}
	defer conn.Close()

	h := hub.New(hub.WithLinger(cfg.Linger))
	opener, prober, scaler, closeDecoders := decoders(cfg, stderr)
	defer closeDecoders()
	mets := metrics.New()
	// ing observes the manager's checkpoints; it is set before the
	// manager's Run starts calling the observer.
	var ing *cluster.Ingest
	cams := camera.New(cameraConfig(cfg), camera.Deps{Store: st, Hub: h, Opener: opener, Prober: prober, Logger: log,
		OnEncode: mets.Encoded, Scaler: scaler, OnCheckpoint: func(cp camera.Checkpoint) { ing.ObserveCheckpoint(cp) }})
	// No Load: the stored cameras of an earlier run belong to whoever
	// holds them now; Adopt replaces a stale row.
	ing = cluster.NewIngest(cluster.IngestDeps{Node: node, Conn: conn.NATS(), Cameras: conn.Cameras, Owners: conn.Owners,
		Epochs: conn.Epochs, Videos: conn.Videos, Manager: cams, Store: st, Logger: log})
	pub, err := cluster.NewPublisher(conn, h, cluster.PublisherOptions{Owns: ing.Owns, Logger: log})
	if err != nil {
		return err
	}
	defer pub.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !conn.NATS().IsConnected() {
			http.Error(w, `{"status":"nats disconnected"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	mux.Handle("GET /metrics", mets.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("livemon ingest running", "addr", "http://"+ln.Addr().String(), "nats", conn.NATS().ConnectedUrlRedacted(),
		"replicas", conn.Replicas(), "version", version)

	// The manager runs until the ingest has handed every camera back.
	camCtx, stopCams := context.WithCancel(context.Background())
	ingCtx, stopIngest := context.WithCancel(context.Background())
	var camsDone, ingDone sync.WaitGroup
	camsDone.Add(1)
	go func() {
		defer camsDone.Done()
		_ = cams.Run(camCtx)
	}()
	// An ingest that cannot watch the buckets ends the node (its
	// supervisor restarts it) instead of idling.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	ingErr := make(chan error, 1)
	ingDone.Add(1)
	go func() {
		defer ingDone.Done()
		if err := ing.Run(ingCtx); err != nil {
			ingErr <- err
			stopRun()
		}
	}()
	err = serveUntil(runCtx, srv, ln)
	log.Info("shutting down: handing cameras back")
	stopIngest()
	ingDone.Wait()
	select {
	case ierr := <-ingErr:
		err = errors.Join(err, fmt.Errorf("ingest: %w", ierr))
	default:
	}
	pub.Close()
	stopCams()
	camsDone.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	if serr := srv.Shutdown(sctx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		_ = srv.Close()
	}
	cancel()
	log.Info("stopped")
	return err
}

// nodeName names this node in the cluster (NATS connection name, lease
// holder): role, host name and listen address.
func nodeName(role, addr string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return role + "@" + host + "/" + addr
}
