package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/livemon/livemon/server/internal/cluster"
	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/metrics"
	"github.com/livemon/livemon/server/internal/session"
	"github.com/livemon/livemon/server/internal/store"
)

// Roles (--role). roleAll is the default: one process that never touches
// NATS, exactly as livemon was before clusters.
const (
	roleAll    = "all"
	roleIngest = "ingest"
	roleEdge   = "edge"
)

// parseRole checks --role and --nats together.
func (c *config) parseRole(natsURLs string) error {
	switch c.Role {
	case roleAll:
		if natsURLs != "" {
			return errors.New("--nats is only for --role ingest or edge; --role all (the default) runs alone without NATS")
		}
		return nil
	case roleIngest, roleEdge:
		if natsURLs == "" {
			return fmt.Errorf("--role %s needs --nats nats://host:port[,...] (the cluster's NATS servers)", c.Role)
		}
		urls, err := cluster.ParseURLs(natsURLs)
		if err != nil {
			return fmt.Errorf("--nats: %w", err)
		}
		c.NATS = urls
		return nil
	}
	return fmt.Errorf("--role must be all, ingest or edge (got %q)", c.Role)
}

func connectCluster(ctx context.Context, cfg config, log *slog.Logger) (*cluster.Conn, error) {
	conn, err := cluster.Connect(ctx, cluster.Options{URLs: cfg.NATS, Name: nodeName(cfg.Role, cfg.Addr), Logger: log})
	if err != nil {
		return nil, fmt.Errorf("--role %s: %w", cfg.Role, err)
	}
	log.Info("connected to NATS", "servers", cfg.NATS, "replicas", conn.Replicas(), "node", conn.Name())
	return conn, nil
}

// runEdge serves viewers from the cluster: the hub is fed from NATS,
// cameras are the cluster's read model, sessions live in JetStream KV.
func runEdge(ctx context.Context, cfg config, log *slog.Logger, st *store.Store, h *hub.Hub, mets *metrics.Metrics) error {
	conn, err := connectCluster(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	cams, err := cluster.NewEdgeCameras(ctx, conn, h, log)
	if err != nil {
		return fmt.Errorf("--role edge: %w", err)
	}
	defer cams.Close() // after serve: its listeners are the WebSockets
	sessions := session.New(cluster.NewSessionStore(conn), cfg.SessionTTL, time.Now, session.WithSharedStore())
	api := newAPI(cfg, log, cams, h, st, sessions, mets)
	cams.AddForgetter(sessions)
	cams.AddForgetter(mets)
	cams.AddForgetter(api)
	return serve(ctx, cfg, log, api, sessions)
}
