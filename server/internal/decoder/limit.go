package decoder

import (
	"context"
	"errors"
	"sync"

	"github.com/livemon/livemon/server/internal/media"
)

// Limit is an Opener that caps how many Sources are open at once over
// every decoder that shares it (--max-decoders): with the isolated decoder
// each open Source is a child process of about 110 MB. An Open beyond the
// cap fails at once with a media.KindDecoderLimit error; the loop shows it
// as state error (Status.ErrCode "decoder_limit") and, instead of its
// backoff, waits until a Source is closed anywhere, then tries again, so a
// camera gets a slot the moment one frees. Which waiting camera gets it is
// not ordered. A loop holds its slot while its file is open: an unwatched
// camera closes it after idleClose and then does not compete for a slot
// until a viewer arrives.
//
// Limit may be used from any goroutine. Sources it returns have the same
// optional interfaces (GrabEncoder, EncodeTimer) as the wrapped ones.
type Limit struct {
	opener Opener
	max    int

	mu    sync.Mutex
	open  int
	freed chan struct{} // closed, and replaced, when a slot frees
}

var (
	_ ContextOpener = (*Limit)(nil)
	_ StreamOpener  = (*Limit)(nil)
)

// NewLimit returns o limited to max open Sources (max > 0).
func NewLimit(o Opener, max int) *Limit {
	return &Limit{opener: o, max: max, freed: make(chan struct{})}
}

// Max is the cap.
func (l *Limit) Max() int { return l.max }

// Open opens path if a slot is free.
func (l *Limit) Open(path string) (Source, error) {
	return l.OpenContext(context.Background(), path)
}

// OpenContext opens path if a slot is free; ctx reaches the wrapped Opener
// if it is a ContextOpener.
func (l *Limit) OpenContext(ctx context.Context, path string) (Source, error) {
	return l.within(func() (Source, error) {
		if co, ok := l.opener.(ContextOpener); ok {
			return co.OpenContext(ctx, path)
		}
		return l.opener.Open(path)
	})
}

// within runs open in a slot: the slot is taken first (or open is not
// run), given back if open fails, and held by the Source until it closes.
func (l *Limit) within(open func() (Source, error)) (Source, error) {
	if err := l.take(); err != nil {
		return nil, err
	}
	src, err := open()
	if err != nil {
		l.release()
		return nil, err
	}
	return limited(src, l), nil
}

// OpenStream opens a live stream if a slot is free; the wrapped Opener
// must be a StreamOpener.
func (l *Limit) OpenStream(ctx context.Context, spec media.StreamSpec) (Source, error) {
	so, ok := l.opener.(StreamOpener)
	if !ok {
		return nil, errors.New("this decoder cannot open streams")
	}
	return l.within(func() (Source, error) { return so.OpenStream(ctx, spec) })
}

func (l *Limit) take() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.max {
		return &busyError{
			err:   media.Errorf(media.KindDecoderLimit, "waiting for a free decoder: the server decodes at most %d cameras at once", l.max),
			freed: l.freed,
		}
	}
	l.open++
	return nil
}

func (l *Limit) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	close(l.freed)
	l.freed = make(chan struct{})
}

// busyError is an Open refused for want of a slot; freed is closed when
// one frees.
type busyError struct {
	err   error
	freed <-chan struct{}
}

func (e *busyError) Error() string { return e.err.Error() }
func (e *busyError) Unwrap() error { return e.err }

// slotFreed returns the channel that closes when err's slot wait may end,
// if err is a refusal by a Limit.
func slotFreed(err error) (<-chan struct{}, bool) {
	var b *busyError
	if errors.As(err, &b) {
		return b.freed, true
	}
	return nil, false
}

// limitedSource gives its slot back when closed.
type limitedSource struct {
	Source
	once  sync.Once
	limit *Limit
}

func (s *limitedSource) Close() error {
	err := s.Source.Close()
	s.once.Do(s.limit.release)
	return err
}

type grabEncodeMethod interface {
	GrabEncode(quality int) ([]byte, error)
}

// sizedMethods are SizedEncoder's own methods.
type sizedMethods interface {
	EncodeSizes(quality int, widths []int) ([][]byte, error)
	GrabEncodeSizes(quality int, widths, ahead []int) ([][]byte, error)
}

// limited wraps src, keeping the optional interfaces it implements.
func limited(src Source, l *Limit) Source {
	ls := &limitedSource{Source: src, limit: l}
	ge, isGE := src.(grabEncodeMethod)
	et, isET := src.(EncodeTimer)
	sz, isSized := src.(sizedMethods)
	switch {
	case isSized && isGE && isET:
		return struct {
			*limitedSource
			grabEncodeMethod
			EncodeTimer
			sizedMethods
		}{ls, ge, et, sz}
	case isSized && isET:
		return struct {
			*limitedSource
			EncodeTimer
			sizedMethods
		}{ls, et, sz}
	case isSized:
		return struct {
			*limitedSource
			sizedMethods
		}{ls, sz}
	case isGE && isET:
		return struct {
			*limitedSource
			grabEncodeMethod
			EncodeTimer
		}{ls, ge, et}
	case isGE:
		return struct {
			*limitedSource
			grabEncodeMethod
		}{ls, ge}
	case isET:
		return struct {
			*limitedSource
			EncodeTimer
		}{ls, et}
	}
	return ls
}
