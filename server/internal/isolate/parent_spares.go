package isolate

import (
	"sync"
	"time"
)

// Spares keeps decode children started ahead of need. Starting one takes
// 0.4-0.7 s (the dynamic linker loads OpenCV's libraries), which a camera
// whose first viewer arrives would otherwise wait for; a spare has done
// that and waits, at no CPU cost, for its first request. Open takes one
// when one is ready and Spares starts its replacement at once.
//
// A spare is an idle process holding about 20 MB of its own memory (the
// dynamic linker's relocations; 43 MB PSS with its share of the libraries).
// Every goroutine Spares starts ends before
// Close returns, and Close kills and reaps the spares.
type Spares struct {
	o Opener // what a spare is started with (Spares unset)
	n int

	mu       sync.Mutex
	ready    []*process
	starting int
	closed   bool
	failedAt time.Time // last failed start: the next waits retryAfter
	wg       sync.WaitGroup
}

// spareRetry is how long Spares waits after a failed start before it
// starts another.
const spareRetry = 5 * time.Second

// NewSpares keeps n children started with o's settings ready (n >= 1).
func NewSpares(o Opener, n int) *Spares {
	o.Spares = nil
	s := &Spares{o: o, n: max(n, 1)}
	s.mu.Lock()
	s.fill()
	s.mu.Unlock()
	return s
}

// hasReady reports whether a spare is ready (false if s is nil).
func (s *Spares) hasReady() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ready) > 0
}

// take returns a ready spare, or nil if none is (s may be nil), and starts
// replacements.
func (s *Spares) take() *process {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var c *process
	for n := len(s.ready); n > 0 && c == nil; n = len(s.ready) {
		c, s.ready = s.ready[n-1], s.ready[:n-1]
		if c.exited() { // died waiting (already reaped)
			c.discard()
			c = nil
		}
	}
	s.fill()
	return c
}

// Ready is the number of spares waiting.
func (s *Spares) Ready() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ready)
}

// fill starts children until n are ready or starting. s.mu is held.
func (s *Spares) fill() {
	if s.closed || (!s.failedAt.IsZero() && time.Since(s.failedAt) < spareRetry) {
		return
	}
	for len(s.ready)+s.starting < s.n {
		s.starting++
		s.wg.Add(1)
		go s.startOne()
	}
}

func (s *Spares) startOne() {
	defer s.wg.Done()
	c, err := s.o.start()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starting--
	switch {
	case err != nil:
		s.failedAt = time.Now() // Open starts its own meanwhile
	case s.closed:
		c.discard()
	default:
		s.failedAt = time.Time{}
		s.ready = append(s.ready, c)
	}
}

// Close stops keeping spares: it waits for starts in progress and kills
// and reaps every spare. Open still works after it, without spares.
func (s *Spares) Close() {
	s.mu.Lock()
	s.closed = true
	ready := s.ready
	s.ready = nil
	s.mu.Unlock()
	s.wg.Wait()
	for _, c := range ready {
		c.discard()
	}
}
