package isolate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
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
//
// Sizes (decoder.SizedEncoder): every encode and frame request names the
// sizes it wants (a key: quality and widths); a reply read ahead for other
// sizes serves the call when it holds every size asked for, and otherwise
// the call asks the child to encode the frame it holds again at the sizes
// wanted (the child decodes a frame once, however often it encodes it).
type source struct {
	*process                 // rf is read unbuffered: a JPEG goes straight into its slice
	stop     <-chan struct{} // the OpenContext ctx's Done: the child was killed
	timeout  time.Duration
	info     media.VideoInfo
	req      []byte // reused request buffer
	small    []byte // reused buffer for small reply payloads

	ahead   bool     // a frame request was sent ahead and its reply is unread
	aheadK  sizes    // its sizes
	cached  [][]byte // JPEGs of the frame the child last grabbed, encoded ahead; nil if none
	cachedK sizes
	last    [][]byte // JPEGs GrabEncodeSizes last returned (for an Encode that follows it)
	lastK   sizes
	work    time.Duration // the child's time for the JPEG last returned
	watch   *time.Timer   // armed during a request or a wait for a reply: kills the child
	unbind  func() bool   // stops the kill when the OpenContext ctx ends
	expired atomic.Bool   // watch fired
	broken  error         // set once the child is gone; every call returns it
	reaped  bool
	closed  bool

	recycleAt    int64 // resident bytes at which the child is worn; 0: never
	recycleCheck time.Duration
	nextCheck    time.Time
	worn         bool    // the threshold was reached
	spares       *Spares // the opener's; nil if none
}

// Worn reports whether the child's resident memory reached the recycle
// threshold (decoder.Recycler) and, when the opener keeps spares, one is
// ready: the replacement then costs opening the file in a child that has
// already started, and the child starting takes no frame's time. It reads
// /proc at most once per recycleCheck.
func (s *source) Worn() bool {
	if !s.worn && s.recycleAt > 0 && s.broken == nil {
		if now := time.Now(); !now.Before(s.nextCheck) {
			s.nextCheck = now.Add(s.recycleCheck)
			rss, err := residentBytes(s.cmd.Process.Pid)
			s.worn = err == nil && rss >= s.recycleAt
		}
	}
	return s.worn && (s.spares == nil || s.spares.hasReady())
}

// residentBytes is the resident set size of process pid.
func residentBytes(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, err
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, fmt.Errorf("/proc/%d/statm: malformed", pid)
	}
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/statm: %w", pid, err)
	}
	return pages * int64(os.Getpagesize()), nil
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

// Encode encodes the frame last grabbed at full size.
func (s *source) Encode(quality int) ([]byte, error) {
	b, err := s.EncodeSizes(quality, fullOnly)
	if err != nil {
		return nil, err
	}
	return b[0], nil
}

// EncodeSizes encodes the frame last grabbed at widths: from the frame
// encoded ahead if the last Grab read it and it has those sizes, else by
// a request to the child.
func (s *source) EncodeSizes(quality int, widths []int) ([][]byte, error) {
	want, err := newSizes(quality, widths)
	if err != nil {
		return nil, err
	}
	if s.cached != nil {
		if b, ok := s.cachedK.pick(s.cached, want); ok {
			s.cached = nil
			return b, nil
		}
	}
	if s.ahead {
		// The child has moved past the frame GrabEncodeSizes returned.
		if b, ok := s.lastK.pick(s.last, want); ok && s.last != nil {
			for i := range b {
				b[i] = bytes.Clone(b[i])
			}
			return b, nil
		}
		return nil, errors.New("encode frame: no frame grabbed")
	}
	return s.jpegs(opEncode, want)
}

// GrabEncode grabs and encodes the next frame at full size.
func (s *source) GrabEncode(quality int) ([]byte, error) {
	b, err := s.GrabEncodeSizes(quality, fullOnly, fullOnly)
	if err != nil {
		return nil, err
	}
	return b[0], nil
}

// GrabEncodeSizes grabs and encodes the next frame at widths in one round
// trip, or none when it was read ahead, and then reads the next one ahead
// at the sizes ahead.
func (s *source) GrabEncodeSizes(quality int, widths, ahead []int) ([][]byte, error) {
	want, err := newSizes(quality, widths)
	if err != nil {
		return nil, err
	}
	next, err := newSizes(quality, ahead)
	if err != nil {
		next = want
	}
	var b [][]byte
	if s.ahead {
		k := s.aheadK
		var got [][]byte
		if got, err = s.settle(false); err == nil {
			var ok bool
			if b, ok = k.pick(got, want); !ok {
				// Read ahead at other sizes: that frame is grabbed; encode
				// it again.
				b, err = s.jpegs(opEncode, want)
			}
		}
	} else {
		b, err = s.jpegs(opFrame, want)
	}
	if err != nil {
		return nil, err
	}
	s.last, s.lastK = b, want
	s.sendAhead(next)
	return b, nil
}

// fullOnly asks for the full picture alone.
var fullOnly = []int{0}

// sendAhead asks the child for the next frame without waiting. A failure
// breaks the source for the next call; the frame in hand is still good.
func (s *source) sendAhead(k sizes) {
	if s.broken != nil {
		return
	}
	s.ahead, s.aheadK = true, k
	if err := s.send(opFrame, k.payload()); err != nil {
		s.ahead = false
		_ = s.fail(err)
	}
}

// settle reads the reply to the request sent ahead: the JPEGs of the next
// frame, io.EOF, or the child's error. With keep set, the JPEGs are kept
// for an Encode that follows (the caller wanted a grab).
func (s *source) settle(keep bool) ([][]byte, error) {
	s.ahead = false
	s.cached, s.last = nil, nil
	b, err := s.reply(opFrame, true)
	var jpegs [][]byte
	if err == nil {
		jpegs, err = s.checkJPEGs(b, len(s.aheadK.widths))
	}
	if err == nil && keep {
		s.cached, s.cachedK = jpegs, s.aheadK
	}
	return jpegs, err
}

func (s *source) jpegs(op byte, k sizes) ([][]byte, error) {
	if s.broken != nil {
		return nil, s.broken
	}
	if err := s.send(op, k.payload()); err != nil {
		return nil, s.fail(err)
	}
	b, err := s.reply(op, true)
	if err != nil {
		return nil, err
	}
	return s.checkJPEGs(b, len(k.widths))
}

// checkJPEGs takes the work time off an encode reply and splits the rest
// into n JPEGs (each length | JPEG), checking that each is one.
func (s *source) checkJPEGs(b []byte, n int) ([][]byte, error) {
	if len(b) < workLen {
		return nil, s.fail(fmt.Errorf("encode reply of %d bytes: %w", len(b), errMalformed))
	}
	work := time.Duration(binary.BigEndian.Uint64(b))
	jpegs, err := splitJPEGs(b[workLen:], n)
	if err != nil {
		return nil, s.fail(err)
	}
	s.work = work
	return jpegs, nil
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

var _ decoder.SizedEncoder = (*source)(nil)
