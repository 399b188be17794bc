package isolate

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// Defaults for Limits.
const (
	DefaultMaxMemory = 4 << 30
	DefaultCPUWindow = time.Minute
)

// DefaultMaxCPU is the CPU time a child may use per DefaultCPUWindow: half
// the machine's cores, at least one, for the whole window. A 720p30 camera
// needs about a quarter of one core.
var DefaultMaxCPU = time.Duration(max(1, runtime.NumCPU()/2)) * DefaultCPUWindow

// Limits bound one child's resources. The parent passes them as flags and
// the child applies them to itself before opening any file.
type Limits struct {
	// MaxMemory is the child's address-space limit (RLIMIT_AS) in bytes:
	// 0 means DefaultMaxMemory, negative means none. Race-detector builds
	// skip it.
	MaxMemory int64
	// MaxCPU is the CPU time a child may use per CPUWindow (enforced with
	// RLIMIT_CPU, which the child moves forward at the start of every
	// window): 0 means DefaultMaxCPU, negative means none. It is a rate,
	// not a lifetime budget: a child that plays for days within it is
	// never stopped.
	MaxCPU time.Duration
	// CPUWindow is the window of MaxCPU: 0 means DefaultCPUWindow. At
	// least a second.
	CPUWindow time.Duration
}

func (l Limits) memory() int64 {
	switch {
	case l.MaxMemory == 0:
		return DefaultMaxMemory
	case l.MaxMemory < 0:
		return 0
	}
	return l.MaxMemory
}

func (l Limits) cpu() time.Duration {
	switch {
	case l.MaxCPU == 0:
		return DefaultMaxCPU
	case l.MaxCPU < 0:
		return 0
	}
	return max(l.MaxCPU, time.Second)
}

func (l Limits) window() time.Duration {
	if l.CPUWindow <= 0 {
		return DefaultCPUWindow
	}
	return max(l.CPUWindow, time.Second)
}

// args renders the limits as the children's flags (0: no limit).
func (l Limits) args() []string {
	return []string{
		"--max-memory", strconv.FormatInt(l.memory(), 10),
		"--max-cpu", l.cpu().String(),
		"--cpu-window", l.window().String(),
	}
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

// apply sets the limits on the calling process and, for the CPU limit,
// exits with ExitCPULimit when the kernel signals it was reached.
func (l Limits) apply(stderr io.Writer) error {
	if err := setrlimit(syscall.RLIMIT_CORE, 0, 0); err != nil {
		return fmt.Errorf("disable core dumps: %w", err)
	}
	if m := l.memory(); m > 0 && !raceEnabled {
		if err := setrlimit(syscall.RLIMIT_AS, uint64(m), uint64(m)); err != nil {
			return fmt.Errorf("set address-space limit: %w", err)
		}
	}
	if c := l.cpu(); c > 0 {
		// The Go runtime ignores SIGXCPU unless asked: exit cleanly, with
		// a status the parent can name.
		xcpu := make(chan os.Signal, 1)
		signal.Notify(xcpu, syscall.SIGXCPU)
		go func() {
			<-xcpu
			fmt.Fprintf(stderr, "livemon child: used more than %v of CPU within %v\n", c, l.window())
			os.Exit(ExitCPULimit)
		}()
		if err := slideCPULimit(c); err != nil {
			return fmt.Errorf("set CPU-time limit: %w", err)
		}
		// Lives as long as the process: at the start of every window the
		// limit moves to what was used so far plus one window's budget.
		// Should this goroutine ever not run, the limit stays where it
		// is and stops the child.
		go func() {
			t := time.NewTicker(l.window())
			for range t.C {
				if err := slideCPULimit(c); err != nil {
					fmt.Fprintf(stderr, "livemon child: move CPU-time limit: %v\n", err)
				}
			}
		}()
	}
	return nil
}

// slideCPULimit sets the process's soft CPU-time limit to the CPU time it
// has used so far plus budget (whole seconds, as the kernel counts). The
// hard limit stays: an unprivileged process could not raise it again.
func slideCPULimit(budget time.Duration) error {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return err
	}
	used := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return setrlimit(syscall.RLIMIT_CPU, uint64(math.Ceil((used + budget).Seconds())), math.MaxUint64)
}

// setrlimit lowers a limit; it never raises one above its current hard
// limit (which an unprivileged process cannot do).
func setrlimit(resource int, soft, hard uint64) error {
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(resource, &cur); err != nil {
		return err
	}
	hard = min(hard, cur.Max)
	soft = min(soft, hard)
	if err := syscall.Setrlimit(resource, &syscall.Rlimit{Cur: soft, Max: hard}); err != nil {
		return errors.Join(err, fmt.Errorf("resource %d to %d/%d", resource, soft, hard))
	}
	return nil
}
