package isolate

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
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
}

var (
	_ decoder.Opener        = Opener{}
	_ decoder.ContextOpener = Opener{}
	_ decoder.GrabEncoder   = (*source)(nil)
)

// Open starts a child and opens path in it.
func (o Opener) Open(path string) (decoder.Source, error) {
	return o.OpenContext(context.Background(), path)
}

// OpenContext starts a child and opens path in it. When ctx ends the child
// is killed, so an Open in progress and every call on the Source fail
// promptly.
func (o Opener) OpenContext(ctx context.Context, path string) (decoder.Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	timeout := o.CallTimeout
	if timeout <= 0 {
		timeout = decoder.StallTimeout
	}
	cmd := spawn{exe: o.Exe, limits: o.Limits, env: o.Env, stderr: o.Stderr}.command(ctx, DecodeCommand)
	// Our ends wait in Go's poller (with deadlines); exec hands the child
	// its ends in blocking mode.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, startError(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, startError(err)
	}
	cmd.Stdin, cmd.Stdout = inR, outW
	err = cmd.Start()
	// The child has its ends now (or never will).
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, startError(err)
	}
	s := &source{
		stop:    ctx.Done(),
		cmd:     cmd,
		w:       inW,
		rf:      outR,
		timeout: timeout,
	}
	body, err := s.call(opOpen, []byte(path), false)
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

func startError(err error) error {
	return media.WrapError(media.KindInternal, fmt.Errorf("%w: start decoder process: %w", decoder.ErrSourceBroken, err),
		"the video decoder process could not be started")
}

// source is a decoder.Source served by a child. Owned by one goroutine.
type source struct {
	stop    <-chan struct{} // the OpenContext ctx's Done: the child was killed
	cmd     *exec.Cmd
	w       *os.File // child's stdin
	rf      *os.File // child's stdout, read unbuffered: a JPEG goes straight into its slice
	timeout time.Duration
	info    media.VideoInfo
	req     []byte // reused request buffer
	small   []byte // reused buffer for small reply payloads

	broken error // set once the child is gone; every call returns it
	reaped bool
	closed bool
}

func (s *source) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

func (s *source) Info() media.VideoInfo { return s.info }

func (s *source) Grab() error {
	_, err := s.call(opGrab, nil, false)
	return err
}

func (s *source) Encode(quality int) ([]byte, error) {
	return s.jpeg(opEncode, quality)
}

// GrabEncode grabs and encodes the next frame in one round trip.
func (s *source) GrabEncode(quality int) ([]byte, error) {
	return s.jpeg(opFrame, quality)
}

func (s *source) jpeg(op byte, quality int) ([]byte, error) {
	b, err := s.call(op, []byte{byte(min(max(quality, 1), 100))}, true)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[0] != 0xFF || b[1] != 0xD8 {
		return nil, s.fail(fmt.Errorf("encode reply of %d bytes is not a JPEG: %w", len(b), errMalformed))
	}
	return b, nil
}

func (s *source) SeekFrame(n int64) error {
	_, err := s.call(opSeek, binary.BigEndian.AppendUint64(nil, uint64(n)), false)
	return err
}

// Close asks the child to close its file and exit, kills it if it does
// not exit within waitTimeout, and reaps it.
func (s *source) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	defer s.rf.Close()
	var err error
	if s.broken == nil {
		s.timeout = min(s.timeout, waitTimeout)
		if _, cerr := s.call(opClose, nil, false); cerr != nil && s.broken == nil {
			err = cerr // the child's own close failed; it exits anyway
		}
	}
	s.w.Close() // EOF on its stdin: a child that missed the close op exits too
	if !s.reaped {
		s.reaped = true
		t := time.AfterFunc(waitTimeout, func() { _ = s.cmd.Process.Kill() })
		werr := s.cmd.Wait()
		if !t.Stop() {
			err = errors.Join(err, fmt.Errorf("decoder process did not exit in %v; killed", waitTimeout))
		} else if werr != nil && err == nil {
			err = fmt.Errorf("decoder process: %w", werr)
		}
	}
	return err
}

// call sends one request and reads its reply. For status OK it returns
// the payload: in a new slice when own is set, else in a buffer reused by
// the next call. EOF becomes io.EOF and an error reply the child's error.
// Any failure of the child or the pipe, and a reply later than s.timeout,
// kills and reaps the child and breaks the source.
func (s *source) call(op byte, payload []byte, own bool) ([]byte, error) {
	if s.broken != nil {
		return nil, s.broken
	}
	deadline := time.Now().Add(s.timeout)
	if err := s.w.SetWriteDeadline(deadline); err != nil {
		return nil, s.fail(err)
	}
	if err := s.rf.SetReadDeadline(deadline); err != nil {
		return nil, s.fail(err)
	}
	body, status, err := s.exchange(op, payload, own)
	if err != nil {
		return nil, s.fail(err)
	}
	switch status {
	case statusEOF:
		return nil, io.EOF
	case statusErr:
		return nil, decodeError(body)
	}
	return body, nil
}

// exchange writes a request and reads the reply.
func (s *source) exchange(op byte, payload []byte, own bool) (body []byte, status byte, err error) {
	s.req = appendRequest(s.req[:0], op, payload)
	if _, err := s.w.Write(s.req); err != nil {
		return nil, 0, fmt.Errorf("send request: %w", err)
	}
	var h [replyHeaderLen]byte
	if _, err := io.ReadFull(s.rf, h[:]); err != nil {
		return nil, 0, fmt.Errorf("read reply: %w", unexpected(err))
	}
	status, n := h[1], binary.BigEndian.Uint32(h[2:])
	if h[0] != op || status > statusErr || n > maxReply || (status == statusEOF && n != 0) {
		return nil, 0, fmt.Errorf("reply header %x to op %q: %w", h, op, errMalformed)
	}
	if own && status == statusOK {
		body = make([]byte, n)
	} else {
		if cap(s.small) < int(n) {
			s.small = make([]byte, n)
		}
		body = s.small[:n]
	}
	if _, err := io.ReadFull(s.rf, body); err != nil {
		return nil, 0, fmt.Errorf("read reply: %w", unexpected(err))
	}
	return body, status, nil
}

// fail kills and reaps the child, breaks the source and returns the error
// every later call returns: a *media.Error with a user-safe message that
// wraps decoder.ErrSourceBroken and the cause.
func (s *source) fail(cause error) error {
	if errors.Is(cause, io.EOF) {
		// Never let a dead child look like the end of the file.
		cause = errors.New(cause.Error())
	}
	timedOut := errors.Is(cause, os.ErrDeadlineExceeded)
	var werr error
	if !s.reaped {
		s.reaped = true
		werr = killAndWait(s.cmd)
	}
	state := s.cmd.ProcessState
	var msg string
	switch {
	case s.stopped():
		msg = "the video decoder was stopped"
	case timedOut:
		msg = fmt.Sprintf("the video decoder process did not answer within %v and was stopped", s.timeout)
	case errors.Is(cause, errMalformed):
		msg = "the video decoder process sent a malformed reply and was stopped"
	case cpuLimited(state):
		msg = "the video decoder process reached its CPU-time limit"
	default:
		msg = "the video decoder process crashed"
	}
	s.broken = media.WrapError(media.KindInternal,
		fmt.Errorf("%w: %w (decoder process %d: %s)", decoder.ErrSourceBroken, cause, s.cmd.Process.Pid, exitReason(state, werr)), msg)
	return s.broken
}
