package cluster

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/media"
)

// Frame subscription limits on an edge: a subscription holding more than
// this many undelivered frames drops the newest arrivals (NATS counts
// them as dropped) instead of buffering, so a slow edge loses frames and
// never holds up the owner or another edge.
const (
	FramePendingMsgs  = 16
	FramePendingBytes = 32 << 20
	// latestTimeout bounds the request for the owner's newest frame.
	latestTimeout = time.Second
	// feedPoll is how often a watched camera's feed checks its topics
	// (linger expiry, renditions) between wake-ups.
	feedPoll = 250 * time.Millisecond
)

// Feeder is the edge side of the frame plane: it feeds an edge's local hub
// from NATS. For each camera added, while a rendition's hub topic is
// watched (hub.RenditionWatched, which includes the hub's linger) it
// subscribes that rendition's FrameSubject, announces interest on
// WantSubject every WantInterval, and asks the owner for its newest frame
// first so the first viewer gets a picture at once. When the topic is no
// longer watched it unsubscribes. Frames reach the hub in order: a frame
// not newer than the last one published for its topic (same epoch, lower
// or equal seq) is dropped.
type Feeder struct {
	conn *Conn
	hub  *hub.Hub
	log  *slog.Logger

	received atomic.Uint64

	mu     sync.Mutex
	cams   map[media.CameraID]*feedCam
	closed bool
	wg     sync.WaitGroup
}

type feedCam struct {
	cam    media.CameraID
	cancel context.CancelFunc
	done   chan struct{}
}

// NewFeeder returns a Feeder for h over c. Close stops it.
func NewFeeder(c *Conn, h *hub.Hub, log *slog.Logger) *Feeder {
	if log == nil {
		log = slog.Default()
	}
	return &Feeder{conn: c, hub: h, log: log, cams: make(map[media.CameraID]*feedCam)}
}

// Received counts the frames published into the hub.
func (f *Feeder) Received() uint64 { return f.received.Load() }

// Add starts feeding cam (a no-op if it is fed already).
func (f *Feeder) Add(cam media.CameraID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.cams[cam] != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	fc := &feedCam{cam: cam, cancel: cancel, done: make(chan struct{})}
	f.cams[cam] = fc
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer close(fc.done)
		f.run(ctx, cam)
	}()
}

// Remove stops feeding cam and waits until its feed has stopped.
func (f *Feeder) Remove(cam media.CameraID) {
	f.mu.Lock()
	fc := f.cams[cam]
	delete(f.cams, cam)
	f.mu.Unlock()
	if fc != nil {
		fc.cancel()
		<-fc.done
	}
}

// Close stops every feed and waits for them.
func (f *Feeder) Close() {
	f.mu.Lock()
	f.closed = true
	for _, fc := range f.cams {
		fc.cancel()
	}
	f.cams = nil
	f.mu.Unlock()
	f.wg.Wait()
}

// feedTopic is one subscribed (camera, rendition).
type feedTopic struct {
	sub      *nats.Subscription
	lastWant time.Time
	// mu orders publishing into the hub between the subscription's
	// callback and the latest-frame reply.
	mu         sync.Mutex
	epoch, seq uint64
	haveLast   bool
}

// publish puts fr into the hub unless it is not newer than the last one.
func (f *Feeder) publish(t *feedTopic, fr *media.Frame) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.haveLast && (fr.Epoch < t.epoch || (fr.Epoch == t.epoch && fr.Seq <= t.seq)) {
		return
	}
	t.epoch, t.seq, t.haveLast = fr.Epoch, fr.Seq, true
	f.hub.Publish(fr)
	f.received.Add(1)
}

func (f *Feeder) run(ctx context.Context, cam media.CameraID) {
	topics := make(map[media.Rendition]*feedTopic, media.RenditionCount)
	defer func() {
		for _, t := range topics {
			_ = t.sub.Unsubscribe()
		}
	}()
	wake := f.hub.Wake(cam)
	var poll *time.Ticker
	var pollC <-chan time.Time
	defer func() {
		if poll != nil {
			poll.Stop()
		}
	}()
	for {
		for _, r := range media.Renditions() {
			t := topics[r]
			watched := f.hub.RenditionWatched(cam, r)
			switch {
			case watched && t == nil:
				if t = f.start(ctx, cam, r); t != nil {
					topics[r] = t
				}
			case watched && time.Since(t.lastWant) >= WantInterval:
				f.want(cam, r, t)
			case !watched && t != nil:
				_ = t.sub.Unsubscribe()
				delete(topics, r)
			}
		}
		if len(topics) > 0 && poll == nil {
			poll = time.NewTicker(feedPoll)
			pollC = poll.C
		} else if len(topics) == 0 && poll != nil {
			poll.Stop()
			poll, pollC = nil, nil
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-pollC:
		}
	}
}

func (f *Feeder) want(cam media.CameraID, r media.Rendition, t *feedTopic) {
	t.lastWant = time.Now()
	if err := f.conn.nc.Publish(WantSubject(cam, r), nil); err != nil {
		f.log.Warn("announce frame interest", "camera", cam, "rendition", r, "err", err)
	}
}

// start subscribes (cam, r) frames, announces interest and publishes the
// owner's newest frame. It returns nil if the subscription failed (the
// next round retries).
func (f *Feeder) start(ctx context.Context, cam media.CameraID, r media.Rendition) *feedTopic {
	t := &feedTopic{}
	sub, err := f.conn.nc.Subscribe(FrameSubject(cam, r), func(m *nats.Msg) {
		fr, err := DecodeFrame(cam, r, m.Data)
		if err != nil {
			f.log.Warn("bad frame from NATS", "camera", cam, "rendition", r, "err", err)
			return
		}
		f.publish(t, fr)
	})
	if err != nil {
		f.log.Warn("subscribe frames", "camera", cam, "rendition", r, "err", err)
		return nil
	}
	if err := sub.SetPendingLimits(FramePendingMsgs, FramePendingBytes); err != nil {
		f.log.Warn("frame pending limits", "camera", cam, "err", err)
	}
	t.sub = sub
	f.want(cam, r, t)
	rctx, cancel := context.WithTimeout(ctx, latestTimeout)
	defer cancel()
	m, err := f.conn.nc.RequestWithContext(rctx, LatestSubject(cam, r), nil)
	switch {
	case err == nil && len(m.Data) > 0:
		if fr, err := DecodeFrame(cam, r, m.Data); err == nil {
			f.publish(t, fr)
		}
	case err == nil, errors.Is(err, nats.ErrNoResponders), errors.Is(err, context.Canceled):
	default:
		f.log.Debug("latest frame", "camera", cam, "rendition", r, "err", err)
	}
	return t
}
