package isolate

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FaultEnv is the test-only fault switch; see the package documentation.
const FaultEnv = "LIVEMON_CHILD_FAULT"

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
