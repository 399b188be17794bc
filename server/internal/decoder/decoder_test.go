package decoder_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testPath = "/data/videos/secret-name.avi"

type rig struct {
	opener *fakeOpener
	hub    *fakeHub
	status *statusLog
	dec    *decoder.Decoder
}

// start runs a decoder over o inside the calling synctest bubble and stops
// it when the test ends.
func start(t *testing.T, o *fakeOpener, h *fakeHub, cfg decoder.Config) *rig {
	t.Helper()
	if cfg.Camera == "" {
		cfg.Camera = "cam1"
	}
	cfg.Path = testPath
	r := &rig{opener: o, hub: h, status: &statusLog{}}
	r.dec = decoder.Start(t.Context(), cfg, decoder.Deps{
		Opener:    o,
		Publisher: h,
		Watcher:   h,
		OnStatus:  r.status.record,
	})
	t.Cleanup(r.dec.Stop)
	return r
}

// advance lets fake time pass and waits for the decoder to settle.
func advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// checkRun verifies that frames have strictly increasing seqs and that
// each frame's marker shows the file frame its PTS names.
func checkRun(t *testing.T, frames []*media.Frame, fps float64) {
	t.Helper()
	for i, f := range frames {
		if i > 0 && f.Seq <= frames[i-1].Seq {
			t.Fatalf("frame %d: seq %d after %d", i, f.Seq, frames[i-1].Seq)
		}
		n := fileFrame(f)
		if want := time.Duration(float64(n) / fps * float64(time.Second)); n < 0 || f.PTS != want {
			t.Fatalf("frame %d: marker frame %d, PTS %v, want PTS %v", i, n, f.PTS, want)
		}
		if f.Camera != "cam1" || f.Width != 96 || f.Height != 64 {
			t.Fatalf("frame %d: %+v", i, f)
		}
	}
}

func TestPacing(t *testing.T) {
	for _, speed := range []float64{1, 2} {
		t.Run(time.Duration(speed*float64(time.Second)).String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o := newFakeOpener(10_000, 25)
				r := start(t, o, newFakeHub(true), decoder.Config{Epoch: 3, Seq: 100, Speed: speed, Loop: true})
				advance(3 * time.Second)
				frames := r.hub.published()
				// Frames 0..75*speed inclusive: one per timeline frame, none skipped.
				want := int(75*speed) + 1
				if len(frames) != want {
					t.Fatalf("published %d frames in 3s at speed %v, want %d", len(frames), speed, want)
				}
				checkRun(t, frames, 25)
				for i, f := range frames {
					if f.Seq != 101+uint64(i) || fileFrame(f) != i || f.Epoch != 3 {
						t.Fatalf("frame %d: seq %d, file frame %d, epoch %d", i, f.Seq, fileFrame(f), f.Epoch)
					}
				}
				st := r.dec.Status()
				if st.State != media.StateRunning || st.Encoded != uint64(want) || st.Grabbed != uint64(want) {
					t.Fatalf("status %+v", st)
				}
				if d := st.FPS - 25*speed; d < -1 || d > 1 {
					t.Fatalf("measured fps %v, want %v", st.FPS, 25*speed)
				}
			})
		})
	}
}

func TestMaxFPSSkipsFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOpener(10_000, 25)
		r := start(t, o, newFakeHub(true), decoder.Config{Speed: 2, MaxFPS: 10})
		advance(3 * time.Second)
		frames := r.hub.published()
		if len(frames) < 30 || len(frames) > 31 {
			t.Fatalf("published %d frames in 3s with MaxFPS 10, want 30-31", len(frames))
		}
		checkRun(t, frames, 25)
		last := frames[len(frames)-1]
		// The timeline still runs at 50 frames/s: skipped frames were grabbed, not encoded.
		if n := fileFrame(last); n < 145 || n > 150 {
			t.Fatalf("last file frame %d after 3s at 2x, want about 150", n)
		}
		_, _, grabs, encodes := o.counts()
		if encodes != len(frames) || grabs < 145 {
			t.Fatalf("encodes %d, grabs %d; want encodes = published (%d), grabs >= 145", encodes, grabs, len(frames))
		}
	})
}

func TestLateDecoderSkipsInsteadOfSlowing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOpener(10_000, 25)
		o.slowGrab, o.slowGrabFor = 10, 2*time.Second // one grab stalls for 2s
		r := start(t, o, newFakeHub(true), decoder.Config{Loop: true})
		advance(4 * time.Second)
		frames := r.hub.published()
		checkRun(t, frames, 25)
		last := frames[len(frames)-1]
		if n := fileFrame(last); n != 100 || last.Seq != 101 {
			t.Fatalf("after 4s the last frame is file frame %d seq %d, want 100 and 101 (on schedule)", n, last.Seq)
		}
		if len(frames) > 52 {
			t.Fatalf("published %d frames, want skipped frames during the stall", len(frames))
		}
	})
}

func TestLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOpener(30, 25)
		r := start(t, o, newFakeHub(true), decoder.Config{Seq: 5, Loop: true})
		advance(3 * time.Second)
		frames := r.hub.published()
		if len(frames) != 76 {
			t.Fatalf("published %d frames, want 76", len(frames))
		}
		checkRun(t, frames, 25)
		for i, f := range frames {
			if fileFrame(f) != i%30 || f.Seq != 6+uint64(i) {
				t.Fatalf("frame %d: file frame %d seq %d, want %d and %d", i, fileFrame(f), f.Seq, i%30, 6+i)
			}
		}
		if st := r.dec.Status(); st.State != media.StateRunning || st.Restarts != 0 {
			t.Fatalf("status %+v", st)
		}
	})
}

func TestLoopUnknownFrameCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOpener(30, 25)
		o.infoFrames = 0 // the header does not say
		r := start(t, o, newFakeHub(true), decoder.Config{Loop: true})
		advance(3 * time.Second)
		frames := r.hub.published()
		checkRun(t, frames, 25)
		if len(frames) < 74 {
			t.Fatalf("published %d frames, want about 76", len(frames))
		}
		for i, f := range frames {
			if want := int(f.Seq-1) % 30; fileFrame(f) != want {
				t.Fatalf("frame %d (seq %d): file frame %d, want %d", i, f.Seq, fileFrame(f), want)
			}
		}
	})
}

func TestEndWithoutLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOpener(20, 25)
		r := start(t, o, newFakeHub(true), decoder.Config{Seq: 7})
		advance(2 * time.Second)
		frames := r.hub.published()
		if len(frames) != 20 {
			t.Fatalf("published %d frames, want 20", len(frames))
		}
		checkRun(t, frames, 25)
		if n := fileFrame(frames[19]); n != 19 {
			t.Fatalf("last frame %d, want 19", n)
		}
		st := r.dec.Status()
		if st.State != media.StateEnded || st.Frame != 19 {
			t.Fatalf("status %+v, want ended at frame 19", st)
		}
		advance(5 * time.Second)
		if n := len(r.hub.published()); n != 20 {
			t.Fatalf("published %d frames after the end, want still 20", n)
		}
		if st := r.dec.Status(); st.State != media.StateEnded {
			t.Fatalf("state %v after waiting, want ended", st.State)
		}

		// Turning loop on restarts from frame 0 with larger seqs.
		r.dec.SetLoop(true)
		advance(time.Second)
		more := r.hub.published()[20:]
		if len(more) < 24 {
			t.Fatalf("published %d frames after SetLoop(true), want about 25", len(more))
		}
		all := r.hub.published()
		checkRun(t, all, 25)
		if fileFrame(more[0]) != 0 || fileFrame(more[1]) != 1 {
			t.Fatalf("restart began at file frames %d, %d, want 0, 1", fileFrame(more[0]), fileFrame(more[1]))
		}
		states, _ := r.status.get()
		if want := []media.State{media.StateStarting, media.StateRunning, media.StateEnded, media.StateRunning}; !slices.Equal(states, want) {
			t.Fatalf("OnStatus states %v, want %v", states, want)
		}
	})
}

func TestSpeedChangeContinues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOpener(10_000, 25)
		r := start(t, o, newFakeHub(true), decoder.Config{Speed: 1})
		advance(time.Second + 20*time.Millisecond) // frames 0..25, half-way to 26
		r.dec.SetSpeed(2)
		advance(time.Second)
		frames := r.hub.published()
		checkRun(t, frames, 25)
		for i, f := range frames {
			if fileFrame(f) != i || f.Seq != 1+uint64(i) {
				t.Fatalf("frame %d: file frame %d, seq %d: the timeline jumped", i, fileFrame(f), f.Seq)
			}
		}
		// 1.02s at 1x then 1s at 2x: position 3.02s = frame 75.
		if n := len(frames); n != 76 {
			t.Fatalf("published %d frames, want 76", n)
		}
		if st := r.dec.Status(); st.Frame != 75 || st.Seq != 76 {
			t.Fatalf("status frame %d seq %d, want 75 and 76", st.Frame, st.Seq)
		}
	})
}

func TestUnwatchedReadsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOpener(10_000, 25)
		h := newFakeHub(false)
		r := start(t, o, h, decoder.Config{Seq: 1000, Loop: true})
		advance(2 * time.Second)
		opens, _, grabs, encodes := o.counts()
		if grabs != 0 || encodes != 0 || len(h.published()) != 0 {
			t.Fatalf("unwatched: %d grabs, %d encodes, %d frames; want none", grabs, encodes, len(h.published()))
		}
		if opens != 1 {
			t.Fatalf("opens = %d, want 1 (for the file's fps)", opens)
		}
		if c := h.calls(); c > 20 {
			t.Fatalf("Watched called %d times in 2s: the idle loop is spinning", c)
		}
		if st := r.dec.Status(); st.Frame != 50 || st.Seq != 1051 || st.State != media.StateRunning {
			t.Fatalf("status %+v, want frame 50, seq 1051, running", st)
		}

		// The file is closed after a while unwatched.
		advance(10 * time.Second) // position 12s = frame 300
		if opens, closes, _, _ := o.counts(); closes != opens {
			t.Fatalf("opens %d, closes %d after 12s unwatched: file still open", opens, closes)
		}

		h.setWatched(true)
		synctest.Wait()
		frames := h.published()
		if len(frames) != 1 {
			t.Fatalf("published %d frames on wake, want 1", len(frames))
		}
		if n := fileFrame(frames[0]); n != 300 || frames[0].Seq != 1301 {
			t.Fatalf("first frame after wake: file frame %d seq %d, want 300 and 1301", n, frames[0].Seq)
		}
		if seeks := o.seekLog(); !slices.Equal(seeks, []int64{300}) {
			t.Fatalf("seeks %v, want [300]", seeks)
		}
		if _, _, grabs, encodes := o.counts(); grabs != 1 || encodes != 1 {
			t.Fatalf("after wake: %d grabs, %d encodes, want 1 each", grabs, encodes)
		}
		advance(time.Second)
		checkRun(t, h.published(), 25)
		if n := len(h.published()); n != 26 {
			t.Fatalf("published %d frames in the watched second, want 26", n)
		}
	})
}

func TestUnwatchedWrapsAndSeekFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOpener(100, 25)
		o.noSeek = true
		h := newFakeHub(false)
		start(t, o, h, decoder.Config{Loop: true})
		advance(7 * time.Second) // timeline frame 175 = file frame 75
		h.setWatched(true)
		synctest.Wait()
		frames := h.published()
		if len(frames) != 1 || fileFrame(frames[0]) != 75 || frames[0].Seq != 176 {
			t.Fatalf("first frame after wake: %d frames, file frame %d; want 1 frame, file frame 75 seq 176", len(frames), fileFrame(frames[0]))
		}
		// Seeking failed, so the decoder reopened and grabbed forward.
		if seeks := o.seekLog(); !slices.Equal(seeks, []int64{75}) {
			t.Fatalf("seeks %v, want [75]", seeks)
		}
		if opens, _, grabs, encodes := o.counts(); opens != 2 || grabs != 76 || encodes != 1 {
			t.Fatalf("opens %d, grabs %d, encodes %d; want 2, 76, 1", opens, grabs, encodes)
		}
		advance(time.Second)
		checkRun(t, h.published(), 25)
	})
}

func TestNonLoopEndsWhileUnwatched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOpener(20, 25)
		h := newFakeHub(false)
		r := start(t, o, h, decoder.Config{})
		advance(2 * time.Second)
		if st := r.dec.Status(); st.State != media.StateEnded || st.Frame != 19 {
			t.Fatalf("status %+v, want ended at frame 19", st)
		}
		h.setWatched(true)
		synctest.Wait()
		// A viewer arriving after the end sees the last frame, once.
		frames := h.published()
		if len(frames) != 1 || fileFrame(frames[0]) != 19 || frames[0].Seq != 20 {
			t.Fatalf("after wake: %d frames, want the last frame (19, seq 20)", len(frames))
		}
		advance(2 * time.Second)
		if n := len(h.published()); n != 1 {
			t.Fatalf("published %d frames, want 1", n)
		}
	})
}

func TestErrorBackoffAndRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOpener(10_000, 25)
		o.openErrs = 3
		r := start(t, o, newFakeHub(true), decoder.Config{})
		synctest.Wait()
		st := r.dec.Status()
		if st.State != media.StateError || st.Err == "" || strings.Contains(st.Err, "secret") || strings.Contains(st.Err, "/") {
			t.Fatalf("status %+v, want error with a readable message and no path", st)
		}
		// Retries after 0.5s, 1s and 2s: the open at 3.5s succeeds.
		advance(3400 * time.Millisecond)
		if n := len(r.hub.published()); n != 0 {
			t.Fatalf("published %d frames before the retry at 3.5s", n)
		}
		if st := r.dec.Status(); st.Restarts != 2 || st.State != media.StateError {
			t.Fatalf("status %+v at 3.4s, want error after 2 restarts", st)
		}
		advance(200 * time.Millisecond)
		if st := r.dec.Status(); st.Restarts != 3 || st.State != media.StateRunning || st.Err != "" {
			t.Fatalf("status %+v at 3.6s, want running after 3 restarts", st)
		}
		if n := len(r.hub.published()); n < 1 {
			t.Fatal("no frame after recovery")
		}

		// A read error later retries after 0.5s again: the backoff was reset.
		o.mu.Lock()
		o.grabErrs = 1
		o.mu.Unlock()
		advance(100 * time.Millisecond)
		if st := r.dec.Status(); st.State != media.StateError || st.Restarts != 3 {
			t.Fatalf("status %+v after read error", st)
		}
		before := len(r.hub.published())
		advance(500 * time.Millisecond)
		if st := r.dec.Status(); st.State != media.StateRunning || st.Restarts != 4 {
			t.Fatalf("status %+v 0.5s after read error, want running", st)
		}
		frames := r.hub.published()
		if len(frames) <= before {
			t.Fatal("no frame after the second recovery")
		}
		checkRun(t, frames, 25)
		states, errs := r.status.get()
		want := []media.State{media.StateStarting, media.StateError, media.StateRunning, media.StateError, media.StateRunning}
		if !slices.Equal(slices.Compact(states), want) {
			t.Fatalf("OnStatus states %v, want %v", states, want)
		}
		for _, e := range errs {
			if strings.Contains(e, "secret") {
				t.Fatalf("error %q leaks the path", e)
			}
		}
	})
}

func TestWatchdogReopensStalledRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOpener(10_000, 25)
		o.slowGrab, o.slowGrabFor = 10, 25*time.Second
		r := start(t, o, newFakeHub(true), decoder.Config{})
		advance(26 * time.Second)
		st := r.dec.Status()
		if st.Restarts != 1 || st.State != media.StateRunning {
			t.Fatalf("status %+v, want running after 1 restart", st)
		}
		if _, errs := r.status.get(); len(errs) != 1 || !strings.Contains(errs[0], "too long") {
			t.Fatalf("errors %v, want one stall error", errs)
		}
		frames := r.hub.published()
		checkRun(t, frames, 25)
		if n := fileFrame(frames[len(frames)-1]); n < 640 {
			t.Fatalf("last file frame %d after 26s, want about 650", n)
		}
	})
}

func TestBrokenFPSFallsBack(t *testing.T) {
	for _, fps := range []float64{0, -1, 1e6} {
		synctest.Test(t, func(t *testing.T) {
			o := newFakeOpener(10_000, fps)
			r := start(t, o, newFakeHub(true), decoder.Config{})
			advance(time.Second)
			if n := len(r.hub.published()); n != 26 {
				t.Fatalf("fps %v: published %d frames in 1s, want 26 (25 fps)", fps, n)
			}
			checkRun(t, r.hub.published(), 25)
			if st := r.dec.Status(); st.Info.FPS != 25 {
				t.Fatalf("fps %v: status fps %v", fps, st.Info.FPS)
			}
		})
	}
}

// A seek that fails because the source broke (its decoding process died)
// is an error with the usual backoff, not a sign that the file cannot
// seek: the retry seeks again.
func TestBrokenSourceSeekRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOpener(10_000, 25)
		o.brokenSeeks = 1
		r := start(t, o, newFakeHub(true), decoder.Config{Frame: 5000, Seq: 100})
		synctest.Wait()
		if st := r.dec.Status(); st.State != media.StateError || st.Err != "seeking in the video failed" {
			t.Fatalf("status %+v, want error after the broken seek", st)
		}
		if opens, closes, _, _ := o.counts(); opens != 1 || closes != 1 {
			t.Fatalf("opens %d closes %d: reopened before the backoff", opens, closes)
		}
		advance(600 * time.Millisecond)
		st := r.dec.Status()
		if st.State != media.StateRunning || st.Restarts != 1 {
			t.Fatalf("status %+v, want running after one restart", st)
		}
		frames := r.hub.published()
		if len(frames) == 0 || fileFrame(frames[0]) < 5000 {
			t.Fatalf("no frame from the timeline position after the retry")
		}
		checkRun(t, frames, 25)
		if seeks := o.seekLog(); len(seeks) != 2 || seeks[1] < 5000 {
			t.Fatalf("seeks %v, want the retry to seek again", seeks)
		}
	})
}

// A GrabEncoder source publishes exactly what Grab then Encode publish:
// same seqs, same file frames, same states, through loops, an unknown
// frame count, the end of a run, skipped frames and read errors.
func TestGrabEncoderPlaysTheSame(t *testing.T) {
	type played struct {
		seqs, files []int
		states      []media.State
		grabEncodes int
	}
	for _, tc := range []struct {
		name   string
		frames int64
		header int64 // frame count the header claims; -1: true count
		failAt int64 // the grab of this file frame fails once
		cfg    decoder.Config
		run    time.Duration
	}{
		{"loop", 30, -1, -1, decoder.Config{Seq: 5, Loop: true}, 3 * time.Second},
		{"loop unknown count", 30, 0, -1, decoder.Config{Loop: true}, 3 * time.Second},
		{"loop header too long", 30, 45, -1, decoder.Config{Loop: true}, 3 * time.Second},
		{"end", 20, -1, -1, decoder.Config{Seq: 7}, 2 * time.Second},
		{"max fps", 1000, -1, -1, decoder.Config{MaxFPS: 10}, 2 * time.Second},
		{"read error", 1000, -1, 130, decoder.Config{Frame: 100}, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got [2]played
			for i, ge := range []bool{false, true} {
				synctest.Test(t, func(t *testing.T) {
					o := newFakeOpener(tc.frames, 25)
					o.infoFrames, o.failGrab, o.grabEncoder = tc.header, tc.failAt, ge
					r := start(t, o, newFakeHub(true), tc.cfg)
					advance(tc.run)
					for _, f := range r.hub.published() {
						got[i].seqs = append(got[i].seqs, int(f.Seq))
						got[i].files = append(got[i].files, fileFrame(f))
					}
					got[i].states, _ = r.status.get()
					got[i].grabEncodes = o.grabEncodes
				})
			}
			plain, ge := got[0], got[1]
			if tc.failAt >= 0 && !slices.Contains(plain.states, media.StateError) {
				t.Fatalf("states %v, want an error", plain.states)
			}
			if len(plain.seqs) == 0 || ge.grabEncodes == 0 {
				t.Fatalf("published %d frames, %d through GrabEncode", len(plain.seqs), ge.grabEncodes)
			}
			if !slices.Equal(plain.seqs, ge.seqs) || !slices.Equal(plain.files, ge.files) || !slices.Equal(plain.states, ge.states) {
				t.Fatalf("Grab+Encode: seqs %v files %v states %v\nGrabEncode: seqs %v files %v states %v",
					plain.seqs, plain.files, plain.states, ge.seqs, ge.files, ge.states)
			}
		})
	}
}

// OnEncode gets the encode time an EncodeTimer source reports (work done
// ahead or elsewhere), else the time the calls took.
func TestOnEncodeUsesEncodeTimer(t *testing.T) {
	for _, timer := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			o := newFakeOpener(100, 25)
			o.grabEncoder = timer
			h := newFakeHub(true)
			var mu sync.Mutex
			var took []time.Duration
			d := decoder.Start(t.Context(), decoder.Config{Camera: "cam1", Path: testPath, Epoch: 1, Speed: 1, Quality: 80}, decoder.Deps{
				Opener: o, Publisher: h, Watcher: h,
				OnEncode: func(d time.Duration, size int) {
					mu.Lock()
					took = append(took, d)
					mu.Unlock()
				},
			})
			advance(time.Second)
			d.Stop()
			want := time.Duration(0) // the fake's calls take no (fake) time
			if timer {
				want = fakeEncodeTime
			}
			if len(took) < 10 {
				t.Fatalf("%d frames encoded", len(took))
			}
			for _, d := range took {
				if d != want {
					t.Fatalf("EncodeTimer %v: OnEncode got %v, want %v", timer, d, want)
				}
			}
		})
	}
}

// ctxOpener is a ContextOpener that records the ctx it is given.
type ctxOpener struct {
	*fakeOpener
	ctx chan context.Context
}

func (o ctxOpener) OpenContext(ctx context.Context, path string) (decoder.Source, error) {
	o.ctx <- ctx
	return o.Open(path)
}

// A ContextOpener opens with the loop's ctx, which ends with Stop.
func TestContextOpenerGetsLoopContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := ctxOpener{newFakeOpener(100, 25), make(chan context.Context, 1)}
		d := decoder.Start(t.Context(), decoder.Config{Camera: "cam1", Path: testPath}, decoder.Deps{Opener: o, Publisher: newFakeHub(true)})
		ctx := <-o.ctx
		if ctx.Err() != nil {
			t.Fatal("ctx ended before Stop")
		}
		d.Stop()
		if ctx.Err() == nil {
			t.Fatal("ctx not ended by Stop")
		}
	})
}

func TestStartFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOpener(100, 25)
		r := start(t, o, newFakeHub(true), decoder.Config{Frame: 90, Seq: 500, Loop: true})
		advance(time.Second)
		frames := r.hub.published()
		checkRun(t, frames, 25)
		if fileFrame(frames[0]) != 90 || frames[0].Seq != 501 || fileFrame(frames[10]) != 0 {
			t.Fatalf("frames start at file frame %d seq %d, wrap to %d; want 90, 501, 0", fileFrame(frames[0]), frames[0].Seq, fileFrame(frames[10]))
		}
	})
}

func TestStopClosesSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOpener(10_000, 25)
		r := start(t, o, newFakeHub(true), decoder.Config{})
		advance(500 * time.Millisecond)
		r.dec.Stop()
		select {
		case <-r.dec.Done():
		default:
			t.Fatal("Done not closed after Stop")
		}
		if opens, closes, _, _ := o.counts(); opens != 1 || closes != 1 {
			t.Fatalf("opens %d, closes %d after Stop", opens, closes)
		}
		if st := r.dec.Status(); st.State != media.StateStopped {
			t.Fatalf("state %v after Stop", st.State)
		}
		states, _ := r.status.get()
		if states[len(states)-1] != media.StateStopped {
			t.Fatalf("last OnStatus %v, want stopped", states)
		}
		n := len(r.hub.published())
		advance(time.Second)
		if len(r.hub.published()) != n {
			t.Fatal("published after Stop")
		}
		r.dec.Stop() // twice is fine
	})
}

func TestCancelParentContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOpener(10_000, 25)
		ctx, cancel := contextWithCancel(t)
		d := decoder.Start(ctx, decoder.Config{Camera: "cam1", Path: testPath}, decoder.Deps{Opener: o, Publisher: newFakeHub(true), Watcher: newFakeHub(true)})
		advance(100 * time.Millisecond)
		cancel()
		<-d.Done()
		if opens, closes, _, _ := o.counts(); opens != closes {
			t.Fatalf("opens %d, closes %d", opens, closes)
		}
	})
}
