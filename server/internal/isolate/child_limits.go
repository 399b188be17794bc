package isolate

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"syscall"
	"time"
)

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
