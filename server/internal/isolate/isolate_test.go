package isolate_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
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
	return marker(t, b, err)
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

// marker returns a JPEG's frame marker, failing the test if it has none.
func marker(t *testing.T, b []byte, err error) int {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	v, n, ok := synth.ReadMarker(b)
	if !ok || v != spec.Video {
		t.Fatalf("frame marker %d/%d ok=%v", v, n, ok)
	}
	return n
}

// The frame read ahead after GrabEncode is what every call order the
// decoder uses expects: the next GrabEncode, a Grab (skipping a frame)
// with or without an Encode after it, a seek, an Encode of the frame
// GrabEncode returned, a change of quality, the end of the file and Close.
func TestReadAhead(t *testing.T) {
	path := writeSynth(t, spec)
	src := open(t, isolate.Opener{CallTimeout: promptly}, path)
	ge := src.(decoder.GrabEncoder)
	at := func(q int) int { t.Helper(); b, err := ge.GrabEncode(q); return marker(t, b, err) }
	next := func() int { t.Helper(); return at(80) }
	for i := range 3 {
		if n := next(); n != i {
			t.Fatalf("GrabEncode %d: frame %d", i, n)
		}
	}
	if et := src.(decoder.EncodeTimer).EncodeTime(); et <= 0 || et > promptly {
		t.Fatalf("EncodeTime = %v, want the child's time for the frame", et)
	}
	// Encode without a grab: the frame GrabEncode returned, again.
	if b, err := src.Encode(80); marker(t, b, err) != 2 {
		t.Fatal("Encode after GrabEncode: not frame 2")
	}
	// Skip frames 3 and 4 (the first is the one read ahead), encode 5.
	for range 2 {
		if err := src.Grab(); err != nil {
			t.Fatal(err)
		}
	}
	if n := frame(t, src); n != 5 {
		t.Fatalf("after skipping two frames: frame %d, want 5", n)
	}
	if n := next(); n != 6 {
		t.Fatalf("GrabEncode after Grab and Encode: frame %d, want 6", n)
	}
	// Another quality than the frame read ahead: still the next frame.
	if n := at(50); n != 7 {
		t.Fatalf("GrabEncode at quality 50: frame %d, want 7", n)
	}
	if n := next(); n != 8 {
		t.Fatalf("GrabEncode back at quality 80: frame %d, want 8", n)
	}
	// A seek drops the frame read ahead.
	if err := src.SeekFrame(20); err != nil {
		t.Fatal(err)
	}
	if n := next(); n != 20 {
		t.Fatalf("GrabEncode after seek: frame %d, want 20", n)
	}
	// Grab of the frame read ahead, then a seek back before it.
	if err := src.Grab(); err != nil {
		t.Fatal(err)
	}
	if err := src.SeekFrame(10); err != nil {
		t.Fatal(err)
	}
	if n := frame(t, src); n != 10 {
		t.Fatalf("Grab and Encode after seek: frame %d, want 10", n)
	}
	// The end: the frame read ahead past the last is io.EOF, twice.
	if err := src.SeekFrame(int64(spec.Frames - 1)); err != nil {
		t.Fatal(err)
	}
	if n := next(); int64(n) != spec.Frames-1 {
		t.Fatalf("last frame %d", n)
	}
	if _, err := ge.GrabEncode(80); !errors.Is(err, io.EOF) {
		t.Fatalf("GrabEncode past the end = %v, want io.EOF", err)
	}
	if err := src.Grab(); !errors.Is(err, io.EOF) {
		t.Fatalf("Grab past the end = %v, want io.EOF", err)
	}
	// Close with a frame read ahead and unread.
	if err := src.SeekFrame(0); err != nil {
		t.Fatal(err)
	}
	next()
	if err := src.Close(); err != nil {
		t.Fatalf("Close with a frame read ahead: %v", err)
	}
	noChildren(t)
}

// A child that hangs while it reads a frame ahead fails the next call
// after the call timeout, not before and not never.
func TestReadAheadHang(t *testing.T) {
	path := writeSynth(t, spec)
	src := open(t, isolate.Opener{CallTimeout: callTimeout, Env: []string{isolate.FaultEnv + "=hang:2"}}, path)
	ge := src.(decoder.GrabEncoder)
	for i := range 2 {
		if b, err := ge.GrabEncode(80); marker(t, b, err) != i {
			t.Fatalf("not frame %d", i)
		}
	}
	// The request for frame 2 went ahead and met the fault.
	time.Sleep(callTimeout / 2)
	began := time.Now()
	_, err := ge.GrabEncode(80)
	if !errors.Is(err, decoder.ErrSourceBroken) || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("GrabEncode from a hung child = %v, want a broken source that did not answer", err)
	}
	if took := time.Since(began); took < callTimeout {
		t.Fatalf("failed after %v, before the call timeout %v", took, callTimeout)
	}
	src.Close()
	noChildren(t)
}

// Frames reach the parent through the shared frame buffer, and one larger
// than the buffer through the pipe, whole.
func TestFrameBufferAndLargeFrames(t *testing.T) {
	for _, size := range []int{150_000, 17 << 20} {
		o := isolate.Opener{CallTimeout: promptly, Env: []string{openerEnv + "=fixed:" + strconv.Itoa(size)}}
		src := open(t, o, "any")
		ge := src.(decoder.GrabEncoder)
		for i := range 3 {
			b, err := ge.GrabEncode(80)
			if err != nil || len(b) != size || b[0] != 0xFF || b[1] != 0xD8 || b[size-1] != byte(size-1) {
				t.Fatalf("size %d, frame %d: %d bytes, %v", size, i, len(b), err)
			}
		}
		maps, err := os.ReadFile("/proc/" + strconv.Itoa(onlyChild(t)) + "/maps")
		if err != nil || !strings.Contains(string(maps), "livemon-frames") {
			t.Fatalf("the child has no frame buffer mapped (%v)", err)
		}
		if err := src.Close(); err != nil {
			t.Fatal(err)
		}
	}
	noChildren(t)
}

// A file that makes the decoder take more memory than the address-space
// limit allows crashes its child, not the server.
func TestMemoryLimit(t *testing.T) {
	if isolate.RaceEnabled {
		t.Skip("the race detector's address space rules out the limit")
	}
	o := isolate.Opener{
		CallTimeout: promptly,
		Limits:      isolate.Limits{MaxMemory: 1 << 30},
		Stderr:      io.Discard,                                // the Go runtime's out-of-memory report
		Env:         []string{openerEnv + "=fixed:1500000000"}, // a 1.5 GB "frame"
	}
	_, err := o.Open("any")
	var me *media.Error
	if !errors.Is(err, decoder.ErrSourceBroken) || !errors.As(err, &me) || me.Message != "the video decoder process crashed" {
		t.Fatalf("Open past the memory limit = %v, want a crashed child", err)
	}
	noChildren(t)
}

// A child that uses more CPU than its budget within a window is stopped,
// with an error that says so.
func TestCPULimitStopsRunaway(t *testing.T) {
	o := isolate.Opener{
		CallTimeout: promptly,
		Limits:      isolate.Limits{MaxCPU: time.Second, CPUWindow: time.Minute},
		Env:         []string{openerEnv + "=fixed:1000:400ms"},
	}
	src := open(t, o, "any")
	ge := src.(decoder.GrabEncoder)
	var err error
	for i := 0; i < 20 && err == nil; i++ { // 8 s of CPU at most
		_, err = ge.GrabEncode(80)
	}
	var me *media.Error
	if !errors.Is(err, decoder.ErrSourceBroken) || !errors.As(err, &me) || me.Message != "the video decoder process reached its CPU-time limit" {
		t.Fatalf("runaway child: %v, want the CPU-time limit", err)
	}
	src.Close()
	noChildren(t)
}

// The CPU budget is per window: a child using half a core plays on well
// past one window's budget in total.
func TestCPULimitIsARate(t *testing.T) {
	const work = 250 * time.Millisecond
	o := isolate.Opener{
		CallTimeout: promptly,
		Limits:      isolate.Limits{MaxCPU: time.Second, CPUWindow: time.Second},
		Env:         []string{openerEnv + "=fixed:1000:" + work.String()},
	}
	src := open(t, o, "any")
	ge := src.(decoder.GrabEncoder)
	for i := range 12 { // 3 s of CPU in all, at most 0.5 cores
		if _, err := ge.GrabEncode(80); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		time.Sleep(work)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
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

// A live stream opens in a child of its own: the spec arrives whole, frames
// come back, the child's standard error never shows the password (as
// written or percent-encoded), and an open failure keeps its kind and
// message.
func TestOpenStream(t *testing.T) {
	var stderr syncBuffer
	o := isolate.Opener{Stderr: &stderr}
	const pw = "pa55/word"
	spec := media.StreamSpec{URL: "rtsp://admin:" + url.PathEscape(pw) + "@cam.local/live?token=tok3n", Transport: media.RTSPUDP, Timeout: 3 * time.Second}
	src, err := o.OpenStream(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.(decoder.GrabEncoder).GrabEncode(80)
	if err != nil || len(b) != 64 {
		t.Fatalf("frame of %d bytes, %v", len(b), err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	out := stderr.String()
	if !strings.Contains(out, "opening rtsp://admin:xxxxx@cam.local/live?token=xxxxx over udp, timeout 3s") {
		t.Fatalf("child stderr %q", out)
	}
	for _, secret := range []string{pw, url.PathEscape(pw), "tok3n"} {
		if strings.Contains(out, secret) {
			t.Fatalf("child stderr shows %q: %q", secret, out)
		}
	}
	spec.URL = "rtsp://cam.local/fail"
	_, err = o.OpenStream(t.Context(), spec)
	if !media.IsKind(err, media.KindUnusable) || !strings.Contains(err.Error(), "could not be opened") {
		t.Fatalf("failed open: %v", err)
	}
}

// A stream's child is worn like a file's once its resident memory passes
// RecycleMemory (here 1 byte), so package live replaces it.
func TestStreamChildWears(t *testing.T) {
	o := isolate.Opener{Limits: isolate.Limits{RecycleMemory: 1, RecycleCheck: 10 * time.Millisecond}}
	src, err := o.OpenStream(t.Context(), media.StreamSpec{URL: "rtsp://cam.local/live", Transport: media.RTSPTCP, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	r, ok := src.(decoder.Recycler)
	if !ok {
		t.Fatal("a stream source is no decoder.Recycler")
	}
	waitFor(t, "the stream's child worn", func() bool {
		if _, err := src.(decoder.GrabEncoder).GrabEncode(80); err != nil {
			t.Fatal(err)
		}
		return r.Worn()
	})
}

// syncBuffer is a bytes.Buffer safe for the child's stderr copier and the
// test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
