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
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
)

// FaultEnv is the test-only fault switch; see the package documentation.
const FaultEnv = "LIVEMON_CHILD_FAULT"

// ProbeFunc checks that a file is a playable video (camera.Prober's
// method; in the server, opencv.Probe with its limits bound).
type ProbeFunc func(ctx context.Context, path string) (media.VideoInfo, error)

// DecodeChild is the body of the hidden "decode-child" subcommand: it
// applies the limits its flags give, then serves the protocol on stdin and
// stdout with opener until told to close or until stdin ends.
func DecodeChild(args []string, opener decoder.Opener) error {
	lim, rest, err := parseChildArgs(DecodeCommand, args, os.Stderr)
	if err != nil {
		return err
	}
	fb, err := openFrameBuffer(lim.frameBuffer)
	if err != nil {
		fmt.Fprintf(os.Stderr, "livemon child: %v; frames go through the pipe\n", err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("%s: unexpected argument %q", DecodeCommand, rest[0])
	}
	oneProc()
	out, err := takeStdout()
	if err != nil {
		return err
	}
	defer out.Close()
	if err := lim.apply(os.Stderr); err != nil {
		return err
	}
	return serveChild(os.Stdin, out, opener, fb)
}

// ProbeChild is the body of the hidden "probe-child" subcommand:
// "probe-child [limit flags] -- PATH".
func ProbeChild(ctx context.Context, args []string, probe ProbeFunc) error {
	lim, rest, err := parseChildArgs(ProbeCommand, args, os.Stderr)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("%s: want exactly one file", ProbeCommand)
	}
	oneProc()
	out, err := takeStdout()
	if err != nil {
		return err
	}
	defer out.Close()
	if err := lim.apply(os.Stderr); err != nil {
		return err
	}
	return ServeProbe(ctx, out, rest[0], probe)
}

// oneProc runs the child's Go code on one processor (unless GOMAXPROCS is
// set): it is one loop waiting on a pipe, while the decoding runs in C
// threads Go does not count. With more, every wake-up of that loop can
// also wake an idle processor to look for work, which cost a watched
// 720p30 camera about 5 % more CPU on two cores.
func oneProc() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

// takeStdout returns the process's standard output for the protocol alone
// and points file descriptor 1 at standard error, so whatever C code
// prints cannot corrupt the replies.
func takeStdout() (*os.File, error) {
	fd, err := syscall.Dup(1)
	if err != nil {
		return nil, fmt.Errorf("dup stdout: %w", err)
	}
	syscall.CloseOnExec(fd)
	if err := syscall.Dup3(2, 1, 0); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("redirect stdout: %w", err)
	}
	return os.NewFile(uintptr(fd), "protocol"), nil
}

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
		case op == opEncode && len(payload) == 1:
			if reply, opErr = src.Encode(int(payload[0])); opErr == nil {
				encoded++
			}
		case op == opFrame && len(payload) == 1:
			if opErr = src.Grab(); errors.Is(opErr, io.EOF) {
				status, opErr = statusEOF, nil
			} else if opErr == nil {
				if reply, opErr = src.Encode(int(payload[0])); opErr == nil {
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

// probeOutput is the probe child's one line of JSON.
type probeOutput struct {
	Info  *probeInfo  `json:"info,omitempty"`
	Error *probeError `json:"error,omitempty"`
}

type probeInfo struct {
	Width      int     `json:"width"`
	Height     int     `json:"height"`
	FPS        float64 `json:"fps"`
	Frames     int64   `json:"frames"`
	DurationNS int64   `json:"duration_ns"`
	Codec      string  `json:"codec,omitempty"`
}

type probeError struct {
	Kind    media.Kind `json:"kind"`
	Message string     `json:"message"`
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

// fault is a parsed LIVEMON_CHILD_FAULT.
type fault struct {
	kind  string // crash, hang, garbage; empty: none
	after int    // frames encoded before it strikes
}

func parseFault(v string) (fault, error) {
	if v == "" {
		return fault{}, nil
	}
	kind, n, hasN := strings.Cut(v, ":")
	f := fault{kind: kind}
	if hasN {
		var err error
		if f.after, err = strconv.Atoi(n); err != nil || f.after < 0 {
			return fault{}, fmt.Errorf("%s=%q: bad frame count", FaultEnv, v)
		}
	}
	switch kind {
	case "crash", "hang", "garbage":
		return f, nil
	}
	return fault{}, fmt.Errorf("%s=%q: want crash, hang or garbage, optionally with :N", FaultEnv, v)
}

// strike makes the child misbehave: crash and hang do not return.
func (f *fault) strike(w io.Writer) {
	switch f.kind {
	case "crash":
		// What a segfault in C does to a Go program: the runtime reports
		// it and the process dies.
		_ = syscall.Kill(os.Getpid(), syscall.SIGSEGV)
		time.Sleep(time.Hour) // the signal is delivered before this ends
		os.Exit(2)
	case "hang":
		time.Sleep(math.MaxInt64)
	case "garbage":
		_, _ = io.WriteString(w, "\x7fELF garbage from the test fault switch\n")
		f.kind = "" // strike once, then serve on
	}
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
