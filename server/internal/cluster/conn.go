package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Timing of the connection.
const (
	// reconnectMin and reconnectMax bound the reconnect backoff (doubling
	// from min, with jitter, forever).
	reconnectMin = 100 * time.Millisecond
	reconnectMax = 2 * time.Second
	// ensureTimeout bounds setting up the buckets at Connect: a fresh
	// three-server cluster needs a few seconds to elect its JetStream
	// leader.
	ensureTimeout = 30 * time.Second
	// ensureAttempt bounds one attempt: a JetStream API request sent while
	// the cluster elects a leader may get no answer at all.
	ensureAttempt = 3 * time.Second
	// OwnerLeaseTTL is the TTL of the owners bucket: a lease not renewed
	// for this long expires.
	OwnerLeaseTTL = 5 * time.Second
	// reconnectBufSize bounds what a disconnected connection buffers; frames
	// are dropped beyond it instead of piling up.
	reconnectBufSize = 4 << 20
)

// Options configure Connect.
type Options struct {
	// URLs are the NATS servers to connect to (nats://host:port).
	URLs []string
	// Name is this node's name, shown by NATS monitoring and used as the
	// node id in leases.
	Name string
	// Replicas overrides the replica count of the buckets (0: min(3,
	// servers known at connect)).
	Replicas int
	// Logger receives connection events (nil: slog.Default()).
	Logger *slog.Logger
}

// Conn is a node's connection to NATS with its JetStream state handles.
type Conn struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	log *slog.Logger

	name     string
	replicas int

	// Cameras, Owners, Sessions and Epochs are the KV buckets, Videos the
	// object store (see docs/architecture.md, "Cluster").
	Cameras  jetstream.KeyValue
	Owners   jetstream.KeyValue
	Sessions jetstream.KeyValue
	Epochs   jetstream.KeyValue
	Videos   jetstream.ObjectStore
}

// ParseURLs reads a --nats value: one or more comma-separated NATS URLs.
// A URL without a scheme gets nats://.
func ParseURLs(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.Contains(p, "://") {
			p = "nats://" + p
		}
		u, err := url.Parse(p)
		if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss") {
			return nil, fmt.Errorf("NATS URL %q: want nats://host:port", p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("no NATS URL given: want nats://host:port[,nats://host:port...]")
	}
	return out, nil
}

// Connect connects to NATS and makes sure the buckets and the object store
// exist. The connection reconnects forever; Connect itself fails if no
// server answers or the buckets cannot be set up before ctx ends or
// ensureTimeout passes.
func Connect(ctx context.Context, o Options) (*Conn, error) {
	if len(o.URLs) == 0 {
		return nil, errors.New("cluster: no NATS URL")
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	nc, err := nats.Connect(strings.Join(o.URLs, ","),
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(backoff),
		nats.ReconnectBufSize(reconnectBufSize),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: we closed it
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("NATS reconnected", "server", c.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			// Slow consumers land here: a subscription past its pending
			// limits drops messages, which is what frames should do.
			if errors.Is(err, nats.ErrSlowConsumer) {
				return
			}
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Warn("NATS error", "subject", subj, "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", strings.Join(o.URLs, ","), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("JetStream: %w", err)
	}
	c := &Conn{nc: nc, js: js, log: log, name: o.Name, replicas: o.Replicas}
	if c.replicas <= 0 {
		c.replicas = min(3, max(1, len(nc.Servers())))
	}
	ectx, cancel := context.WithTimeout(ctx, ensureTimeout)
	defer cancel()
	if err := c.ensure(ectx); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// backoff is the reconnect delay after attempts failed attempts over the
// whole server list.
func backoff(attempts int) time.Duration {
	d := reconnectMin
	for i := 1; i < attempts && d < reconnectMax; i++ {
		d *= 2
	}
	return min(d, reconnectMax)
}

// ensure creates or updates the buckets, retrying while JetStream is not
// ready yet (a new cluster electing its leader).
func (c *Conn) ensure(ctx context.Context) error {
	var last error
	for wait := 100 * time.Millisecond; ; wait = min(wait*2, time.Second) {
		actx, cancel := context.WithTimeout(ctx, ensureAttempt)
		last = c.ensureOnce(actx)
		cancel()
		if last == nil {
			return nil
		}
		c.log.Debug("JetStream buckets not ready", "err", last)
		select {
		case <-ctx.Done():
			return fmt.Errorf("set up JetStream buckets (replicas %d): %w", c.replicas, last)
		case <-time.After(wait):
		}
	}
}

func (c *Conn) ensureOnce(ctx context.Context) error {
	kv := func(cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
		cfg.Replicas = c.replicas
		cfg.Storage = jetstream.FileStorage
		b, err := c.js.CreateOrUpdateKeyValue(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
		}
		return b, nil
	}
	var err error
	if c.Cameras, err = kv(jetstream.KeyValueConfig{Bucket: BucketCameras, History: 1}); err != nil {
		return err
	}
	if c.Owners, err = kv(jetstream.KeyValueConfig{Bucket: BucketOwners, History: 1, TTL: OwnerLeaseTTL}); err != nil {
		return err
	}
	if c.Sessions, err = kv(jetstream.KeyValueConfig{Bucket: BucketSessions, History: 1}); err != nil {
		return err
	}
	if c.Epochs, err = kv(jetstream.KeyValueConfig{Bucket: BucketEpochs, History: 1}); err != nil {
		return err
	}
	c.Videos, err = c.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: BucketVideos, Replicas: c.replicas, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return fmt.Errorf("object store %s: %w", BucketVideos, err)
	}
	return nil
}

// Name is the node name given to Connect.
func (c *Conn) Name() string { return c.name }

// Replicas is the replica count of the buckets.
func (c *Conn) Replicas() int { return c.replicas }

// NATS returns the core connection, for this package's frame and request
// code.
func (c *Conn) NATS() *nats.Conn { return c.nc }

// JetStream returns the JetStream context.
func (c *Conn) JetStream() jetstream.JetStream { return c.js }

// Close drains nothing: it closes the connection at once (frames in flight
// are dropped) and waits until its callbacks have returned.
func (c *Conn) Close() {
	done := make(chan struct{})
	c.nc.SetClosedHandler(func(*nats.Conn) { close(done) })
	c.nc.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		c.log.Warn("NATS close: closed handler did not run in 5 s")
	}
}
