package live

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/fakecam"
	"github.com/livemon/livemon/server/internal/media"
)

// fakeScaler scales like isolate's Scaler, in pure Go: nearest neighbour
// to media.ScaledSize, reporting a decode at half the size. With err set
// it fails instead; with block set it waits for ctx's end.
type fakeScaler struct {
	mu    sync.Mutex
	calls int
	err   error
	block bool
}

func (s *fakeScaler) Scale(ctx context.Context, b []byte, width, quality int) (decoder.ScaledJPEG, error) {
	s.mu.Lock()
	s.calls++
	err, block := s.err, s.block
	s.mu.Unlock()
	if block {
		<-ctx.Done()
		return decoder.ScaledJPEG{}, ctx.Err()
	}
	if err != nil {
		return decoder.ScaledJPEG{}, err
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return decoder.ScaledJPEG{}, err
	}
	sz := img.Bounds().Size()
	w, h := media.ScaledSize(sz.X, sz.Y, width)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			dst.Set(x, y, img.At(x*sz.X/w, y*sz.Y/h))
		}
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: quality}); err != nil {
		return decoder.ScaledJPEG{}, err
	}
	return decoder.ScaledJPEG{JPEG: out.Bytes(), Width: w, Height: h, DecodedWidth: sz.X / 2, DecodedHeight: sz.Y / 2}, nil
}

func (s *fakeScaler) set(err error, block bool) {
	s.mu.Lock()
	s.err, s.block = err, block
	s.mu.Unlock()
}

func (s *fakeScaler) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// gridRun is a runner on a 30 fps fake camera of w x h whose grid is
// 80 px wide at 10 fps, made by sc.
type gridRun struct {
	r   *Runner
	rec *recorder
	w   *renditionWatcher
}

func startGrid(t *testing.T, w, h int, sc decoder.Scaler) *gridRun {
	t.Helper()
	cam := fakecam.New(fakecam.Config{FPS: 30, Width: w, Height: h, VideoID: 5})
	srv := httptest.NewServer(cam.Handler())
	t.Cleanup(srv.Close)
	g := &gridRun{rec: newRecorder(), w: &renditionWatcher{toggleWatcher: toggleWatcher{wake: make(chan struct{}, 1)}}}
	g.w.setRenditions(true, true)
	client := NewClient(fast.ConnectTimeout)
	g.r = Start(context.Background(), Config{
		Camera: "cam", URL: srv.URL + "/mjpeg", Epoch: 4, Timings: fast, Grid: media.Grid{Width: 80, FPS: 10}, Quality: 70,
	}, Deps{Publisher: g.rec, Watcher: g.w, Client: client, Scaler: sc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() {
		g.r.Stop()
		client.CloseIdleConnections()
	})
	return g
}

// split returns the frames published so far by rendition, full ones by seq.
func (g *gridRun) split() (full map[uint64]*media.Frame, grid []*media.Frame) {
	full = map[uint64]*media.Frame{}
	for _, f := range g.rec.all() {
		if f.Rendition == media.RenditionGrid {
			grid = append(grid, f)
		} else {
			full[f.Seq] = f
		}
	}
	return full, grid
}

func (g *gridRun) grids() int {
	_, grid := g.split()
	return len(grid)
}

// A passthrough camera's grid frames are its JPEGs scaled by the Scaler
// to the grid size, at most Grid.FPS a second, with the identity of the
// full frame they come from; only while the grid is watched.
func TestPassthroughGridScaled(t *testing.T) {
	sc := &fakeScaler{}
	g := startGrid(t, 320, 180, sc)
	waitFor(t, 10*time.Second, "grid frames", func() bool { return g.grids() >= 8 })
	full, grid := g.split()
	for _, f := range grid {
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(f.JPEG))
		if err != nil || cfg.Width != 80 || cfg.Height != 45 || f.Width != 80 || f.Height != 45 {
			t.Fatalf("grid frame seq %d: %dx%d (says %dx%d), %v; want 80x45", f.Seq, cfg.Width, cfg.Height, f.Width, f.Height, err)
		}
		ff := full[f.Seq]
		if ff == nil || ff.Epoch != f.Epoch || ff.PTS != f.PTS || !ff.Captured.Equal(f.Captured) || f.Epoch != 4 {
			t.Fatalf("grid frame %+v has no full frame of the same identity (%+v)", f, ff)
		}
	}
	if span := grid[len(grid)-1].Captured.Sub(grid[0].Captured); float64(len(grid)-1)/span.Seconds() > 10.5 {
		t.Fatalf("%d grid frames in %v: more than 10 a second", len(grid), span)
	}
	if st := g.r.GridStats(); st.Scaled < uint64(len(grid)) || st.Fallback != 0 || st.Undecodable != 0 {
		t.Fatalf("grid stats %+v for %d grid frames", st, len(grid))
	}

	// The grid unwatched: nothing more is scaled (one may be under way).
	g.w.setRenditions(true, false)
	calls, n := sc.count(), g.rec.count()
	waitFor(t, 5*time.Second, "full frames", func() bool { return g.rec.count() >= n+30 })
	if c := sc.count(); c > calls+1 {
		t.Fatalf("%d frames scaled while the grid was not watched", c-calls)
	}
}

// When the Scaler is unavailable the grid frame is the full JPEG
// (counted); when it cannot decode the JPEG there is no grid frame
// (counted); the full rendition goes on either way.
func TestPassthroughGridFallbackAndUndecodable(t *testing.T) {
	sc := &fakeScaler{err: fmt.Errorf("%w: child failed", decoder.ErrScalerUnavailable)}
	g := startGrid(t, 320, 180, sc)
	waitFor(t, 10*time.Second, "grid frames", func() bool { return g.grids() >= 3 })
	full, grid := g.split()
	for _, f := range grid {
		if ff := full[f.Seq]; ff == nil || !bytes.Equal(ff.JPEG, f.JPEG) || f.Width != 320 {
			t.Fatalf("fallback grid frame seq %d is not the full frame", f.Seq)
		}
	}
	if st := g.r.GridStats(); st.Fallback < uint64(len(grid)) || st.Scaled != 0 {
		t.Fatalf("grid stats %+v for %d fallback frames", st, len(grid))
	}

	sc.set(media.Errorf(media.KindUnusable, "not a JPEG"), false)
	waitFor(t, 5*time.Second, "undecodable", func() bool { return g.r.GridStats().Undecodable >= 3 })
	grids, n := g.grids(), g.rec.count()
	waitFor(t, 5*time.Second, "full frames", func() bool { return g.rec.count() >= n+20 })
	if got := g.grids(); got > grids+1 {
		t.Fatalf("%d grid frames made of undecodable frames", got-grids)
	}
	if st := g.r.Status(); st.State != media.StateRunning {
		t.Fatalf("state %q", st.State)
	}
}

// A scaler that does not answer never holds up the full rendition: frames
// due for the grid meanwhile are replaced by newer ones (skipped), and
// Stop ends the wait.
func TestPassthroughGridSlowScaler(t *testing.T) {
	sc := &fakeScaler{block: true}
	g := startGrid(t, 320, 180, sc)
	waitFor(t, 10*time.Second, "full frames", func() bool { return g.rec.count() >= 30 })
	if st := g.r.GridStats(); st.Skipped == 0 || g.grids() != 0 || sc.count() != 1 {
		t.Fatalf("grid stats %+v, %d grid frames, %d scale calls", st, g.grids(), sc.count())
	}
	stopped := make(chan struct{})
	go func() { g.r.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop waited for the scaler")
	}
}

// A camera already at most Grid.Width wide sends its JPEGs as grid frames
// without the Scaler, and so does one without a Scaler (counted).
func TestPassthroughGridWithoutScaling(t *testing.T) {
	sc := &fakeScaler{}
	g := startGrid(t, 64, 48, sc)
	waitFor(t, 10*time.Second, "grid frames", func() bool { return g.grids() >= 3 })
	full, grid := g.split()
	for _, f := range grid {
		if ff := full[f.Seq]; ff == nil || !bytes.Equal(ff.JPEG, f.JPEG) || f.Width != 64 {
			t.Fatalf("small camera's grid frame seq %d is not its full frame", f.Seq)
		}
	}
	if st := g.r.GridStats(); sc.count() != 0 || st != (GridStats{}) {
		t.Fatalf("%d scale calls, stats %+v", sc.count(), st)
	}

	g = startGrid(t, 320, 180, nil)
	waitFor(t, 10*time.Second, "grid frames", func() bool { return g.grids() >= 3 })
	if st := g.r.GridStats(); st.Fallback < 3 {
		t.Fatalf("no scaler: stats %+v", st)
	}
}
