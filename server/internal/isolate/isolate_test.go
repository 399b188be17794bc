package isolate_test

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/isolate"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/synth"
)

// Generous bounds: the machine may be busy, and a race-enabled child
// takes a while to start. Assertions about time are only lower bounds or
// these ceilings.
const (
	callTimeout = 2 * time.Second
	promptly    = 15 * time.Second
)

var spec = synth.Spec{Video: 3, Frames: 40, FPS: 25, Width: 96, Height: 64}

func open(t *testing.T, o isolate.Opener, path string) decoder.Source {
	t.Helper()
	src, err := o.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// frame grabs and encodes the next frame and returns its marker's index.
func frame(t *testing.T, src decoder.Source) int {
	t.Helper()
	if err := src.Grab(); err != nil {
		t.Fatalf("Grab: %v", err)
	}
	b, err := src.Encode(80)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	v, n, ok := synth.ReadMarker(b)
	if !ok || v != spec.Video {
		t.Fatalf("frame marker %d/%d ok=%v", v, n, ok)
	}
	return n
}

// A child serves the same video the in-process source does: info, frames,
// seeks, end of file and errors; Close reaps it.
func TestSourceLikeInProcess(t *testing.T) {
	path := writeSynth(t, spec)
	src, err := isolate.Opener{}.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := synth.Opener{}.Open(path)
	if got := src.Info(); got != want.Info() {
		t.Fatalf("Info = %+v, want %+v", got, want.Info())
	}
	for i := range 3 {
		if n := frame(t, src); n != i {
			t.Fatalf("frame %d has marker %d", i, n)
		}
	}
	if err := src.SeekFrame(37); err != nil {
		t.Fatal(err)
	}
	if n := frame(t, src); n != 37 {
		t.Fatalf("after seek: marker %d", n)
	}
	if err := src.SeekFrame(99); err == nil || errors.Is(err, decoder.ErrSourceBroken) {
		t.Fatalf("seek out of range: %v, want the child's error", err)
	}
	// The failed seek left the child usable.
	if err := src.SeekFrame(38); err != nil {
		t.Fatal(err)
	}
	frame(t, src)
	ge := src.(decoder.GrabEncoder)
	b, err := ge.GrabEncode(80)
	if v, n, ok := synth.ReadMarker(b); err != nil || !ok || v != spec.Video || n != 39 {
		t.Fatalf("GrabEncode: marker %d/%d, %v", v, n, err)
	}
	if _, err := ge.GrabEncode(80); !errors.Is(err, io.EOF) {
		t.Fatalf("GrabEncode at end = %v, want io.EOF", err)
	}
	if err := src.Grab(); !errors.Is(err, io.EOF) {
		t.Fatalf("Grab at end = %v, want io.EOF", err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	noChildren(t)
}

// Open errors keep their kind and user-safe message, and leave no child.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notVideo := dir + "/notes.txt"
	if err := os.WriteFile(notVideo, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := isolate.Opener{}.Open(notVideo)
	var me *media.Error
	if !errors.As(err, &me) || me.Kind != media.KindUnsupported || me.Message != "the file is not a video" {
		t.Fatalf("Open(text file) = %v, want KindUnsupported from the child", err)
	}
	if _, err := (isolate.Opener{}).Open(dir + "/missing"); err == nil || errors.Is(err, decoder.ErrSourceBroken) {
		t.Fatalf("Open(missing) = %v", err)
	}
	if _, err := (isolate.Opener{Exe: dir + "/no-such-binary"}).Open(notVideo); !errors.Is(err, decoder.ErrSourceBroken) {
		t.Fatalf("Open with a missing binary = %v, want ErrSourceBroken", err)
	}
	noChildren(t)
}

// A child that crashes, hangs or talks garbage makes the call in flight
// fail with a readable error, is reaped before the call returns, and
// leaves the source failed.
func TestFaults(t *testing.T) {
	path := writeSynth(t, spec)
	for _, tc := range []struct {
		fault string
		msg   string
	}{
		{"crash:3", "crashed"},
		{"hang:3", "did not answer within 2s"},
		{"garbage:3", "malformed reply"},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			src := open(t, isolate.Opener{CallTimeout: callTimeout, Stderr: logWriter{t}, Env: []string{isolate.FaultEnv + "=" + tc.fault}}, path)
			for i := range 3 {
				if n := frame(t, src); n != i {
					t.Fatalf("frame %d has marker %d", i, n)
				}
			}
			begin := time.Now()
			err := src.Grab()
			took := time.Since(begin)
			if !errors.Is(err, decoder.ErrSourceBroken) || errors.Is(err, io.EOF) {
				t.Fatalf("Grab = %v, want ErrSourceBroken (and not the end of the file)", err)
			}
			var me *media.Error
			if !errors.As(err, &me) || !strings.Contains(me.Message, tc.msg) || strings.Contains(me.Message, path) {
				t.Fatalf("error %q, want a message with %q and no path", err, tc.msg)
			}
			t.Logf("after %v: %v", took.Round(time.Millisecond), err)
			if strings.HasPrefix(tc.fault, "hang") && took < callTimeout {
				t.Fatalf("hang failed after %v, before the %v deadline", took, callTimeout)
			}
			if took > callTimeout+promptly {
				t.Fatalf("fault noticed after %v", took)
			}
			noChildren(t) // reaped before the call returned
			if _, err2 := src.Encode(80); !errors.Is(err2, decoder.ErrSourceBroken) {
				t.Fatalf("Encode after the fault = %v", err2)
			}
			if err := src.Close(); err != nil {
				t.Fatalf("Close after the fault: %v", err)
			}
		})
	}
	t.Run("crash on open", func(t *testing.T) {
		_, err := isolate.Opener{CallTimeout: callTimeout, Stderr: logWriter{t}, Env: []string{isolate.FaultEnv + "=crash"}}.Open(path)
		if !errors.Is(err, decoder.ErrSourceBroken) {
			t.Fatalf("Open = %v, want ErrSourceBroken", err)
		}
		noChildren(t)
	})
}

// Ending the OpenContext ctx kills a hung child at once, well before the
// call deadline.
func TestContextEndKillsChild(t *testing.T) {
	path := writeSynth(t, spec)
	ctx, cancel := context.WithCancel(t.Context())
	o := isolate.Opener{CallTimeout: time.Hour, Env: []string{isolate.FaultEnv + "=hang:1"}}
	src, err := o.OpenContext(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	frame(t, src)
	done := make(chan error, 1)
	go func() { done <- src.Grab() }()
	time.Sleep(100 * time.Millisecond) // let the request reach the child
	cancel()
	select {
	case err := <-done:
		var me *media.Error
		if !errors.Is(err, decoder.ErrSourceBroken) || !errors.As(err, &me) || !strings.Contains(me.Message, "stopped") {
			t.Fatalf("Grab = %v", err)
		}
	case <-time.After(promptly):
		t.Fatal("Grab still blocked after ctx ended")
	}
	noChildren(t)
}

func TestProbe(t *testing.T) {
	path := writeSynth(t, spec)
	dir := t.TempDir()
	text := dir + "/notes.txt"
	if err := os.WriteFile(text, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	want, _ := synth.Prober{}.Probe(t.Context(), path)

	info, err := isolate.Prober{}.Probe(t.Context(), path)
	if err != nil || info != want {
		t.Fatalf("Probe = %+v, %v; want %+v", info, err, want)
	}
	_, err = isolate.Prober{}.Probe(t.Context(), text)
	var me *media.Error
	if !errors.As(err, &me) || me.Kind != media.KindUnsupported {
		t.Fatalf("Probe(text) = %v, want KindUnsupported", err)
	}
	for _, f := range []string{"crash", "garbage"} {
		_, err := isolate.Prober{Stderr: logWriter{t}, Env: []string{isolate.FaultEnv + "=" + f}}.Probe(t.Context(), path)
		if !errors.As(err, &me) || me.Kind != media.KindUnusable || strings.Contains(me.Message, dir) {
			t.Fatalf("Probe with %s = %v, want KindUnusable", f, err)
		}
	}

	// A hung probe is killed when its ctx ends.
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	begin := time.Now()
	_, err = isolate.Prober{Env: []string{isolate.FaultEnv + "=hang"}}.Probe(ctx, path)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &me) || me.Kind != media.KindUnusable {
		t.Fatalf("hung Probe = %v, want KindUnusable wrapping DeadlineExceeded", err)
	}
	if took := time.Since(begin); took > promptly {
		t.Fatalf("hung Probe returned after %v", took)
	}
	noChildren(t)
}

// ServeChild ends, closing its source, when its input ends: a child whose
// parent is gone exits.
func TestServeChildEndsWithInput(t *testing.T) {
	path := writeSynth(t, spec)
	reqR, reqW := io.Pipe()
	repR, repW := io.Pipe()
	done := make(chan error, 1)
	o := &countingOpener{}
	go func() { done <- isolate.ServeChild(reqR, repW, o) }()
	go io.Copy(io.Discard, repR)
	if _, err := reqW.Write(append([]byte{'O', 0, 0, 0, byte(len(path))}, path...)); err != nil {
		t.Fatal(err)
	}
	reqW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeChild = %v", err)
		}
	case <-time.After(promptly):
		t.Fatal("ServeChild did not end with its input")
	}
	repW.Close()
	if o.closed != 1 {
		t.Fatalf("source closed %d times, want 1", o.closed)
	}
}

type countingOpener struct{ closed int }

func (o *countingOpener) Open(path string) (decoder.Source, error) {
	s, err := synth.Opener{}.Open(path)
	return closeCounter{s, o}, err
}

type closeCounter struct {
	decoder.Source
	o *countingOpener
}

func (c closeCounter) Close() error { c.o.closed++; return c.Source.Close() }

// A child dies with its parent, even when the parent is SIGKILLed and the
// child is hung (not reading its stdin): the parent-death signal.
func TestChildDiesWithParent(t *testing.T) {
	path := writeSynth(t, spec)
	cmd := exec.Command("/proc/self/exe", "pdeath-parent", path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := readLine(out, promptly)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper gave no child pid: %v", err)
	}
	child, _ := strconv.Atoi(line)
	if _, ppid, _, ok := procStat(line); !ok || ppid != cmd.Process.Pid {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("pid %q is not the helper's child", line)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	deadline := time.Now().Add(promptly)
	for {
		_, _, state, ok := procStat(line)
		if !ok || state == "Z" { // gone, or dead and waiting for init
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(child, syscall.SIGKILL)
			t.Fatalf("child %d still alive (%s) after its parent was killed", child, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
	noChildren(t)
}
