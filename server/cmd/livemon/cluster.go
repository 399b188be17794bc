package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/livemon/livemon/server/internal/cluster"
	"github.com/livemon/livemon/server/internal/httpapi"
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

// parsePublicURL checks --public-url and gives an edge its default,
// http://<--addr>. An edge listening on every interface cannot know the
// name browsers use for it: without --public-url it stays out of the edge
// list (PublicURL ""), as behind a load balancer.
func (c *config) parsePublicURL() error {
	if c.Role != roleEdge {
		if c.PublicURL != "" {
			return errors.New("--public-url is only for --role edge")
		}
		return nil
	}
	raw := c.PublicURL
	if raw == "" {
		host, _, err := net.SplitHostPort(c.Addr)
		if err != nil || host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
			return nil
		}
		raw = "http://" + c.Addr
	}
	u, err := cluster.ParsePublicURL(raw)
	if err != nil {
		return fmt.Errorf("--public-url: %w", err)
	}
	c.PublicURL = u
	return nil
}

// publicURLName is the host name of an edge's public URL ("" for none or
// an IP address): the edge answers to it (Host check) like to its --addr
// name.
func publicURLName(publicURL string) string {
	if publicURL == "" {
		return ""
	}
	u, err := url.Parse(publicURL)
	if err != nil {
		return ""
	}
	return listenName(net.JoinHostPort(u.Hostname(), "0"))
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
	defer cams.Close()      // after serve: its listeners are the WebSockets
	var edges httpapi.Edges // nil: not in the edge list
	if cfg.PublicURL == "" {
		log.Info("not in the edge list: --addr binds every interface and no --public-url was given; viewers fail over only through a load balancer", "addr", cfg.Addr)
	} else {
		e, err := cluster.StartEdges(ctx, conn, cfg.PublicURL, log)
		if err != nil {
			return fmt.Errorf("--role edge: %w", err)
		}
		defer e.Close() // after serve: marks this edge stopped as it stops
		log.Info("in the edge list", "public_url", cfg.PublicURL)
		edges = e
	}
	sessions := session.New(cluster.NewSessionStore(conn), cfg.SessionTTL, time.Now, session.WithSharedStore())
	api := newAPI(cfg, log, cams, h, st, sessions, mets, edges)
	cams.AddForgetter(sessions)
	cams.AddForgetter(mets)
	cams.AddForgetter(api)
	return serve(ctx, cfg, log, api, sessions)
}
