package isolate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
)

// Opener opens video files in decode children. The zero value runs the
// running binary's "decode-child" with default limits.
type Opener struct {
	// Exe is the binary to run as the child; empty means the running one
	// (/proc/self/exe, which survives the file being replaced on disk).
	Exe string
	// Limits bound each child's resources.
	Limits Limits
	// CallTimeout bounds every request, open included; a child that does
	// not answer in time is killed. 0 means decoder.StallTimeout.
	CallTimeout time.Duration
	// Stderr receives the children's standard error; nil means os.Stderr.
	Stderr io.Writer
	// Env is added to the children's environment (tests set the fault
	// switch with it).
	Env []string
	// Spares, if not nil, holds children started ahead of need; Open uses
	// one when it can.
	Spares *Spares
}

var (
	_ decoder.Opener        = Opener{}
	_ decoder.ContextOpener = Opener{}
	_ decoder.StreamOpener  = Opener{}
	_ decoder.GrabEncoder   = (*source)(nil)
	_ decoder.EncodeTimer   = (*source)(nil)
	_ decoder.Recycler      = (*source)(nil)
)

// Open starts a child and opens path in it.
func (o Opener) Open(path string) (decoder.Source, error) {
	return o.OpenContext(context.Background(), path)
}

// OpenContext opens path in a decode child: a spare one if Spares has one
// ready, else one it starts. When ctx ends the child is killed, so an Open
// in progress and every call on the Source fail promptly.
func (o Opener) OpenContext(ctx context.Context, path string) (decoder.Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c := o.Spares.take(); c != nil {
		src, err := o.attach(ctx, c, opOpen, []byte(path))
		if err == nil || !errors.Is(err, decoder.ErrSourceBroken) || ctx.Err() != nil {
			return src, err
		}
		// The spare died while it waited (or at once): a fresh child
		// tells a broken spare from a file that breaks children.
	}
	c, err := o.start()
	if err != nil {
		return nil, err
	}
	return o.attach(ctx, c, opOpen, []byte(path))
}

// OpenStream opens a live stream (RTSP) in a decode child started for it
// (never a spare: the child's standard error goes through a filter that
// hides the URL's password, in case FFmpeg or OpenCV print the URL). The
// spec, credentials included, reaches the child only in its open request.
// When ctx ends the child is killed.
func (o Opener) OpenStream(ctx context.Context, spec media.StreamSpec) (decoder.Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	if len(payload) > maxRequest {
		return nil, media.Errorf(media.KindInvalid, "stream spec too large")
	}
	so := o
	so.Stderr = newRedactor(o.stderr(), media.URLSecrets(spec.URL))
	c, err := so.start()
	if err != nil {
		return nil, err
	}
	return o.attach(ctx, c, opOpenStream, payload)
}

// attach makes c the source of the file or stream an open request (op
// and payload) names: it ties c to ctx and sends the request. On failure
// c is gone.
func (o Opener) attach(ctx context.Context, c *process, op byte, payload []byte) (decoder.Source, error) {
	timeout := o.CallTimeout
	if timeout <= 0 {
		timeout = decoder.StallTimeout
	}
	s := bind(ctx, c, timeout)
	// Files and streams alike: a file's decoder reopens it at the same
	// position in a fresh child, a stream's (package live) reconnects.
	s.recycleAt, s.recycleCheck, s.spares = o.Limits.recycleAt(), o.Limits.recycleCheck(), o.Spares
	s.nextCheck = time.Now().Add(s.recycleCheck)
	body, err := s.call(op, payload, false)
	if err == nil {
		s.info, err = decodeInfo(body)
		if err != nil {
			err = s.fail(fmt.Errorf("open reply: %w", err))
		}
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// bind makes c the process of a new source whose every exchange is bounded
// by timeout and which ctx's end kills.
func bind(ctx context.Context, c *process, timeout time.Duration) *source {
	s := &source{
		process: c,
		stop:    ctx.Done(),
		timeout: timeout,
	}
	cmd := c.cmd
	s.unbind = context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
	s.watch = time.AfterFunc(time.Hour, func() {
		s.expired.Store(true)
		_ = cmd.Process.Kill()
	})
	s.watch.Stop()
	return s
}
