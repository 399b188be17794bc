package isolate

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
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

// process is the parent's handle on a started decode child. A goroutine
// reaps the child the moment it exits (so it is never a zombie, even while
// nobody talks to it) and then closes done; whoever owns the handle (a
// source or Spares) waits for done.
type process struct {
	cmd     *exec.Cmd
	w       *os.File     // its stdin
	rf      *os.File     // its stdout
	fb      *frameBuffer // nil: JPEGs come through rf
	done    chan struct{}
	waitErr error // cmd.Wait's result, once done is closed
}

func (c *process) exited() bool { return isClosed(c.done) }

// kill kills the child if it still runs and waits until it is reaped
// (a kill of a child that already exited fails harmlessly).
func (c *process) kill() error {
	_ = c.cmd.Process.Kill()
	<-c.done
	return c.waitErr
}

// start starts a decode child. It is not tied to any ctx: attach ties it.
func (o Opener) start() (*process, error) {
	var extra []string
	fb, fbFile, err := newFrameBuffer()
	if err == nil {
		extra = []string{"--frame-buffer", strconv.Itoa(len(fb.mem))}
	} // else frames go through the pipe: slower, still correct
	cmd := spawn{exe: o.Exe, limits: o.Limits, env: o.Env, stderr: o.Stderr}.command(context.Background(), DecodeCommand, extra...)
	if fbFile != nil {
		cmd.ExtraFiles = []*os.File{fbFile}
		defer fbFile.Close() // the child has its own after Start; ours maps it
	}
	// Blocking pipes on both sides. Ours stay out of Go's poller, whose
	// thread would otherwise wake for every reply that arrives while the
	// decoder sleeps (read-ahead makes that every frame); a call's time
	// limit is a timer that kills the child instead of a deadline.
	inR, inW, err := blockingPipe()
	if err != nil {
		fb.close()
		return nil, startError(err)
	}
	outR, outW, err := blockingPipe()
	if err != nil {
		fb.close()
		inR.Close()
		inW.Close()
		return nil, startError(err)
	}
	cmd.Stdin, cmd.Stdout = inR, outW
	err = cmd.Start()
	// The child has its ends now (or never will).
	inR.Close()
	outW.Close()
	if err != nil {
		fb.close()
		inW.Close()
		outR.Close()
		return nil, startError(err)
	}
	c := &process{cmd: cmd, w: inW, rf: outR, fb: fb, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// discard kills and reaps a child nobody uses and releases its resources.
func (c *process) discard() {
	c.w.Close()
	_ = c.kill()
	c.rf.Close()
	c.fb.close()
}

// blockingPipe is os.Pipe without the poller: reads and writes block in
// the kernel.
func blockingPipe() (r, w *os.File, err error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return nil, nil, err
	}
	return os.NewFile(uintptr(p[0]), "|0"), os.NewFile(uintptr(p[1]), "|1"), nil
}

func startError(err error) error {
	return media.WrapError(media.KindInternal, fmt.Errorf("%w: start decoder process: %w", decoder.ErrSourceBroken, err),
		"the video decoder process could not be started")
}
