package main

import (
	"bytes"
	"errors"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/fakecam"
	"github.com/livemon/livemon/server/internal/isolate"
	"github.com/livemon/livemon/server/internal/marker"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/opencv"
)

// The isolated decoder, with this test binary as its OpenCV child, reads
// the same frames as the in-process one.
func TestIsolatedDecoderMatchesInProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.avi")
	if err := opencv.WriteVideo(path, opencv.VideoSpec{VideoID: 5, Frames: 20, Width: 160, Height: 96, FPS: 20}); err != nil {
		t.Fatal(err)
	}
	opener, prober, closeSpares := decoderBackend(decoderIsolated, 1, io.Discard)
	defer closeSpares()
	info, err := prober.Probe(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := inProcessProber{}.Probe(t.Context(), path)
	if err != nil || info != want {
		t.Fatalf("probe %+v, %v; in process %+v", info, err, want)
	}
	iso, err := opener.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer iso.Close()
	inp, err := opencv.Opener{}.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer inp.Close()
	if iso.Info() != inp.Info() {
		t.Fatalf("info %+v, in process %+v", iso.Info(), inp.Info())
	}
	if err := iso.SeekFrame(7); err != nil {
		t.Fatal(err)
	}
	if err := inp.SeekFrame(7); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := iso.Grab(); err != nil {
			t.Fatal(err)
		}
		if err := inp.Grab(); err != nil {
			t.Fatal(err)
		}
		a, err := iso.Encode(80)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := inp.Encode(80)
		if string(a) != string(b) {
			t.Fatalf("isolated frame (%d bytes) differs from in-process one (%d bytes)", len(a), len(b))
		}
	}
}

// The grid scaler, with this test binary as its OpenCV child, decodes a
// 720p camera JPEG at half size (libjpeg's reduced decode: the child
// reports 640x360), scales it to the 480x270 grid frame, and refuses
// bytes that are not a JPEG without failing.
func TestGridScalerReducedDecode(t *testing.T) {
	opener, _, closeSpares := decoderBackend(decoderIsolated, 1, io.Discard)
	defer closeSpares()
	sc, closeScaler := gridScaler(opener)
	defer closeScaler()
	_, in, err := fakecam.New(fakecam.Config{Width: 1280, Height: 720, Quality: 90, VideoID: 11}).Frame()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sc.Scale(t.Context(), in, media.DefaultGridWidth, 80)
	if err != nil {
		t.Fatal(err)
	}
	if out.DecodedWidth != 640 || out.DecodedHeight != 360 || out.Width != 480 || out.Height != 270 {
		t.Fatalf("decoded at %dx%d, scaled to %dx%d; want 640x360 and 480x270", out.DecodedWidth, out.DecodedHeight, out.Width, out.Height)
	}
	img, err := jpeg.Decode(bytes.NewReader(out.JPEG))
	if err != nil || img.Bounds().Dx() != 480 || img.Bounds().Dy() != 270 {
		t.Fatalf("grid JPEG: %v, %v", img.Bounds(), err)
	}
	if v, _, ok := marker.Read(img); !ok || v != 11 {
		t.Fatalf("marker %d %v", v, ok)
	}
	_, err = sc.Scale(t.Context(), []byte("\xff\xd8 not a picture"), media.DefaultGridWidth, 80)
	var me *media.Error
	if !errors.As(err, &me) || me.Kind != media.KindUnusable || errors.Is(err, decoder.ErrSourceBroken) {
		t.Fatalf("garbage: %v", err)
	}
	if _, err := sc.Scale(t.Context(), in, media.DefaultGridWidth, 80); err != nil {
		t.Fatalf("after garbage: %v", err)
	}
	if st := sc.(*isolate.Scaler).Stats(); st.Started != 1 || st.Scaled != 2 {
		t.Fatalf("stats %+v: want one child, two frames scaled", st)
	}
}

// BenchmarkDecode720p grabs and encodes 1280x720 noise frames (about
// 150 KB as JPEG) in process and through a decode child, as the decoder
// does (GrabEncode when the source has it), and reports for each the CPU
// time per frame of the server and its child together, and the wall time
// per frame. Each iteration plays a block of frames one way, then the
// other, so that the two share whatever else the machine does; the
// child's start is not counted. overhead-% is what isolation adds to the
// CPU per frame. Run without -race, e.g. -benchtime 20x.
func BenchmarkDecode720p(b *testing.B) {
	const block = 30
	path := filepath.Join(b.TempDir(), "hd.avi")
	if err := opencv.WriteVideo(path, opencv.VideoSpec{VideoID: 1, Frames: 60, Width: 1280, Height: 720, FPS: 30, Noise: true, Label: "bench"}); err != nil {
		b.Fatal(err)
	}
	type mode struct {
		name     string
		src      decoder.Source
		child    int
		cpu, all time.Duration
	}
	var modes []*mode
	for _, o := range []struct {
		name   string
		opener decoder.Opener
	}{{"inprocess", opencv.Opener{}}, {"isolated", isolate.Opener{}}} {
		src, err := o.opener.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer src.Close()
		m := &mode{name: o.name, src: src}
		playFrame(b, src) // warm up
		if o.name == "isolated" {
			m.child = childPID(b)
		}
		modes = append(modes, m)
	}
	for b.Loop() {
		for _, m := range modes {
			cpu, begin := cpuTime(b, m.child), time.Now()
			for range block {
				playFrame(b, m.src)
			}
			m.all += time.Since(begin)
			m.cpu += cpuTime(b, m.child) - cpu
		}
	}
	frames := float64(b.N * block)
	for _, m := range modes {
		b.ReportMetric(float64(m.cpu.Nanoseconds())/frames, m.name+"-cpu-ns/frame")
		b.ReportMetric(float64(m.all.Nanoseconds())/frames, m.name+"-ns/frame")
	}
	b.ReportMetric(100*(float64(modes[1].cpu)/float64(modes[0].cpu)-1), "overhead-%")
}

// BenchmarkPlay720p30 plays a 1280x720 30 fps video in real time through
// a decoder, as a watched camera does, in process and isolated (in turns
// of 5 s per iteration), and reports for each the CPU used by the server
// and its child together, in percent of one core, and what isolation adds
// in percent. Run without -race, e.g. -benchtime 4x.
func BenchmarkPlay720p30(b *testing.B) {
	const (
		turn   = 5 * time.Second
		warmUp = time.Second
	)
	path := filepath.Join(b.TempDir(), "hd.avi")
	if err := opencv.WriteVideo(path, opencv.VideoSpec{VideoID: 1, Frames: 90, Width: 1280, Height: 720, FPS: 30, Noise: true, Label: "bench"}); err != nil {
		b.Fatal(err)
	}
	modes := []struct {
		name   string
		opener decoder.Opener
	}{{"inprocess", opencv.Opener{}}, {"isolated", isolate.Opener{}}}
	cpu := make([]time.Duration, len(modes))
	var parent time.Duration // of the isolated turns
	frames := make([]int64, len(modes))
	var played time.Duration
	for b.Loop() {
		for i, m := range modes {
			var pub countingPublisher
			d := decoder.Start(b.Context(), decoder.Config{Camera: "bench", Path: path, Epoch: 1, Loop: true, Speed: 1, Quality: 80, MaxFPS: 30},
				decoder.Deps{Opener: m.opener, Publisher: &pub})
			time.Sleep(warmUp)
			child := childPID(b)
			before, self, n := cpuTime(b, child), cpuTime(b, 0), pub.n.Load()
			time.Sleep(turn)
			cpu[i] += cpuTime(b, child) - before
			if child != 0 {
				parent += cpuTime(b, 0) - self
			}
			frames[i] += pub.n.Load() - n
			d.Stop()
		}
		played += turn
	}
	for i, m := range modes {
		b.ReportMetric(100*cpu[i].Seconds()/played.Seconds(), m.name+"-cpu-%")
		b.ReportMetric(float64(frames[i])/played.Seconds(), m.name+"-fps")
	}
	b.ReportMetric(100*parent.Seconds()/played.Seconds(), "isolated-server-cpu-%")
	b.ReportMetric(100*(float64(cpu[1])/float64(cpu[0])-1), "overhead-%")
}

type countingPublisher struct{ n atomic.Int64 }

func (p *countingPublisher) Publish(*media.Frame) { p.n.Add(1) }

// playFrame grabs and encodes the next frame as the decoder does (one
// GrabEncode call when the source has it), looping at the end.
func playFrame(tb testing.TB, src decoder.Source) {
	tb.Helper()
	if ge, ok := src.(decoder.GrabEncoder); ok {
		if _, err := ge.GrabEncode(80); !errors.Is(err, io.EOF) {
			if err != nil {
				tb.Fatal(err)
			}
			return
		}
	}
	err := src.Grab()
	if errors.Is(err, io.EOF) {
		if err = src.SeekFrame(0); err == nil {
			err = src.Grab()
		}
	}
	if err == nil {
		_, err = src.Encode(80)
	}
	if err != nil {
		tb.Fatal(err)
	}
}

// childPID returns the pid of this process's only child, or 0 if it has
// none.
func childPID(tb testing.TB) int {
	tb.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		tb.Fatal(err)
	}
	found := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(pid); len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			if found != 0 {
				tb.Fatal("more than one child")
			}
			found = pid
		}
	}
	return found
}

// procStat returns the fields of /proc/PID/stat after the command name:
// state, ppid, ...
func procStat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
}

// cpuTime is the CPU time used so far by this process and by the child
// (if not 0).
func cpuTime(tb testing.TB, child int) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	total := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if child != 0 {
		f := procStat(child) // utime and stime are fields 14 and 15 of stat
		if len(f) < 13 {
			tb.Fatal("child gone")
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * (time.Second / clockTicks)
	}
	return total
}

// clockTicks is USER_HZ, the unit of /proc's CPU times (100 on Linux).
const clockTicks = 100
