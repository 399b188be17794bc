// Package hub fans encoded frames out from one producer per camera to any
// number of subscribers.
//
// Contract:
//   - Publish may be called from any goroutine, but per camera there is one
//     producer (the camera's decoder). Publish never blocks and does no I/O:
//     it stores the frame as the camera's latest and drops it into every
//     subscriber's one-slot mailbox, overwriting (and counting as a drop) a
//     frame the subscriber has not taken yet.
//   - Subscribe, Close, Next and the query methods may be called from any
//     goroutine. A Subscription is read by one consumer goroutine: it waits
//     on Ready() and then calls Next() to take the newest frame.
//   - Remove ends a camera's topic: its subscriptions see Done() closed.
//     The camera manager calls it when it deletes a camera; a camera
//     created again with the same id gets a new topic and a new channel.
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

// DefaultLinger is how long a camera counts as watched after its last
// subscriber leaves, so a page navigation does not pause encoding.
const DefaultLinger = 10 * time.Second

// Hub holds one topic per camera.
type Hub struct {
	linger time.Duration
	now    func() time.Time

	mu          sync.Mutex
	topics      map[media.CameraID]*topic
	nextChannel uint32
}

// Option configures a Hub.
type Option func(*Hub)

// WithLinger sets how long a camera stays watched after its last subscriber.
func WithLinger(d time.Duration) Option { return func(h *Hub) { h.linger = d } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(h *Hub) { h.now = now } }

// New returns an empty hub.
func New(opts ...Option) *Hub {
	h := &Hub{linger: DefaultLinger, now: time.Now, topics: make(map[media.CameraID]*topic)}
	for _, o := range opts {
		o(h)
	}
	return h
}

type topic struct {
	channel uint32
	now     func() time.Time
	// wake is signalled (capacity 1) when a subscriber arrives, so an idle
	// producer can start encoding at once.
	wake chan struct{}

	mu        sync.Mutex
	latest    *media.Frame
	subs      []*Subscription
	lastLeave time.Time
	drops     map[media.Transport]*atomic.Uint64
	viewers   map[media.Transport]int

	published atomic.Uint64
}

// topicLocked returns cam's topic, creating it. h.mu must be held.
func (h *Hub) topicLocked(cam media.CameraID) *topic {
	t := h.topics[cam]
	if t == nil {
		h.nextChannel++
		t = &topic{
			channel: h.nextChannel,
			now:     h.now,
			wake:    make(chan struct{}, 1),
			drops:   make(map[media.Transport]*atomic.Uint64),
			viewers: make(map[media.Transport]int),
		}
		h.topics[cam] = t
	}
	return t
}

func (h *Hub) topic(cam media.CameraID) *topic {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.topicLocked(cam)
}

func (h *Hub) lookup(cam media.CameraID) *topic {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.topics[cam]
}

// Channel returns the camera's channel number: a small integer, unique
// within this process, that binary WebSocket frames carry instead of the id.
func (h *Hub) Channel(cam media.CameraID) uint32 { return h.topic(cam).channel }

// Publish makes f the camera's latest frame and offers it to every
// subscriber. It never blocks.
func (h *Hub) Publish(f *media.Frame) {
	t := h.topic(f.Camera)
	t.published.Add(1)
	t.mu.Lock()
	t.latest = f
	for _, s := range t.subs {
		s.offer(f)
	}
	t.mu.Unlock()
}

// Reset forgets the camera's latest frame, so a subscriber never receives a
// frame of a run that has been replaced.
func (h *Hub) Reset(cam media.CameraID) {
	t := h.lookup(cam)
	if t == nil {
		return
	}
	t.mu.Lock()
	t.latest = nil
	for _, s := range t.subs {
		s.pending.Store(nil)
	}
	t.mu.Unlock()
}

// Latest returns the camera's latest frame, or nil.
func (h *Hub) Latest(cam media.CameraID) *media.Frame {
	t := h.lookup(cam)
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.latest
}

// Watched reports whether the camera has a subscriber, or had one within
// the linger period. Producers use it to decide whether to encode.
func (h *Hub) Watched(cam media.CameraID) bool {
	t := h.lookup(cam)
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.subs) > 0 || (!t.lastLeave.IsZero() && h.now().Sub(t.lastLeave) < h.linger)
}

// Wake returns a channel that receives a value when a subscriber arrives.
func (h *Hub) Wake(cam media.CameraID) <-chan struct{} { return h.topic(cam).wake }

// Options for Subscribe.
type SubscribeOptions struct {
	// Transport labels the subscriber for viewer and drop counts.
	Transport media.Transport
	// SkipLatest leaves the current latest frame out, so the first frame
	// the subscriber gets is one published after it subscribed.
	SkipLatest bool
	// Notify, if set, replaces the subscription's own ready channel, so one
	// consumer can wait on many subscriptions at once and then call Next
	// on each. It should have capacity 1.
	Notify chan struct{}
}

// Subscribe adds a subscriber to the camera. Unless SkipLatest is set, the
// camera's latest frame is waiting in the mailbox at once.
func (h *Hub) Subscribe(cam media.CameraID, o SubscribeOptions) *Subscription {
	h.mu.Lock()
	t := h.topicLocked(cam)
	h.mu.Unlock()

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

// Remove ends the camera's topic: every subscription's Done channel closes
// and the latest frame and every frame waiting in a mailbox are forgotten.
func (h *Hub) Remove(cam media.CameraID) {
	h.mu.Lock()
	t := h.topics[cam]
	delete(h.topics, cam)
	h.mu.Unlock()
	if t == nil {
		return
	}
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

// Stats is a point-in-time view of one camera's topic.
type Stats struct {
	Channel   uint32
	Published uint64
	// Viewers and Drops are keyed by transport (string(media.Transport)).
	Viewers map[string]int
	Drops   map[string]uint64
	Latest  *media.Frame
}

// Stats returns the camera's figures. ok is false for an unknown camera.
func (h *Hub) Stats(cam media.CameraID) (Stats, bool) {
	t := h.lookup(cam)
	if t == nil {
		return Stats{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	st := Stats{
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
	return st, true
}

// Subscription is one subscriber's mailbox for one camera.
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

// Channel is the subscribed camera's channel number.
func (s *Subscription) Channel() uint32 { return s.topic.channel }

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
