package isolate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
)

// Scaler defaults.
const (
	// DefaultScalerChildren is how many scaler children may work at once.
	DefaultScalerChildren = 2
	// DefaultScaleTimeout bounds one scale request (a 720p JPEG takes a few
	// ms); a child that does not answer in time is killed.
	DefaultScaleTimeout = 5 * time.Second
	// DefaultScalerIdle: a scaler child unused this long exits.
	DefaultScalerIdle = 30 * time.Second
	// scalerBackoffMin and scalerBackoffMax bound the wait after a child
	// failed (crashed, hit a limit, did not answer, could not start)
	// before another is started; meanwhile Scale is unavailable.
	scalerBackoffMin = 500 * time.Millisecond
	scalerBackoffMax = 10 * time.Second
)

// ScalerConfig configures a Scaler; zero fields take the defaults.
type ScalerConfig struct {
	// Opener says how children start (Exe, Limits, Stderr, Env) and
	// CallTimeout bounds each request (0: DefaultScaleTimeout). A child
	// is taken from its Spares when one is ready (a first grid viewer
	// then does not wait for OpenCV's libraries to load).
	Opener   Opener
	Children int           // at most this many children (DefaultScalerChildren)
	Idle     time.Duration // a child unused this long exits (DefaultScalerIdle)
}

// Scaler is a decoder.Scaler whose work happens in scaler children: decode
// children (the same binary, flags and limits) that open nothing and
// answer scale requests with their opener's ScaleJPEG (JPEGScaler: the
// opencv Opener decodes at a reduced size, scales and encodes). Bytes a
// camera sent are as untrusted as an uploaded file, so they are decoded
// there and not in the server.
//
// At most Children requests run at once, one per child; more wait for a
// free child (or their ctx). Children start on first use and exit after
// Idle unused, so a server whose passthrough grids nobody watches runs
// none. A child that fails (crash, limit, no answer within the timeout,
// malformed reply) is killed and reaped and its request fails with an
// error wrapping decoder.ErrSourceBroken; the next start waits a backoff
// (0.5 s doubling to 10 s, reset by a success), during which Scale fails
// at once with decoder.ErrScalerUnavailable. A JPEG the child cannot
// decode fails with the child's *media.Error and leaves the child
// running. When a request's ctx ends while a child works on it, that
// child is killed (without a backoff), so Scale returns promptly.
//
// Scale, Stats and Close may be called from any goroutine. Close kills
// the children at work, waits for every Scale in progress, and closes the
// others; Scale fails after it.
type Scaler struct {
	o       Opener
	timeout time.Duration
	idleFor time.Duration
	n       int
	sem     chan struct{}   // one token per request at work, at most n
	ctx     context.Context // ends at Close: kills children at work
	cancel  context.CancelFunc

	mu        sync.Mutex
	idle      []*scaleChild // children not at work, the most recently used last
	closed    bool
	retryAt   time.Time
	backoff   time.Duration
	idleTimer *time.Timer

	scaled, failed, started, unavailable atomic.Uint64
}

// scaleChild is one child and its last use. It is only touched by the
// request that took it from Scaler.idle.
type scaleChild struct {
	src  *source
	used time.Time
	req  []byte
}

// ScalerStats are a Scaler's counters.
type ScalerStats struct {
	Scaled      uint64 // requests answered with a JPEG
	Failed      uint64 // requests whose child failed
	Started     uint64 // children started
	Unavailable uint64 // requests refused during a backoff or a failed start
}

var _ decoder.Scaler = (*Scaler)(nil)

// NewScaler returns a Scaler; it starts nothing until the first Scale.
func NewScaler(cfg ScalerConfig) *Scaler {
	s := &Scaler{o: cfg.Opener, timeout: cfg.Opener.CallTimeout, idleFor: cfg.Idle, n: cfg.Children}
	if s.timeout <= 0 {
		s.timeout = DefaultScaleTimeout
	}
	if s.idleFor <= 0 {
		s.idleFor = DefaultScalerIdle
	}
	if s.n <= 0 {
		s.n = DefaultScalerChildren
	}
	s.sem = make(chan struct{}, s.n)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Stats returns the counters so far.
func (s *Scaler) Stats() ScalerStats {
	return ScalerStats{Scaled: s.scaled.Load(), Failed: s.failed.Load(), Started: s.started.Load(), Unavailable: s.unavailable.Load()}
}

// Scale scales jpeg down to at most width pixels wide (see
// decoder.Scaler) in a child.
func (s *Scaler) Scale(ctx context.Context, jpeg []byte, width, quality int) (decoder.ScaledJPEG, error) {
	if err := checkScale(jpeg, width); err != nil {
		return decoder.ScaledJPEG{}, media.WrapError(media.KindInvalid, err, "the frame cannot be scaled")
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return decoder.ScaledJPEG{}, ctx.Err()
	case <-s.ctx.Done():
		return decoder.ScaledJPEG{}, s.refuse("the scaler is closed")
	}
	if s.ctx.Err() != nil { // closed while this request waited
		<-s.sem
		return decoder.ScaledJPEG{}, s.refuse("the scaler is closed")
	}
	c := s.take()
	defer func() {
		s.put(c) // nil by then if the child is gone
		<-s.sem
	}()
	if c == nil {
		var err error
		if c, err = s.start(); err != nil {
			return decoder.ScaledJPEG{}, err
		}
	}
	c.req = scaleRequest(c.req, jpeg, width, quality)
	cmd := c.src.cmd
	stop := context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
	body, err := c.src.call(opScale, c.req, true)
	stop()
	var out decoder.ScaledJPEG
	if err == nil {
		if out, err = parseScaleReply(body); err != nil {
			err = c.src.fail(err)
		}
	}
	switch {
	case err == nil:
		c.used = time.Now()
		s.scaled.Add(1)
		s.succeeded()
		return out, nil
	case errors.Is(err, decoder.ErrSourceBroken):
		c.close()
		c = nil
		s.failed.Add(1)
		if ctx.Err() != nil {
			return decoder.ScaledJPEG{}, ctx.Err()
		}
		s.failedChild()
		return decoder.ScaledJPEG{}, err
	}
	return decoder.ScaledJPEG{}, err // the child's answer: not decodable
}

// start starts a child for a free slot, unless a backoff runs.
func (s *Scaler) start() (*scaleChild, error) {
	s.mu.Lock()
	wait := time.Until(s.retryAt)
	s.mu.Unlock()
	if wait > 0 {
		return nil, s.refuse(fmt.Sprintf("a scaler process failed; the next starts in %v", wait.Round(time.Millisecond)))
	}
	p := s.o.Spares.take()
	var err error
	if p == nil {
		p, err = s.o.start()
	}
	if err != nil {
		s.failedChild()
		return nil, s.refuse(err.Error())
	}
	s.started.Add(1)
	return &scaleChild{src: bind(s.ctx, p, s.timeout)}, nil
}

// refuse counts a refused request and returns its error.
func (s *Scaler) refuse(why string) error {
	s.unavailable.Add(1)
	return fmt.Errorf("%w: %s", decoder.ErrScalerUnavailable, why)
}

// failedChild starts or lengthens the backoff.
func (s *Scaler) failedChild() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.backoff = min(max(2*s.backoff, scalerBackoffMin), scalerBackoffMax)
	s.retryAt = time.Now().Add(s.backoff)
}

// succeeded ends the backoff and makes sure idle children are looked at.
func (s *Scaler) succeeded() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.backoff = 0
	if !s.closed && s.idleTimer == nil {
		s.idleTimer = time.AfterFunc(s.idleFor, s.reapIdle)
	}
}

// take returns the idle child used last, or nil if none is idle.
func (s *Scaler) take() *scaleChild {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.idle)
	if n == 0 {
		return nil
	}
	c := s.idle[n-1]
	s.idle = s.idle[:n-1]
	return c
}

// put makes c idle again (c may be nil); after Close it closes c instead.
func (s *Scaler) put(c *scaleChild) {
	if c == nil {
		return
	}
	s.mu.Lock()
	if !s.closed {
		s.idle = append(s.idle, c)
		c = nil
	}
	s.mu.Unlock()
	c.close()
}

// reapIdle closes the idle children unused for Idle and looks again later
// while any is left.
func (s *Scaler) reapIdle() {
	s.mu.Lock()
	var old []*scaleChild
	keep := s.idle[:0]
	next := s.idleFor
	for _, c := range s.idle {
		if left := s.idleFor - time.Since(c.used); left > 0 {
			keep = append(keep, c)
			next = min(next, left)
		} else {
			old = append(old, c)
		}
	}
	clear(s.idle[len(keep):])
	s.idle = keep
	s.idleTimer = nil
	if len(keep) > 0 && !s.closed {
		s.idleTimer = time.AfterFunc(next, s.reapIdle)
	}
	s.mu.Unlock()
	for _, c := range old {
		c.close()
	}
}

// Close kills the children at work, waits for every Scale in progress,
// and closes every child.
func (s *Scaler) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	if s.idleTimer != nil {
		s.idleTimer.Stop()
	}
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	s.cancel()
	for range s.n {
		s.sem <- struct{}{} // every request in progress has ended
	}
	for _, c := range idle {
		c.close()
	}
}

// close closes a child (c may be nil) and waits for it to be reaped.
func (c *scaleChild) close() {
	if c != nil {
		_ = c.src.Close()
	}
}
