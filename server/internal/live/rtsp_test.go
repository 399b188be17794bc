package live

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
)

// fakeStreams is a decoder.StreamOpener whose sources serve a small JPEG
// every 10 ms, or nothing while stalled (a read then fails after the
// spec's timeout, as the OpenCV child's does).
type fakeStreams struct {
	jpeg []byte

	mu      sync.Mutex
	opens   int
	open    int // sources not closed yet
	stalled bool
	openErr error
	specs   []media.StreamSpec
	// wornAfter: a source is worn (decoder.Recycler) after this many
	// frames; 0: never.
	wornAfter int
}

func newFakeStreams(t *testing.T) *fakeStreams {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 32, 16)), nil); err != nil {
		t.Fatal(err)
	}
	return &fakeStreams{jpeg: b.Bytes()}
}

func (f *fakeStreams) OpenStream(ctx context.Context, spec media.StreamSpec) (decoder.Source, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens++
	f.specs = append(f.specs, spec)
	if f.openErr != nil {
		return nil, f.openErr
	}
	f.open++
	return &fakeStream{f: f, ctx: ctx, timeout: spec.Timeout}, nil
}

func (f *fakeStreams) set(stalled bool, openErr error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stalled, f.openErr = stalled, openErr
}

func (f *fakeStreams) counts() (opens, open int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opens, f.open
}

type fakeStream struct {
	f       *fakeStreams
	ctx     context.Context
	timeout time.Duration
	closed  bool
	frames  int
}

func (s *fakeStream) Worn() bool {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	return s.f.wornAfter > 0 && s.frames >= s.f.wornAfter
}

func (s *fakeStream) Info() media.VideoInfo { return media.VideoInfo{Width: 32, Height: 16} }
func (s *fakeStream) Grab() error           { return errors.New("not used") }
func (s *fakeStream) Encode(int) ([]byte, error) {
	return nil, errors.New("not used")
}
func (s *fakeStream) SeekFrame(int64) error { return errors.New("live") }

func (s *fakeStream) GrabEncode(int) ([]byte, error) {
	deadline := time.Now().Add(s.timeout)
	for {
		s.f.mu.Lock()
		stalled := s.f.stalled
		s.f.mu.Unlock()
		if !stalled {
			break
		}
		if time.Now().After(deadline) {
			return nil, media.Errorf(media.KindUnusable, "no frames from the camera")
		}
		select {
		case <-s.ctx.Done():
			return nil, errors.Join(decoder.ErrSourceBroken, s.ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	select {
	case <-s.ctx.Done():
		return nil, errors.Join(decoder.ErrSourceBroken, s.ctx.Err())
	case <-time.After(10 * time.Millisecond):
	}
	s.f.mu.Lock()
	s.frames++
	s.f.mu.Unlock()
	return bytes.Clone(s.f.jpeg), nil
}

func (s *fakeStream) Close() error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.f.open--
	}
	return nil
}

// listener accepts TCP connections, answers each with a line that is not
// RTSP and closes it, so the runner's reachability check passes; the
// stream itself comes from fakeStreams.
func listener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(time.Second))
			io.WriteString(c, "SSH-2.0-OpenSSH_9.2\r\n\r\n")
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

func startRTSP(t *testing.T, url string, streams decoder.StreamOpener, watcher decoder.Watcher, tm Timings) (*Runner, *recorder) {
	t.Helper()
	rec := newRecorder()
	if watcher == nil {
		watcher = rec
	}
	r := Start(context.Background(), Config{Camera: "cam", URL: url, Transport: media.RTSPUDP, Epoch: 2, Seq: 10, Timings: tm}, Deps{
		Publisher: rec, Watcher: watcher, Streams: streams,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(r.Stop)
	return r, rec
}

// Frames of an RTSP stream are published with growing seq in the run's
// epoch; a stall is offline within the frame timeout and the stream plays
// again, in the same epoch, once frames come back; the child gets the
// URL, transport and timeout.
func TestRTSPStallAndBack(t *testing.T) {
	fs := newFakeStreams(t)
	url := "rtsp://u:pw@" + listener(t) + "/live"
	r, rec := startRTSP(t, url, fs, nil, fast)
	if k := r.Kind(); k != media.SourceRTSP {
		t.Fatalf("kind before the first frame %q", k)
	}
	waitFor(t, 5*time.Second, "frames", func() bool { return rec.count() >= 5 })
	frames := rec.all()
	for i, f := range frames {
		if f.Epoch != 2 || f.Seq != uint64(11+i) || f.Width != 32 {
			t.Fatalf("frame %d: epoch %d seq %d width %d", i, f.Epoch, f.Seq, f.Width)
		}
	}
	fs.mu.Lock()
	spec := fs.specs[0]
	fs.mu.Unlock()
	if spec.URL != url || spec.Transport != media.RTSPUDP || spec.Timeout != fast.FrameTimeout {
		t.Fatalf("spec %+v", spec)
	}

	fs.set(true, nil)
	took := waitFor(t, 3*fast.FrameTimeout, "offline", func() bool { return r.Status().State == media.StateOffline })
	if st := r.Status(); st.Err != "no frames for 0.5 s" {
		t.Fatalf("offline reason %q", st.Err)
	}
	t.Logf("offline %v after the stall", took)
	n := rec.count()
	fs.set(false, nil)
	waitFor(t, 5*time.Second, "frames again", func() bool { return rec.count() > n+3 })
	if st := r.Status(); st.State != media.StateRunning || st.Epoch != 2 {
		t.Fatalf("after the stall: %+v", st)
	}
}

// A worn decode child (near its memory limit) is replaced by a fresh one
// that reconnects: no error or offline state, one epoch, seqs going on,
// every replaced child closed.
func TestRTSPWornChildReplaced(t *testing.T) {
	fs := newFakeStreams(t)
	fs.wornAfter = 5
	r, rec := startRTSP(t, "rtsp://"+listener(t)+"/live", fs, nil, fast)
	waitFor(t, 5*time.Second, "three children", func() bool {
		opens, _ := fs.counts()
		return opens >= 3 && rec.count() >= 12
	})
	if st := r.Status(); st.State != media.StateRunning || st.Err != "" {
		t.Fatalf("state %s (%q) while children were replaced", st.State, st.Err)
	}
	for i, f := range rec.all() {
		if f.Epoch != 2 || f.Seq != uint64(11+i) {
			t.Fatalf("frame %d: epoch %d seq %d", i, f.Epoch, f.Seq)
		}
	}
	if opens, open := fs.counts(); open > 1 {
		t.Fatalf("%d of %d children still open", open, opens)
	}
}

// A decode child that cannot open the stream: the reason comes from the
// camera (here nothing speaks RTSP on the port), and the runner retries.
func TestRTSPOpenFails(t *testing.T) {
	fs := newFakeStreams(t)
	fs.set(false, media.Errorf(media.KindUnusable, "the camera's RTSP stream could not be opened"))
	r, _ := startRTSP(t, "rtsp://"+listener(t)+"/live", fs, nil, fast)
	waitFor(t, 5*time.Second, "error", func() bool {
		st := r.Status()
		return st.State == media.StateError && st.Err == "no RTSP answer from the camera"
	})
	waitFor(t, 5*time.Second, "retries", func() bool { opens, _ := fs.counts(); return opens >= 3 })
	// Over the decoder limit: the limit's message, and retries.
	fs.set(false, media.Errorf(media.KindDecoderLimit, "waiting for a free decoder"))
	waitFor(t, 5*time.Second, "decoder limit", func() bool { return r.Status().Err == "waiting for a free decoder" })
}

// A server without a stream opener says so instead of trying.
func TestRTSPWithoutDecoder(t *testing.T) {
	r, _ := startRTSP(t, "rtsp://"+listener(t)+"/live", nil, nil, fast)
	waitFor(t, 5*time.Second, "error", func() bool { return r.Status().Err == "this server cannot decode RTSP streams" })
}

// Unwatched, the runner keeps no stream open: it opens one for a single
// frame every RTSPRefresh (not the shorter Refresh of HTTP sources) and
// closes it.
func TestRTSPUnwatched(t *testing.T) {
	fs := newFakeStreams(t)
	w := &toggleWatcher{wake: make(chan struct{}, 1)}
	w.set(true)
	r, rec := startRTSP(t, "rtsp://"+listener(t)+"/live", fs, w, fast)
	waitFor(t, 5*time.Second, "frames", func() bool { return rec.count() >= 3 })
	w.set(false)
	waitFor(t, 5*time.Second, "closed", func() bool { _, open := fs.counts(); return open == 0 })
	opens, _ := fs.counts()
	n := rec.count()
	took := waitFor(t, 5*time.Second, "refreshes", func() bool { return rec.count() >= n+2 })
	if o, _ := fs.counts(); o-opens != rec.count()-n || took < fast.RTSPRefresh {
		t.Fatalf("%d opens for %d frames in %v: want one open per frame, one per refresh", o-opens, rec.count()-n, took)
	}
	if r.Status().State != media.StateRunning {
		t.Fatalf("state %q while unwatched", r.Status().State)
	}
}

// toggleWatcher is a Watcher whose answer the test sets.
type toggleWatcher struct {
	mu      sync.Mutex
	watched bool
	wake    chan struct{}
}

func (w *toggleWatcher) set(v bool) {
	w.mu.Lock()
	w.watched = v
	w.mu.Unlock()
	if v {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

func (w *toggleWatcher) Watched(media.CameraID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.watched
}

func (w *toggleWatcher) Wake(media.CameraID) <-chan struct{} { return w.wake }

// sizedStreams is fakeStreams whose sources encode sizes from one decode
// (as the OpenCV child does): a width n > 0 gives an n-pixel-wide JPEG.
type sizedStreams struct{ *fakeStreams }

func (s sizedStreams) OpenStream(ctx context.Context, spec media.StreamSpec) (decoder.Source, error) {
	src, err := s.fakeStreams.OpenStream(ctx, spec)
	if err != nil {
		return nil, err
	}
	return &sizedStream{src.(*fakeStream)}, nil
}

type sizedStream struct{ *fakeStream }

func (s *sizedStream) Info() media.VideoInfo { return media.VideoInfo{Width: 64, Height: 32} }

func (s *sizedStream) EncodeSizes(int, []int) ([][]byte, error) { return nil, errors.New("not used") }

func (s *sizedStream) GrabEncodeSizes(q int, widths, _ []int) ([][]byte, error) {
	if _, err := s.GrabEncode(q); err != nil {
		return nil, err
	}
	out := make([][]byte, len(widths))
	for i, w := range widths {
		if w == 0 {
			w = 64
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, w, w/2)), nil); err != nil {
			return nil, err
		}
		out[i] = b.Bytes()
	}
	return out, nil
}

// renditionWatcher watches the renditions the test sets.
type renditionWatcher struct {
	toggleWatcher
	rmu  sync.Mutex
	full bool
	grid bool
}

func (w *renditionWatcher) setRenditions(full, grid bool) {
	w.rmu.Lock()
	w.full, w.grid = full, grid
	w.rmu.Unlock()
	w.set(full || grid)
}

func (w *renditionWatcher) RenditionWatched(_ media.CameraID, r media.Rendition) bool {
	w.rmu.Lock()
	defer w.rmu.Unlock()
	if r == media.RenditionGrid {
		return w.grid
	}
	return w.full
}

// An RTSP camera makes only the renditions someone watches, from one
// decode: with only the grid watched no full frame is encoded and grid
// frames come at most Grid.FPS a second at most Grid.Width wide; with both,
// every frame is full and some are also grid, with the same seq.
func TestRTSPRenditions(t *testing.T) {
	fs := newFakeStreams(t)
	w := &renditionWatcher{toggleWatcher: toggleWatcher{wake: make(chan struct{}, 1)}}
	w.setRenditions(false, true)
	rec := newRecorder()
	r := Start(context.Background(), Config{Camera: "cam", URL: "rtsp://" + listener(t) + "/live", Epoch: 1, Timings: fast, Grid: media.Grid{Width: 40, FPS: 10}}, Deps{
		Publisher: rec, Watcher: w, Streams: sizedStreams{fs},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(r.Stop)
	waitFor(t, 5*time.Second, "grid frames", func() bool { return rec.count() >= 5 })
	frames := rec.all()
	for i, f := range frames {
		if f.Rendition != media.RenditionGrid || f.Width != 40 {
			t.Fatalf("only grid watched: frame %d is %q %dx%d", i, f.Rendition, f.Width, f.Height)
		}
	}
	if span := frames[len(frames)-1].Captured.Sub(frames[0].Captured); float64(len(frames)-1)/span.Seconds() > 10.5 {
		t.Fatalf("%d grid frames in %v: more than 10 a second", len(frames), span)
	}
	w.setRenditions(true, true)
	n := rec.count()
	waitFor(t, 5*time.Second, "both", func() bool { return rec.count() >= n+30 })
	seqs := map[uint64]bool{}
	grids := 0
	for i, f := range rec.all()[n:] {
		switch f.Rendition {
		case media.RenditionGrid:
			if i < 5 { // around the switch
				continue
			}
			grids++
			if !seqs[f.Seq] {
				t.Fatalf("grid frame seq %d without a full frame of the same picture before it", f.Seq)
			}
		default:
			if f.Width != 64 {
				t.Fatalf("full frame %dx%d", f.Width, f.Height)
			}
			seqs[f.Seq] = true
		}
	}
	if grids == 0 || grids*2 > len(seqs) {
		t.Fatalf("%d grid frames for %d full ones: want some, at most a third", grids, len(seqs))
	}
}

// An RTSP camera nobody watches still publishes its full frame when it
// starts and at every refresh: the hub keeps it for the next viewer (a
// rendition-aware watcher that watches nothing must not make it skip the
// encode).
func TestRTSPUnwatchedKeepsFullFrame(t *testing.T) {
	fs := newFakeStreams(t)
	w := &renditionWatcher{toggleWatcher: toggleWatcher{wake: make(chan struct{}, 1)}}
	rec := newRecorder()
	r := Start(context.Background(), Config{Camera: "cam", URL: "rtsp://" + listener(t) + "/live", Epoch: 1, Timings: fast}, Deps{
		Publisher: rec, Watcher: w, Streams: sizedStreams{fs},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(r.Stop)
	waitFor(t, 5*time.Second, "kept frames", func() bool { return rec.count() >= 2 })
	for i, f := range rec.all() {
		if f.Rendition != media.RenditionFull && f.Rendition != "" || len(f.JPEG) == 0 {
			t.Fatalf("frame %d: rendition %q, %d bytes", i, f.Rendition, len(f.JPEG))
		}
	}
}
