package isolate

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// selfExe names the running binary even after it was replaced or deleted
// on disk (an upgrade), so a child is always the parent's own build and
// speaks its protocol.
const selfExe = "/proc/self/exe"

// waitTimeout is how long Close waits for a child that was asked to exit
// before it kills it.
const waitTimeout = 2 * time.Second

// spawn is what Opener and Prober share about starting a child.
type spawn struct {
	exe    string
	limits Limits
	env    []string
	stderr io.Writer
}

// command builds the child's command. The child dies with the parent
// (SIGKILL as parent-death signal) and has its own process group, so a
// terminal's Ctrl-C reaches only the parent, which then closes it.
func (s spawn) command(ctx context.Context, sub string, extra ...string) *exec.Cmd {
	exe := s.exe
	if exe == "" {
		exe = selfExe
		if _, err := os.Stat(exe); err != nil {
			if exe, err = os.Executable(); err != nil {
				exe = os.Args[0]
			}
		}
	}
	args := append([]string{sub}, s.limits.args()...)
	cmd := exec.CommandContext(ctx, exe, append(args, extra...)...)
	cmd.Args[0] = os.Args[0]
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	cmd.Env = childEnv(os.Environ(), s.env)
	cmd.Stderr = s.stderr
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	// Cancel (ctx ended) kills: a child busy in C code cannot be asked.
	cmd.WaitDelay = waitTimeout
	return cmd
}

// childEnv is base without the server's own settings (LIVEMON_*, which
// may hold the access token: a child decoding a hostile file has no use
// for them), except the fault switch, plus extra (later entries win), plus
// MALLOC_ARENA_MAX=2 unless either sets it: glibc's per-thread heaps
// reserve 64 MiB of address space each, which on a many-core machine would
// eat the address-space limit.
func childEnv(base, extra []string) []string {
	env := make([]string, 0, len(base)+len(extra)+1)
	for _, kv := range base {
		if !strings.HasPrefix(kv, "LIVEMON_") || strings.HasPrefix(kv, FaultEnv+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, extra...)
	for _, kv := range env {
		if strings.HasPrefix(kv, "MALLOC_ARENA_MAX=") {
			return env
		}
	}
	return append(env, "MALLOC_ARENA_MAX=2")
}

// exitReason describes how a reaped child ended, for logs and errors.
func exitReason(state *os.ProcessState, waitErr error) string {
	if state == nil {
		if waitErr != nil {
			return waitErr.Error()
		}
		return "unknown exit"
	}
	return state.String()
}

// cpuLimited reports whether the child exited because of its CPU limit.
func cpuLimited(state *os.ProcessState) bool {
	if state == nil {
		return false
	}
	if state.ExitCode() == ExitCPULimit {
		return true
	}
	ws, ok := state.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGXCPU
}

// isClosed reports whether ch is closed (it is only ever closed, never
// sent on).
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
