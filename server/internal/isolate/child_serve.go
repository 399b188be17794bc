package isolate

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
)

// ServeChild serves the decode protocol: requests from r, replies to w. It
// returns nil after a close request or when r ends (the parent is gone),
// having closed the source. The fault switch (FaultEnv) applies when set.
func ServeChild(r io.Reader, w io.Writer, opener decoder.Opener) error {
	return serveChild(r, w, opener, nil)
}

// serveChild is ServeChild handing JPEGs over through fb when not nil.
func serveChild(r io.Reader, w io.Writer, opener decoder.Opener, fb *frameBuffer) error {
	f, err := parseFault(os.Getenv(FaultEnv))
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(r, 4096)
	fit := newPipeFitter(w)
	var (
		src     decoder.Source
		buf     []byte // request
		out     []byte // reply
		multi   []byte // reused body of a reply with sizes
		encoded int
		workBuf [workLen]byte
		lenBuf  [4]byte
	)
	defer func() {
		if src != nil {
			src.Close()
		}
	}()
	for {
		op, payload, nb, err := readRequest(br, buf)
		buf = nb
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read request: %w", err)
		}
		if f.kind != "" && encoded >= f.after {
			f.strike(w)
		}
		status, reply := statusOK, []byte(nil)
		var opErr error
		began := time.Now()
		switch {
		case op == opOpen && src == nil:
			var s decoder.Source
			if s, opErr = opener.Open(string(payload)); opErr == nil {
				src, reply = s, encodeInfo(s.Info())
			}
		case op == opOpenStream && src == nil:
			var s decoder.Source
			if s, opErr = openStream(opener, payload); opErr == nil {
				src, reply = s, encodeInfo(s.Info())
			}
		case op == opScale:
			if reply, opErr = scaleJPEG(opener, payload); opErr == nil {
				encoded++
			}
		case op == opClose:
			if src != nil {
				opErr = src.Close()
				src = nil
			}
		case src == nil:
			opErr = fmt.Errorf("request %q before open", op)
		case op == opGrab:
			if opErr = src.Grab(); errors.Is(opErr, io.EOF) {
				status, opErr = statusEOF, nil
			}
		case op == opEncode && len(payload) >= 1:
			if reply, multi, opErr = encodeSizes(src, payload, multi); opErr == nil {
				encoded++
			}
		case op == opFrame && len(payload) >= 1:
			if opErr = src.Grab(); errors.Is(opErr, io.EOF) {
				status, opErr = statusEOF, nil
			} else if opErr == nil {
				if reply, multi, opErr = encodeSizes(src, payload, multi); opErr == nil {
					encoded++
				}
			}
		case op == opSeek && len(payload) == 8:
			opErr = src.SeekFrame(int64(binary.BigEndian.Uint64(payload)))
		default:
			opErr = fmt.Errorf("bad request %q of %d bytes", op, len(payload))
		}
		var work []byte
		if (op == opEncode || op == opFrame) && status == statusOK && opErr == nil {
			work = binary.BigEndian.AppendUint64(workBuf[:0], uint64(time.Since(began)))
			if fb.put(reply) {
				status, reply = statusShared, binary.BigEndian.AppendUint32(lenBuf[:0], uint32(len(reply)))
			}
		}
		if opErr != nil {
			status, reply = statusErr, encodeError(opErr)
		}
		// One write per reply, into a pipe that holds it: the parent wakes
		// once per reply, which matters more than the copy into out.
		out = appendReply(out[:0], op, status, work, reply)
		fit.fit(len(out))
		if _, err := w.Write(out); err != nil {
			return fmt.Errorf("write reply: %w", err)
		}
		if op == opClose {
			return nil
		}
	}
}

// StreamOpener is a child's Opener that can also open live streams (the
// opencv Opener).
type StreamOpener interface {
	OpenStream(media.StreamSpec) (decoder.Source, error)
}

// JPEGScaler is a child's Opener that can also scale JPEGs down (the
// opencv Opener); a scaler child serves the scale op with it.
type JPEGScaler interface {
	ScaleJPEG(jpeg []byte, width, quality int) (decoder.ScaledJPEG, error)
}

// scaleJPEG answers a scale request's payload.
func scaleJPEG(opener decoder.Opener, payload []byte) ([]byte, error) {
	sc, ok := opener.(JPEGScaler)
	if !ok {
		return nil, errors.New("this decoder cannot scale JPEGs")
	}
	jpeg, width, quality, err := parseScaleRequest(payload)
	if err != nil {
		return nil, err
	}
	s, err := sc.ScaleJPEG(jpeg, width, quality)
	if err != nil {
		return nil, err
	}
	return scaleReply(s)
}

// openStream opens the stream an opOpenStream payload names.
func openStream(opener decoder.Opener, payload []byte) (decoder.Source, error) {
	so, ok := opener.(StreamOpener)
	if !ok {
		return nil, errors.New("this decoder cannot open streams")
	}
	var spec media.StreamSpec
	if err := json.Unmarshal(payload, &spec); err != nil {
		return nil, fmt.Errorf("stream spec: %w", err)
	}
	return so.OpenStream(spec)
}

// encodeSizes answers an encode request's payload for the frame src last
// grabbed: one JPEG for the legacy payload (quality alone), else the JPEGs
// of every size asked, each length | JPEG, in buf (reused).
func encodeSizes(src decoder.Source, payload, buf []byte) (reply, newBuf []byte, err error) {
	k, legacy, err := parseSizes(payload)
	if err != nil {
		return nil, buf, err
	}
	if legacy {
		reply, err = src.Encode(int(k.q))
		return reply, buf, err
	}
	var jpegs [][]byte
	if se, ok := src.(decoder.SizedEncoder); ok {
		jpegs, err = se.EncodeSizes(int(k.q), k.widths)
	} else if slices.ContainsFunc(k.widths, func(w int) bool { return w != 0 }) {
		err = errCannotScale
	} else {
		var j []byte
		if j, err = src.Encode(int(k.q)); err == nil {
			for range k.widths {
				jpegs = append(jpegs, j)
			}
		}
	}
	if err != nil {
		return nil, buf, err
	}
	if len(jpegs) != len(k.widths) {
		return nil, buf, fmt.Errorf("source encoded %d sizes of %d", len(jpegs), len(k.widths))
	}
	buf = appendJPEGs(buf[:0], jpegs)
	return buf, buf, nil
}

// ServeProbe probes path and writes the result to w as JSON. A probe
// failure is part of the output, not an error; the fault switch (FaultEnv)
// applies when set.
func ServeProbe(ctx context.Context, w io.Writer, path string, probe ProbeFunc) error {
	f, err := parseFault(os.Getenv(FaultEnv))
	if err != nil {
		return err
	}
	if f.kind != "" {
		f.strike(w)
	}
	info, err := probe(ctx, path)
	var out probeOutput
	if err != nil {
		var me *media.Error
		if !errors.As(err, &me) {
			me = &media.Error{Kind: media.KindUnusable, Message: "the file could not be read as a video"}
		}
		out.Error = &probeError{Kind: me.Kind, Message: me.Message}
	} else {
		fps := info.FPS
		if math.IsNaN(fps) || math.IsInf(fps, 0) {
			fps = 0
		}
		out.Info = &probeInfo{Width: info.Width, Height: info.Height, FPS: fps, Frames: info.Frames,
			DurationNS: int64(info.Duration), Codec: info.Codec}
	}
	return json.NewEncoder(w).Encode(out)
}

// pipeFitter grows the pipe a child writes its replies to so that it holds
// the largest reply so far (up to maxPipeSize): the child then writes a
// frame in one go instead of waking the parent for every 64 KiB, which
// saves a noticeable share of the pipe's CPU cost. The pipe only grows as
// far as frames need, because a user's pipes share a budget
// (/proc/sys/fs/pipe-user-pages-soft). Failure only costs speed.
type pipeFitter struct {
	rc   syscall.RawConn
	size int
}

const (
	maxPipeSize = 1 << 20
	fGetPipeSz  = 1032 // F_GETPIPE_SZ
	fSetPipeSz  = 1031 // F_SETPIPE_SZ
)

// newPipeFitter returns a fitter for w, or nil if w is not a pipe.
func newPipeFitter(w io.Writer) *pipeFitter {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil
	}
	p := &pipeFitter{rc: rc}
	if p.fcntl(fGetPipeSz, 0) <= 0 {
		return nil
	}
	return p
}

func (p *pipeFitter) fit(n int) {
	if p == nil || n <= p.size || p.size >= maxPipeSize {
		return
	}
	want := p.size
	for want < n && want < maxPipeSize {
		want *= 2
	}
	if got := p.fcntl(fSetPipeSz, min(want, maxPipeSize)); got > 0 {
		p.size = got
	} else {
		p.size = maxPipeSize // refused: stop trying
	}
}

// fcntl runs fcntl(cmd, arg) on the pipe and returns its result, which for
// both commands is the pipe's size, or -1.
func (p *pipeFitter) fcntl(cmd, arg int) int {
	res := -1
	_ = p.rc.Control(func(fd uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, uintptr(cmd), uintptr(arg))
		if errno == 0 {
			res = int(r)
		}
	})
	if cmd == fGetPipeSz && res > 0 {
		p.size = res
	}
	return res
}
