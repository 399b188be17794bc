package isolate_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/isolate"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/synth"
)

// recorder is a decoder.Publisher that keeps every frame.
type recorder struct {
	mu     sync.Mutex
	frames []*media.Frame
}

func (r *recorder) Publish(f *media.Frame) {
	r.mu.Lock()
	r.frames = append(r.frames, f)
	r.mu.Unlock()
}

func (r *recorder) get() []*media.Frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*media.Frame(nil), r.frames...)
}

// errorLog keeps the readable reasons of a decoder's error states.
type errorLog struct {
	mu   sync.Mutex
	errs []string
}

func (l *errorLog) record(st decoder.Status) {
	if st.State == media.StateError {
		l.mu.Lock()
		l.errs = append(l.errs, st.Err)
		l.mu.Unlock()
	}
}

func (l *errorLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...)
}

// faultSwitch is an isolate.Opener whose children get the fault switch
// set to whatever fault holds when they start.
type faultSwitch struct {
	isolate.Opener
	fault atomic.Value // string
}

func (o *faultSwitch) Open(path string) (decoder.Source, error) {
	return o.OpenContext(context.Background(), path)
}

func (o *faultSwitch) OpenContext(ctx context.Context, path string) (decoder.Source, error) {
	inner := o.Opener
	if f, _ := o.fault.Load().(string); f != "" {
		inner.Env = []string{isolate.FaultEnv + "=" + f}
	}
	return inner.OpenContext(ctx, path)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A camera whose decode child crashes, hangs or talks garbage goes to
// state error with a readable reason, restarts its child with the
// decoder's backoff and, once the fault is gone, plays on from its
// timeline's position with the same epoch and growing seqs. Meanwhile
// another camera in the same process publishes every one of its frames.
func TestDecoderSurvivesFaultyChild(t *testing.T) {
	for _, tc := range []struct{ fault, reason string }{
		{"crash", "crashed"},
		{"hang", "did not answer"},
		{"garbage", "malformed reply"},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			pathA := writeSynth(t, synth.Spec{Video: 1, Frames: 100_000, FPS: 25, Width: 96, Height: 64})
			// B runs at 4 fps: only a stall of 250 ms would skip one of
			// its frames, far less than any fault of A lasts.
			pathB := writeSynth(t, synth.Spec{Video: 2, Frames: 100_000, FPS: 4, Width: 96, Height: 64})
			a := &faultSwitch{Opener: isolate.Opener{CallTimeout: callTimeout, Stderr: logWriter{t}}}
			a.fault.Store(tc.fault + ":10")
			pubA, pubB, errsA := &recorder{}, &recorder{}, &errorLog{}
			decA := decoder.Start(t.Context(), decoder.Config{Camera: "a", Path: pathA, Epoch: 7, Seq: 1000, Loop: true},
				decoder.Deps{Opener: a, Publisher: pubA, OnStatus: errsA.record})
			defer decA.Stop()
			decB := decoder.Start(t.Context(), decoder.Config{Camera: "b", Path: pathB, Epoch: 3, Loop: true},
				decoder.Deps{Opener: isolate.Opener{CallTimeout: callTimeout}, Publisher: pubB})
			defer decB.Stop()

			waitFor(t, "two faults", func() bool { return decA.Status().Restarts >= 2 })
			faulty := pubA.get()
			a.fault.Store("")
			waitFor(t, "recovery", func() bool {
				return len(pubA.get()) >= len(faulty)+25 && decA.Status().State == media.StateRunning
			})
			decA.Stop()
			decB.Stop()
			noChildren(t)

			errs := errsA.get()
			if len(errs) < 2 || !strings.Contains(errs[0], tc.reason) {
				t.Fatalf("A's errors %q, want reasons with %q", errs, tc.reason)
			}
			for _, e := range errs {
				if strings.Contains(e, "/") {
					t.Fatalf("error %q names a path", e)
				}
			}
			framesA := pubA.get()
			checkTimeline(t, "A", framesA, 7, 1000, 1)
			if len(framesA) < len(faulty)+25 {
				t.Fatalf("A published %d frames", len(framesA))
			}
			framesB := pubB.get()
			checkTimeline(t, "B", framesB, 3, 0, 2)
			for i := 1; i < len(framesB); i++ {
				if framesB[i].Seq != framesB[i-1].Seq+1 {
					t.Fatalf("B skipped from seq %d to %d during A's faults", framesB[i-1].Seq, framesB[i].Seq)
				}
			}
			if len(framesB) < 4 {
				t.Fatalf("B published only %d frames", len(framesB))
			}
			t.Logf("A: %d frames, %d errors; B: %d frames, none skipped", len(framesA), len(errs), len(framesB))
		})
	}
}

// checkTimeline checks that frames belong to one epoch, have strictly
// growing seqs and show the file frame their seq's timeline position
// names (file frame = seq - seq0 - 1: no wrap in these long videos), so a
// restarted child resumed where the timeline was.
func checkTimeline(t *testing.T, name string, frames []*media.Frame, epoch, seq0 uint64, video int) {
	t.Helper()
	if len(frames) == 0 {
		t.Fatalf("%s published nothing", name)
	}
	for i, f := range frames {
		if f.Epoch != epoch {
			t.Fatalf("%s frame %d: epoch %d, want %d", name, i, f.Epoch, epoch)
		}
		if i > 0 && f.Seq <= frames[i-1].Seq {
			t.Fatalf("%s frame %d: seq %d after %d", name, i, f.Seq, frames[i-1].Seq)
		}
		v, n, ok := synth.ReadMarker(f.JPEG)
		if !ok || v != video || uint64(n) != f.Seq-seq0-1 {
			t.Fatalf("%s frame %d (seq %d) shows video %d frame %d, want frame %d", name, i, f.Seq, v, n, f.Seq-seq0-1)
		}
	}
}

// openCounter is an isolate.Opener that counts the children it opens a
// file in (the sources it returns are the Opener's own).
type openCounter struct {
	isolate.Opener
	n atomic.Int32
}

func (o *openCounter) Open(path string) (decoder.Source, error) {
	return o.OpenContext(context.Background(), path)
}

func (o *openCounter) OpenContext(ctx context.Context, path string) (decoder.Source, error) {
	o.n.Add(1)
	return o.Opener.OpenContext(ctx, path)
}

// A decode child that reaches its recycle threshold (a long-playing child
// nearing its memory limit; here 1 byte, so every child is worn at its
// first check) is replaced by a fresh child at the same position: the
// camera never shows an error and counts no restart, and its frames go on
// in one epoch with growing seqs, each showing the file frame its
// timeline position names.
func TestWornChildIsReplaced(t *testing.T) {
	path := writeSynth(t, synth.Spec{Video: 1, Frames: 100_000, FPS: 25, Width: 96, Height: 64})
	// GORACE: a race-built child otherwise sleeps 1 s at exit, which
	// the replaced child's Close waits for.
	base, spares := withSpares(t, isolate.Opener{CallTimeout: callTimeout, Stderr: logWriter{t}, Env: []string{"GORACE=atexit_sleep_ms=0"},
		Limits: isolate.Limits{RecycleMemory: 1, RecycleCheck: 200 * time.Millisecond}})
	o := &openCounter{Opener: base}
	pub, errs := &recorder{}, &errorLog{}
	dec := decoder.Start(t.Context(), decoder.Config{Camera: "a", Path: path, Epoch: 7, Seq: 1000, Loop: true},
		decoder.Deps{Opener: o, Publisher: pub, OnStatus: errs.record})
	defer dec.Stop()
	waitFor(t, "three replacements", func() bool { return o.n.Load() >= 4 })
	before := len(pub.get())
	waitFor(t, "frames after them", func() bool { return len(pub.get()) >= before+10 })
	st := dec.Status()
	dec.Stop()
	spares.Close()
	noChildren(t)

	if e := errs.get(); len(e) > 0 {
		t.Fatalf("error states %q while children were replaced", e)
	}
	if st.Restarts != 0 || st.State != media.StateRunning {
		t.Fatalf("state %s with %d restarts, want running with none", st.State, st.Restarts)
	}
	frames := pub.get()
	checkTimeline(t, "A", frames, 7, 1000, 1)
	var gap uint64
	for i := 1; i < len(frames); i++ {
		gap = max(gap, frames[i].Seq-frames[i-1].Seq)
	}
	t.Logf("%d children, %d frames, largest seq step %d (1: no frame skipped)", o.n.Load(), len(frames), gap)
	// A replacement opens the file in a ready spare and seeks (a few ms);
	// starting a child (0.4-0.7 s, more in a race build) would skip over
	// ten frames at 25 fps. The bound is loose for a loaded machine.
	if gap > 8 {
		t.Fatalf("a replacement skipped %d frames: a visible gap", gap-1)
	}
}
