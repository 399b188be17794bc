package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/media"
)

// Interest timing: an edge announces interest in a (camera, rendition)
// every WantInterval while its local topic is watched; the owner keeps
// publishing it while some interest is younger than WantExpiry.
const (
	WantInterval = time.Second
	WantExpiry   = 3 * time.Second
)

// TransportCluster labels the hub subscriptions that carry frames between
// nodes, in the hub's viewer and drop counts.
const TransportCluster media.Transport = "cluster"

type topicKey struct {
	cam media.CameraID
	r   media.Rendition
}

// Publisher is the owner side of the frame plane. For every (camera,
// rendition) some edge wants, and that this node owns, it holds a hub
// subscription (so the decoder encodes that rendition) and publishes every
// frame it takes once on FrameSubject. It answers LatestSubject requests
// with its hub's newest frame. Nothing is published for a topic nobody
// wants.
type Publisher struct {
	conn *Conn
	hub  *hub.Hub
	owns func(media.CameraID) bool
	log  *slog.Logger

	published atomic.Uint64

	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	topics map[topicKey]*pubTopic
	subs   []*nats.Subscription
	wg     sync.WaitGroup
	closed bool
}

type pubTopic struct {
	lastWant atomic.Int64 // Unix nanoseconds
}

// PublisherOptions configure a Publisher.
type PublisherOptions struct {
	// Owns reports whether this node owns a camera (nil: every camera in
	// the hub). A node publishes and answers only for cameras it owns.
	Owns   func(media.CameraID) bool
	Logger *slog.Logger
}

// NewPublisher starts publishing h's frames on c for the cameras this
// node owns. Close stops it.
func NewPublisher(c *Conn, h *hub.Hub, o PublisherOptions) (*Publisher, error) {
	p := &Publisher{conn: c, hub: h, owns: o.Owns, log: o.Logger, topics: make(map[topicKey]*pubTopic)}
	if p.owns == nil {
		p.owns = func(media.CameraID) bool { return true }
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	for subj, h := range map[string]nats.MsgHandler{WantWildcard: p.onWant, LatestWildcard: p.onLatest} {
		s, err := c.nc.Subscribe(subj, h)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("subscribe %s: %w", subj, err)
		}
		p.subs = append(p.subs, s)
	}
	if err := c.nc.Flush(); err != nil {
		p.Close()
		return nil, fmt.Errorf("subscribe frame interest: %w", err)
	}
	return p, nil
}

// Published counts the frames published on NATS.
func (p *Publisher) Published() uint64 { return p.published.Load() }

func (p *Publisher) onWant(m *nats.Msg) {
	cam, r, err := ParseCamRendition(m.Subject)
	if err != nil || !p.owns(cam) {
		return
	}
	k := topicKey{cam, r}
	now := time.Now().UnixNano()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if t := p.topics[k]; t != nil {
		t.lastWant.Store(now)
		return
	}
	t := &pubTopic{}
	t.lastWant.Store(now)
	p.topics[k] = t
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.forward(k, t)
	}()
}

// forward publishes (k.cam, k.r) frames until interest expires, the
// camera is removed or no longer owned, or the Publisher closes.
func (p *Publisher) forward(k topicKey, t *pubTopic) {
	defer func() {
		p.mu.Lock()
		delete(p.topics, k)
		p.mu.Unlock()
	}()
	sub := p.hub.Subscribe(k.cam, hub.SubscribeOptions{Transport: TransportCluster, Rendition: k.r})
	defer sub.Close()
	subject := FrameSubject(k.cam, k.r)
	tick := time.NewTicker(WantInterval)
	defer tick.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-sub.Done():
			return
		case <-tick.C:
			if time.Since(time.Unix(0, t.lastWant.Load())) > WantExpiry || !p.owns(k.cam) {
				return
			}
		case <-sub.Ready():
			f, ok := sub.Next()
			if !ok {
				continue
			}
			if err := p.conn.nc.Publish(subject, EncodeFrame(f)); err != nil {
				p.log.Warn("publish frame", "camera", k.cam, "rendition", k.r, "err", err)
				continue
			}
			p.published.Add(1)
		}
	}
}

func (p *Publisher) onLatest(m *nats.Msg) {
	cam, r, err := ParseCamRendition(m.Subject)
	if err != nil || !p.owns(cam) || m.Reply == "" {
		return
	}
	var data []byte // empty: no frame yet
	if f := p.hub.RenditionLatest(cam, r); f != nil {
		data = EncodeFrame(f)
	}
	if err := m.Respond(data); err != nil {
		p.log.Warn("answer latest frame", "camera", cam, "err", err)
	}
}

// Close stops publishing and waits for the forwarding goroutines.
func (p *Publisher) Close() {
	p.mu.Lock()
	p.closed = true
	subs := p.subs
	p.subs = nil
	p.mu.Unlock()
	for _, s := range subs {
		_ = s.Unsubscribe()
	}
	p.cancel()
	p.wg.Wait()
}
