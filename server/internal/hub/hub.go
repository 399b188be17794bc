// Package hub fans encoded frames out from one producer per camera to any
// number of subscribers.
//
// The hub's unit is a topic: one (camera, rendition) pair (see
// media.Rendition). Each topic has its own channel number, latest frame,
// subscribers, watched state with its linger, and counters; a frame goes
// to the topic of its Camera and Rendition ("" is media.RenditionFull).
// The methods without a rendition in their name are about the full
// rendition (Channel, Latest) or about the camera as a whole: Watched and
// Wake (any rendition: they tell a producer whether to run at all) and
// Stats (figures summed over the renditions).
//
// Contract:
//   - Publish may be called from any goroutine, but per topic there is one
//     producer at a time: the camera's decoder or live source publishes
//     every rendition of the camera, except a passthrough live camera's
//     grid frames, which its runner's grid goroutine publishes (package
//     live); the runner stops both before the camera is Reset or Removed. Publish never blocks and does no I/O: it
//     stores the frame as its topic's latest and drops it into every
//     subscriber's one-slot mailbox, overwriting (and counting as a drop) a
//     frame the subscriber has not taken yet.
//   - Subscribe, Close, Next and the query methods may be called from any
//     goroutine. A Subscription is read by one consumer goroutine: it waits
//     on Ready() and then calls Next() to take the newest frame.
//   - Reset and Remove act on every rendition of a camera. Remove ends the
//     camera's topics: their subscriptions see Done() closed. The camera
//     manager calls it when it deletes a camera; a camera created again
//     with the same id gets new topics and new channels.
//
// Frames are immutable once published; the hub hands out the same pointer to
// every subscriber and never copies the JPEG bytes.
package hub

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// DefaultLinger is how long a topic counts as watched after its last
// subscriber leaves, so a page navigation does not pause encoding.
const DefaultLinger = 10 * time.Second

// Hub holds the topics of every camera.
type Hub struct {
	linger time.Duration
	now    func() time.Time

	mu          sync.Mutex
	cams        map[media.CameraID]*camTopics
	nextChannel uint32
}

// camTopics is one camera's topics, created on first use.
type camTopics struct {
	// wake is signalled (capacity 1) when a subscriber of any rendition
	// arrives, so an idle producer can start at once.
	wake   chan struct{}
	topics map[media.Rendition]*topic
}

// Option configures a Hub.
type Option func(*Hub)

// WithLinger sets how long a topic stays watched after its last subscriber.
func WithLinger(d time.Duration) Option { return func(h *Hub) { h.linger = d } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(h *Hub) { h.now = now } }

// New returns an empty hub.
func New(opts ...Option) *Hub {
	h := &Hub{linger: DefaultLinger, now: time.Now, cams: make(map[media.CameraID]*camTopics)}
	for _, o := range opts {
		o(h)
	}
	return h
}

type topic struct {
	channel   uint32
	rendition media.Rendition
	now       func() time.Time
	wake      chan struct{} // the camera's

	mu        sync.Mutex
	latest    *media.Frame
	subs      []*Subscription
	lastLeave time.Time
	drops     map[media.Transport]*atomic.Uint64
	viewers   map[media.Transport]int

	published atomic.Uint64
}

// camLocked returns cam's topics, creating them. h.mu must be held.
func (h *Hub) camLocked(cam media.CameraID) *camTopics {
	c := h.cams[cam]
	if c == nil {
		c = &camTopics{wake: make(chan struct{}, 1), topics: make(map[media.Rendition]*topic, 2)}
		h.cams[cam] = c
	}
	return c
}

// topicLocked returns the (cam, r) topic, creating it. h.mu must be held.
func (h *Hub) topicLocked(cam media.CameraID, r media.Rendition) *topic {
	r = r.OrFull()
	c := h.camLocked(cam)
	t := c.topics[r]
	if t == nil {
		h.nextChannel++
		t = &topic{
			channel:   h.nextChannel,
			rendition: r,
			now:       h.now,
			wake:      c.wake,
			drops:     make(map[media.Transport]*atomic.Uint64),
			viewers:   make(map[media.Transport]int),
		}
		c.topics[r] = t
	}
	return t
}

func (h *Hub) topic(cam media.CameraID, r media.Rendition) *topic {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.topicLocked(cam, r)
}

func (h *Hub) lookup(cam media.CameraID, r media.Rendition) *topic {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.cams[cam]; c != nil {
		return c.topics[r.OrFull()]
	}
	return nil
}

// topicsOf returns cam's existing topics.
func (h *Hub) topicsOf(cam media.CameraID) []*topic {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.cams[cam]
	if c == nil {
		return nil
	}
	out := make([]*topic, 0, len(c.topics))
	for _, t := range c.topics {
		out = append(out, t)
	}
	return out
}

// Channel returns the channel number of the camera's full rendition.
func (h *Hub) Channel(cam media.CameraID) uint32 { return h.RenditionChannel(cam, media.RenditionFull) }

// RenditionChannel returns the (camera, rendition) channel number: a small
// integer, unique within this process, that binary WebSocket frames carry
// instead of the camera id and rendition.
func (h *Hub) RenditionChannel(cam media.CameraID, r media.Rendition) uint32 {
	return h.topic(cam, r).channel
}

// Publish makes f the latest frame of its (camera, rendition) and offers
// it to every subscriber of that rendition. It never blocks.
func (h *Hub) Publish(f *media.Frame) {
	t := h.topic(f.Camera, f.Rendition)
	t.published.Add(1)
	t.mu.Lock()
	t.latest = f
	for _, s := range t.subs {
		s.offer(f)
	}
	t.mu.Unlock()
}

// Reset forgets the latest frame of every rendition of the camera, so a
// subscriber never receives a frame of a run that has been replaced.
func (h *Hub) Reset(cam media.CameraID) {
	for _, t := range h.topicsOf(cam) {
		t.mu.Lock()
		t.latest = nil
		for _, s := range t.subs {
			s.pending.Store(nil)
		}
		t.mu.Unlock()
	}
}

// Latest returns the latest frame of the camera's full rendition, or nil.
func (h *Hub) Latest(cam media.CameraID) *media.Frame {
	return h.RenditionLatest(cam, media.RenditionFull)
}

// RenditionLatest returns the latest frame of (cam, r), or nil.
func (h *Hub) RenditionLatest(cam media.CameraID, r media.Rendition) *media.Frame {
	t := h.lookup(cam, r)
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.latest
}

// Watched reports whether any rendition of the camera is watched (see
// RenditionWatched): whether its producer has to run at all.
func (h *Hub) Watched(cam media.CameraID) bool {
	for _, t := range h.topicsOf(cam) {
		if t.watched(h.linger) {
			return true
		}
	}
	return false
}

// RenditionWatched reports whether (cam, r) has a subscriber, or had one
// within the linger period. Producers use it to decide what to encode.
func (h *Hub) RenditionWatched(cam media.CameraID, r media.Rendition) bool {
	t := h.lookup(cam, r)
	return t != nil && t.watched(h.linger)
}

func (t *topic) watched(linger time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.subs) > 0 || (!t.lastLeave.IsZero() && t.now().Sub(t.lastLeave) < linger)
}

// Wake returns a channel that receives a value when a subscriber of any of
// the camera's renditions arrives.
func (h *Hub) Wake(cam media.CameraID) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.camLocked(cam).wake
}

// Options for Subscribe.
type SubscribeOptions struct {
	// Transport labels the subscriber for viewer and drop counts.
	Transport media.Transport
	// Rendition is the stream subscribed to; "" is media.RenditionFull.
	Rendition media.Rendition
	// SkipLatest leaves the current latest frame out, so the first frame
	// the subscriber gets is one published after it subscribed.
	SkipLatest bool
	// Notify, if set, replaces the subscription's own ready channel, so one
	// consumer can wait on many subscriptions at once and then call Next
	// on each. It should have capacity 1.
	Notify chan struct{}
}

// Subscribe adds a subscriber to one rendition of the camera. Unless
// SkipLatest is set, that rendition's latest frame is waiting in the
// mailbox at once.
func (h *Hub) Subscribe(cam media.CameraID, o SubscribeOptions) *Subscription {
	t := h.topic(cam, o.Rendition)

	ready := o.Notify
	if ready == nil {
		ready = make(chan struct{}, 1)
	}
	s := &Subscription{
		topic:     t,
		transport: o.Transport,
		ready:     ready,
		done:      make(chan struct{}),
	}
	t.mu.Lock()
	c := t.drops[o.Transport]
	if c == nil {
		c = new(atomic.Uint64)
		t.drops[o.Transport] = c
	}
	s.topicDrops = c
	t.subs = append(t.subs, s)
	t.viewers[o.Transport]++
	if t.latest != nil && !o.SkipLatest {
		s.pending.Store(t.latest)
		select {
		case s.ready <- struct{}{}:
		default:
		}
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
	return s
}

// Remove ends every topic of the camera: every subscription's Done channel
// closes and the latest frames and every frame waiting in a mailbox are
// forgotten.
func (h *Hub) Remove(cam media.CameraID) {
	h.mu.Lock()
	c := h.cams[cam]
	delete(h.cams, cam)
	h.mu.Unlock()
	if c == nil {
		return
	}
	for _, t := range c.topics {
		t.mu.Lock()
		subs := t.subs
		t.subs = nil
		t.latest = nil
		t.mu.Unlock()
		for _, s := range subs {
			s.pending.Store(nil) // nothing of a removed camera is delivered
			s.end()
		}
	}
}

// Stats is a point-in-time view of one (camera, rendition) topic.
type Stats struct {
	Rendition media.Rendition
	Channel   uint32
	Published uint64
	// Viewers and Drops are keyed by transport (string(media.Transport)).
	Viewers map[string]int
	Drops   map[string]uint64
	Latest  *media.Frame
}

// Stats returns the camera's figures over all its renditions: the full
// rendition's channel, viewers, drops and published frames summed over
// the renditions, and the newest latest frame of any rendition (Rendition
// is ""). ok is false for an unknown camera.
func (h *Hub) Stats(cam media.CameraID) (Stats, bool) {
	topics := h.topicsOf(cam)
	if len(topics) == 0 {
		return Stats{}, false
	}
	st := Stats{Channel: h.RenditionChannel(cam, media.RenditionFull), Viewers: map[string]int{}, Drops: map[string]uint64{}}
	for _, t := range topics {
		ts := t.stats()
		st.Published += ts.Published
		for k, v := range ts.Viewers {
			st.Viewers[k] += v
		}
		for k, v := range ts.Drops {
			st.Drops[k] += v
		}
		if ts.Latest != nil && (st.Latest == nil || newer(ts.Latest, st.Latest)) {
			st.Latest = ts.Latest
		}
	}
	return st, true
}

// RenditionStats returns the figures of (cam, r). ok is false when that
// topic does not exist (nothing was published to or subscribed to it).
func (h *Hub) RenditionStats(cam media.CameraID, r media.Rendition) (Stats, bool) {
	t := h.lookup(cam, r)
	if t == nil {
		return Stats{}, false
	}
	return t.stats(), true
}

func (t *topic) stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := Stats{
		Rendition: t.rendition,
		Channel:   t.channel,
		Published: t.published.Load(),
		Viewers:   make(map[string]int, len(t.viewers)),
		Drops:     make(map[string]uint64, len(t.drops)),
		Latest:    t.latest,
	}
	for k, v := range t.viewers {
		if v > 0 {
			st.Viewers[string(k)] = v
		}
	}
	for k, v := range t.drops {
		st.Drops[string(k)] = v.Load()
	}
	return st
}

// newer reports whether a was produced after b (by time, then seq).
func newer(a, b *media.Frame) bool {
	if !a.Captured.Equal(b.Captured) {
		return a.Captured.After(b.Captured)
	}
	return a.Seq > b.Seq
}

// Subscription is one subscriber's mailbox for one (camera, rendition).
type Subscription struct {
	topic      *topic
	transport  media.Transport
	pending    atomic.Pointer[media.Frame]
	ready      chan struct{}
	done       chan struct{}
	endOnce    sync.Once
	closeOnce  sync.Once
	drops      atomic.Uint64
	topicDrops *atomic.Uint64
}

func (s *Subscription) offer(f *media.Frame) {
	if old := s.pending.Swap(f); old != nil {
		s.drops.Add(1)
		s.topicDrops.Add(1)
	}
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Channel is the subscribed (camera, rendition)'s channel number.
func (s *Subscription) Channel() uint32 { return s.topic.channel }

// Rendition is the subscribed rendition.
func (s *Subscription) Rendition() media.Rendition { return s.topic.rendition }

// Ready receives a value when a frame may be waiting.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Done is closed when the camera is removed from the hub or the
// subscription is closed.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Next takes the newest waiting frame, if any.
func (s *Subscription) Next() (*media.Frame, bool) {
	f := s.pending.Swap(nil)
	return f, f != nil
}

// Drops counts frames this subscriber never took because a newer one
// replaced them.
func (s *Subscription) Drops() uint64 { return s.drops.Load() }

func (s *Subscription) end() { s.endOnce.Do(func() { close(s.done) }) }

// Close removes the subscription. It is safe to call more than once.
func (s *Subscription) Close() {
	s.closeOnce.Do(func() {
		t := s.topic
		t.mu.Lock()
		for i, x := range t.subs {
			if x == s {
				last := len(t.subs) - 1
				t.subs[i] = t.subs[last]
				t.subs[last] = nil
				t.subs = t.subs[:last]
				t.viewers[s.transport]--
				break
			}
		}
		if len(t.subs) == 0 {
			t.lastLeave = t.now()
		}
		t.mu.Unlock()
		s.end()
	})
}
