package isolate_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"go.uber.org/goleak"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/isolate"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/synth"
)

// The test binary is its own child: isolate.Opener and isolate.Prober run
// /proc/self/exe with the subcommands livemon's binary dispatches, and
// TestMain serves them with package synth's pure-Go videos instead of
// OpenCV. "pdeath-parent" is a helper for TestChildDiesWithParent.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		var err error
		switch os.Args[1] {
		case isolate.DecodeCommand:
			err = isolate.DecodeChild(os.Args[2:], testOpener())
		case isolate.ProbeCommand:
			err = isolate.ProbeChild(context.Background(), os.Args[2:], synth.Prober{}.Probe)
		case "pdeath-parent":
			err = pdeathParent(os.Args[2])
		default:
			goleak.VerifyTestMain(m)
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// openerEnv selects the children's opener: "fixed:N[:D]" serves every
// frame as the same N-byte JPEG, spending D of CPU on each (for measuring
// the pipe); unset, synth.
const openerEnv = "ISOLATE_TEST_OPENER"

func testOpener() decoder.Opener {
	if v, ok := strings.CutPrefix(os.Getenv(openerEnv), "fixed:"); ok {
		size, work, _ := strings.Cut(v, ":")
		n, _ := strconv.Atoi(size)
		d, _ := time.ParseDuration(work)
		return fixedOpener{size: n, work: d}
	}
	return streamOpener{synth.Opener{}}
}

// streamOpener adds OpenStream to the children's opener: it prints the
// spec to standard error (as FFmpeg might print a URL) and serves fixed
// 64-byte frames, or fails for a URL ending in /fail.
type streamOpener struct{ decoder.Opener }

func (streamOpener) OpenStream(spec media.StreamSpec) (decoder.Source, error) {
	fmt.Fprintf(os.Stderr, "opening %s over %s, timeout %v\n", spec.URL, spec.Transport, spec.Timeout)
	if strings.HasSuffix(spec.URL, "/fail") {
		return nil, media.Errorf(media.KindUnusable, "the camera's RTSP stream could not be opened")
	}
	return fixedOpener{size: 64}.Open("")
}

// ScaleJPEG scales like the opencv Opener, in pure Go and without a
// reduced decode: it decodes the whole JPEG (reported as the decoded
// size), scales it by nearest neighbour to media.ScaledSize and encodes
// it.
func (streamOpener) ScaleJPEG(b []byte, width, quality int) (decoder.ScaledJPEG, error) {
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return decoder.ScaledJPEG{}, media.Errorf(media.KindUnusable, "not a JPEG that can be decoded")
	}
	sz := img.Bounds().Size()
	w, h := media.ScaledSize(sz.X, sz.Y, width)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			dst.Set(x, y, img.At(img.Bounds().Min.X+x*sz.X/w, img.Bounds().Min.Y+y*sz.Y/h))
		}
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: quality}); err != nil {
		return decoder.ScaledJPEG{}, err
	}
	return decoder.ScaledJPEG{JPEG: out.Bytes(), Width: w, Height: h, DecodedWidth: sz.X, DecodedHeight: sz.Y}, nil
}

// fixedOpener opens any path as an endless 720p video whose every frame
// takes work of CPU to encode, to the same size bytes (a JPEG header and
// filler).
type fixedOpener struct {
	size int
	work time.Duration
}

func (o fixedOpener) Open(string) (decoder.Source, error) {
	b := make([]byte, max(o.size, 4))
	b[0], b[1] = 0xFF, 0xD8
	for i := 2; i < len(b); i++ {
		b[i] = byte(i)
	}
	return &fixedSource{jpeg: b, work: o.work}, nil
}

type fixedSource struct {
	jpeg []byte
	work time.Duration
}

func (s *fixedSource) Info() media.VideoInfo {
	return media.VideoInfo{Width: 1280, Height: 720, FPS: 30, Codec: "FIXD"}
}
func (s *fixedSource) Grab() error { return nil }
func (s *fixedSource) Encode(int) ([]byte, error) {
	if s.work > 0 {
		spin(s.work)
	}
	return append([]byte(nil), s.jpeg...), nil
}

// spin keeps the CPU busy for d of CPU time.
func spin(d time.Duration) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var ts syscall.Timespec
	cpu := func() time.Duration {
		_ = clockGettime(&ts)
		return time.Duration(ts.Nano())
	}
	for end := cpu() + d; cpu() < end; {
	}
}

func clockGettime(ts *syscall.Timespec) error {
	const clockThreadCPUTime = 3 // CLOCK_THREAD_CPUTIME_ID
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(ts)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}
func (s *fixedSource) SeekFrame(int64) error { return nil }
func (s *fixedSource) Close() error          { return nil }

// writeSynth writes a synthetic video and returns its path.
func writeSynth(t testing.TB, spec synth.Spec) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("video-%d.synth", spec.Video))
	if err := spec.Write(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// children returns the processes whose parent is this test process,
// zombies included.
func children(t testing.TB) []string {
	t.Helper()
	return childrenOf(t, os.Getpid())
}

func childrenOf(t testing.TB, parent int) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		pid, ppid, state, ok := procStat(e.Name())
		if ok && ppid == parent {
			out = append(out, fmt.Sprintf("%d (%s)", pid, state))
		}
	}
	return out
}

// procStat reads a process's pid, parent and state from /proc.
func procStat(pid string) (int, int, string, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, 0, "", false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, "", false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, 0, "", false
	}
	p, _ := strconv.Atoi(pid)
	pp, _ := strconv.Atoi(f[1])
	return p, pp, f[0], true
}

// noChildren fails the test if any child process (even a zombie) remains.
func noChildren(t testing.TB) {
	t.Helper()
	if c := children(t); len(c) > 0 {
		t.Fatalf("child processes remain: %v", c)
	}
}

// pdeathParent is a process that opens a video in a child that hangs,
// prints the child's pid and waits to be killed.
func pdeathParent(path string) error {
	go func() {
		_, err := isolate.Opener{CallTimeout: time.Hour, Env: []string{isolate.FaultEnv + "=hang"}}.Open(path)
		fmt.Fprintln(os.Stderr, "open returned:", err)
	}()
	me := strconv.Itoa(os.Getpid())
	for range 1000 {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			// Only the decode child: Go's os package may fork a short-lived
			// child of its own (a check that clone can return a pidfd).
			cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if pid, ppid, _, ok := procStat(e.Name()); ok && strconv.Itoa(ppid) == me &&
				strings.Contains(string(cmdline), isolate.DecodeCommand) {
				fmt.Println(pid)
				time.Sleep(time.Hour)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("no child appeared")
}

// readLine reads one line from r within timeout.
func readLine(r io.Reader, timeout time.Duration) (string, error) {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := bufio.NewReader(r).ReadString('\n')
		ch <- res{strings.TrimSpace(s), err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-time.After(timeout):
		return "", errors.New("timed out")
	}
}

// logWriter sends a child's standard error (a crash's stack dump) to the
// test log, shown only when the test fails or with -v.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
