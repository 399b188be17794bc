package isolate

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
)

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
	out, err := enter(lim.Limits)
	if err != nil {
		return err
	}
	defer out.Close()
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
	out, err := enter(lim.Limits)
	if err != nil {
		return err
	}
	defer out.Close()
	return ServeProbe(ctx, out, rest[0], probe)
}

// enter makes this process a child: one processor for Go, standard
// output for the protocol alone, and the limits applied. It returns the
// protocol's output.
func enter(lim Limits) (*os.File, error) {
	oneProc()
	out, err := takeStdout()
	if err != nil {
		return nil, err
	}
	if err := lim.apply(os.Stderr); err != nil {
		out.Close()
		return nil, err
	}
	return out, nil
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

// parseChildArgs parses a child's flags; it returns the limits and the
// arguments after them.
func parseChildArgs(name string, args []string, stderr io.Writer) (childConfig, []string, error) {
	fs := flag.NewFlagSet("livemon "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	mem := fs.Int64("max-memory", DefaultMaxMemory, "address-space limit in bytes (0: none)")
	cpu := fs.Duration("max-cpu", DefaultMaxCPU, "CPU time per --cpu-window (0: none)")
	win := fs.Duration("cpu-window", DefaultCPUWindow, "window of --max-cpu")
	fb := fs.Int("frame-buffer", 0, "size of the shared frame buffer at file descriptor 3 (0: none)")
	if err := fs.Parse(args); err != nil {
		return childConfig{}, nil, err
	}
	l := Limits{MaxMemory: *mem, MaxCPU: *cpu, CPUWindow: *win}
	// In the flags 0 means none; in Limits it means the default.
	if l.MaxMemory == 0 {
		l.MaxMemory = -1
	}
	if l.MaxCPU == 0 {
		l.MaxCPU = -1
	}
	return childConfig{Limits: l, frameBuffer: *fb}, fs.Args(), nil
}

// childConfig is what a child's flags say.
type childConfig struct {
	Limits
	frameBuffer int // size of the shared frame buffer; 0: none
}
