package isolate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
)

// source is a decoder.Source served by a child. Owned by one goroutine.
//
// Read-ahead: after GrabEncode returns a frame, the source asks the child
// for the next one at once (the request is only written, not waited for),
// so the child decodes it while the decoder sleeps until that frame is
// due, and the next GrabEncode finds the reply already in the pipe. A
// frame costs each process one wake-up instead of the parent two, and is
// published when due instead of a decode's time later. Any other call
// first reads the reply sent ahead (settle) and gives it the meaning that
// call needs: for Grab it is the grab (its JPEG kept for an Encode that
// follows), for SeekFrame and Close it is dropped.
type source struct {
	*process                 // rf is read unbuffered: a JPEG goes straight into its slice
	stop     <-chan struct{} // the OpenContext ctx's Done: the child was killed
	timeout  time.Duration
	info     media.VideoInfo
	req      []byte // reused request buffer
	small    []byte // reused buffer for small reply payloads

	ahead   bool   // a frame request was sent ahead and its reply is unread
	aheadQ  byte   // its quality
	cached  []byte // JPEG of the frame the child last grabbed, encoded ahead; nil if none
	cachedQ byte
	last    []byte // JPEG GrabEncode last returned (for an Encode that follows it)
	lastQ   byte
	work    time.Duration // the child's time for the JPEG last returned
	watch   *time.Timer   // armed during a request or a wait for a reply: kills the child
	unbind  func() bool   // stops the kill when the OpenContext ctx ends
	expired atomic.Bool   // watch fired
	broken  error         // set once the child is gone; every call returns it
	reaped  bool
	closed  bool
}

func (s *source) stopped() bool { return isClosed(s.stop) }

func (s *source) Info() media.VideoInfo { return s.info }

// EncodeTime is how long the child took to produce the JPEG last returned
// (grab, decode and encode), which read-ahead hides from the caller.
func (s *source) EncodeTime() time.Duration { return s.work }

func (s *source) Grab() error {
	if s.ahead {
		_, err := s.settle(true)
		return err
	}
	s.cached, s.last = nil, nil
	_, err := s.call(opGrab, nil, false)
	return err
}

// Encode encodes the frame last grabbed: the one encoded ahead if the
// last Grab read it, else a request to the child.
func (s *source) Encode(quality int) ([]byte, error) {
	q := jpegQuality(quality)
	switch {
	case s.cached != nil && s.cachedQ == q:
		b := s.cached
		s.cached = nil
		return b, nil
	case s.ahead:
		// The child has moved past the frame GrabEncode returned.
		if s.last != nil && s.lastQ == q {
			return bytes.Clone(s.last), nil
		}
		return nil, errors.New("encode frame: no frame grabbed")
	}
	return s.jpeg(opEncode, q)
}

// GrabEncode grabs and encodes the next frame in one round trip, or none
// when it was read ahead, and then reads the next one ahead.
func (s *source) GrabEncode(quality int) ([]byte, error) {
	q := jpegQuality(quality)
	var b []byte
	var err error
	if s.ahead && s.aheadQ == q {
		b, err = s.settle(false)
	} else if s.ahead {
		// Read ahead at another quality: that frame is grabbed; encode it
		// again.
		if _, err = s.settle(false); err == nil {
			b, err = s.jpeg(opEncode, q)
		}
	} else {
		b, err = s.jpeg(opFrame, q)
	}
	if err != nil {
		return nil, err
	}
	s.last, s.lastQ = b, q
	s.sendAhead(q)
	return b, nil
}

func jpegQuality(quality int) byte { return byte(media.JPEGQuality(quality)) }

// sendAhead asks the child for the next frame without waiting. A failure
// breaks the source for the next call; the frame in hand is still good.
func (s *source) sendAhead(q byte) {
	if s.broken != nil {
		return
	}
	s.ahead, s.aheadQ = true, q
	if err := s.send(opFrame, []byte{q}); err != nil {
		s.ahead = false
		_ = s.fail(err)
	}
}

// settle reads the reply to the request sent ahead: the JPEG of the next
// frame, io.EOF, or the child's error. With keep set, the JPEG is kept for
// an Encode that follows (the caller wanted a grab).
func (s *source) settle(keep bool) ([]byte, error) {
	s.ahead = false
	s.cached, s.last = nil, nil
	b, err := s.reply(opFrame, true)
	if err == nil {
		b, err = s.checkJPEG(b)
	}
	if err == nil && keep {
		s.cached, s.cachedQ = b, s.aheadQ
	}
	return b, err
}

func (s *source) jpeg(op byte, q byte) ([]byte, error) {
	if s.broken != nil {
		return nil, s.broken
	}
	if err := s.send(op, []byte{q}); err != nil {
		return nil, s.fail(err)
	}
	b, err := s.reply(op, true)
	if err != nil {
		return nil, err
	}
	return s.checkJPEG(b)
}

// checkJPEG takes the work time off an encode reply and checks that the
// rest is a JPEG.
func (s *source) checkJPEG(b []byte) ([]byte, error) {
	if len(b) < workLen+2 || b[workLen] != 0xFF || b[workLen+1] != 0xD8 {
		return nil, s.fail(fmt.Errorf("encode reply of %d bytes is not a JPEG: %w", len(b), errMalformed))
	}
	s.work = time.Duration(binary.BigEndian.Uint64(b))
	return b[workLen:], nil
}

func (s *source) SeekFrame(n int64) error {
	if s.ahead {
		if _, err := s.settle(false); errors.Is(err, decoder.ErrSourceBroken) {
			return err
		}
	}
	s.cached, s.last = nil, nil
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
	defer s.unbind()
	defer s.fb.close() // runs last: the child is reaped by then
	defer s.rf.Close()
	var err error
	if s.broken == nil {
		s.timeout = min(s.timeout, waitTimeout)
		if s.ahead {
			_, _ = s.settle(false)
		}
		if s.broken == nil {
			if _, cerr := s.call(opClose, nil, false); cerr != nil && s.broken == nil {
				err = cerr // the child's own close failed; it exits anyway
			}
		}
	}
	s.w.Close() // EOF on its stdin: a child that missed the close op exits too
	if !s.reaped {
		s.reaped = true
		t := time.AfterFunc(waitTimeout, func() { _ = s.cmd.Process.Kill() })
		<-s.done
		if !t.Stop() {
			err = errors.Join(err, fmt.Errorf("decoder process did not exit in %v; killed", waitTimeout))
		} else if s.waitErr != nil && err == nil {
			err = fmt.Errorf("decoder process: %w", s.waitErr)
		}
	}
	return err
}

// call sends one request and reads its reply; see reply.
func (s *source) call(op byte, payload []byte, own bool) ([]byte, error) {
	if s.broken != nil {
		return nil, s.broken
	}
	if err := s.send(op, payload); err != nil {
		return nil, s.fail(err)
	}
	return s.reply(op, own)
}

// send writes one request.
func (s *source) send(op byte, payload []byte) error {
	s.req = appendRequest(s.req[:0], op, payload)
	s.arm()
	_, err := s.w.Write(s.req)
	if err := s.disarm(err); err != nil {
		return fmt.Errorf("send request: %w", err)
	}
	return nil
}

// arm starts the time limit of one exchange with the child.
func (s *source) arm() { s.watch.Reset(s.timeout) }

// disarm ends it and returns err, or a deadline error if the limit passed
// (the child was killed, so whatever it sent last cannot be trusted).
func (s *source) disarm(err error) error {
	if !s.watch.Stop() && s.expired.Load() {
		return fmt.Errorf("no answer within %v: %w", s.timeout, os.ErrDeadlineExceeded)
	}
	return err
}

// reply reads the reply to op, sent earlier. For status OK it returns the
// payload: in a new slice when own is set, else in a buffer reused by the
// next call. EOF becomes io.EOF and an error reply the child's error. Any
// failure of the child or the pipe, and a reply later than s.timeout from
// now, kills and reaps the child and breaks the source.
func (s *source) reply(op byte, own bool) ([]byte, error) {
	if s.broken != nil {
		return nil, s.broken
	}
	s.arm()
	body, status, err := s.readReply(op, own)
	if err = s.disarm(err); err != nil {
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

// readReply reads one reply.
func (s *source) readReply(op byte, own bool) (body []byte, status byte, err error) {
	var h [replyHeaderLen]byte
	if _, err := io.ReadFull(s.rf, h[:]); err != nil {
		return nil, 0, fmt.Errorf("read reply: %w", unexpected(err))
	}
	status, n := h[1], binary.BigEndian.Uint32(h[2:])
	shared := status == statusShared && (op == opEncode || op == opFrame) && n == sharedLen
	if h[0] != op || (status > statusErr && !shared) || n > maxReply || (status == statusEOF && n != 0) {
		return nil, 0, fmt.Errorf("reply header %x to op %q: %w", h, op, errMalformed)
	}
	if shared {
		// work | length: the JPEG is in the frame buffer.
		var p [sharedLen]byte
		if _, err := io.ReadFull(s.rf, p[:]); err != nil {
			return nil, 0, fmt.Errorf("read reply: %w", unexpected(err))
		}
		body, ok := s.fb.take(p[:workLen], int(binary.BigEndian.Uint32(p[workLen:])))
		if !ok {
			return nil, 0, fmt.Errorf("shared reply of %x: %w", p, errMalformed)
		}
		return body, statusOK, nil
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
		werr = s.kill()
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
