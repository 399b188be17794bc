package isolate

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// Defaults for Limits.
const (
	DefaultMaxMemory = 4 << 30
	DefaultMaxCPU    = time.Hour
	// cpuGrace is how long after the soft CPU limit (SIGXCPU, a clean exit
	// with ExitCPULimit) the hard limit kills the child outright.
	cpuGrace = 10 * time.Second
)

// Limits bound one child's resources. The parent passes them as flags and
// the child applies them to itself before opening any file.
type Limits struct {
	// MaxMemory is the child's address-space limit (RLIMIT_AS) in bytes:
	// 0 means DefaultMaxMemory, negative means none. Race-detector builds
	// skip it.
	MaxMemory int64
	// MaxCPU is the CPU time a child may use over its life (RLIMIT_CPU):
	// 0 means DefaultMaxCPU, negative means none.
	MaxCPU time.Duration
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

// args renders the limits as the children's flags (0: no limit).
func (l Limits) args() []string {
	return []string{
		"--max-memory", strconv.FormatInt(l.memory(), 10),
		"--max-cpu", l.cpu().String(),
	}
}

// parseChildArgs parses a child's flags; it returns the limits and the
// arguments after them.
func parseChildArgs(name string, args []string, stderr io.Writer) (Limits, []string, error) {
	fs := flag.NewFlagSet("livemon "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	mem := fs.Int64("max-memory", DefaultMaxMemory, "address-space limit in bytes (0: none)")
	cpu := fs.Duration("max-cpu", DefaultMaxCPU, "CPU-time limit (0: none)")
	if err := fs.Parse(args); err != nil {
		return Limits{}, nil, err
	}
	l := Limits{MaxMemory: *mem, MaxCPU: *cpu}
	// In the flags 0 means none; in Limits it means the default.
	if l.MaxMemory == 0 {
		l.MaxMemory = -1
	}
	if l.MaxCPU == 0 {
		l.MaxCPU = -1
	}
	return l, fs.Args(), nil
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
		soft := uint64(math.Ceil(c.Seconds()))
		hard := soft + uint64(cpuGrace.Seconds())
		// The Go runtime ignores SIGXCPU unless asked: exit cleanly, with
		// a status the parent can name.
		xcpu := make(chan os.Signal, 1)
		signal.Notify(xcpu, syscall.SIGXCPU)
		go func() {
			<-xcpu
			fmt.Fprintf(stderr, "livemon child: CPU-time limit of %v reached\n", c)
			os.Exit(ExitCPULimit)
		}()
		if err := setrlimit(syscall.RLIMIT_CPU, soft, hard); err != nil {
			return fmt.Errorf("set CPU-time limit: %w", err)
		}
	}
	return nil
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
