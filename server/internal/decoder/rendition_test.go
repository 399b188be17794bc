package decoder_test

import (
	"bytes"
	"context"
	"image/jpeg"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/synth"
)

// nextFrame waits for s's next frame.
func nextFrame(t *testing.T, s *hub.Subscription) *media.Frame {
	t.Helper()
	for deadline := time.After(10 * time.Second); ; {
		select {
		case <-s.Ready():
			if f, ok := s.Next(); ok {
				return f
			}
		case <-deadline:
			t.Fatal("no frame within 10s")
		}
	}
}

// checkGrid checks a grid frame: its JPEG is as large as it says, at most
// width wide with the source's aspect, and shows the file frame its PTS
// says (the same picture as the full frame of its seq).
func checkGrid(t *testing.T, f *media.Frame, srcW, srcH, width int) {
	t.Helper()
	if f.Rendition != media.RenditionGrid {
		t.Fatalf("rendition %q", f.Rendition)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(f.JPEG))
	if err != nil {
		t.Fatal(err)
	}
	ww, wh := media.ScaledSize(srcW, srcH, width)
	if cfg.Width != ww || cfg.Height != wh || f.Width != ww || f.Height != wh || ww > width {
		t.Fatalf("grid frame %dx%d (says %dx%d), want %dx%d", cfg.Width, cfg.Height, f.Width, f.Height, ww, wh)
	}
	_, idx, ok := synth.ReadMarker(f.JPEG)
	if want := int(f.PTS.Seconds()*30+0.5) % 65536; !ok || idx != want {
		t.Fatalf("grid frame seq %d shows file frame %d (ok %v), its PTS says %d", f.Seq, idx, ok, want)
	}
}

// The decoder encodes only the renditions someone watches: grid alone at
// the grid's size and rate, full and grid from the same frames, and no
// more grid once its viewer left.
func TestRenditionsEncodedOnlyWhileWatched(t *testing.T) {
	const srcW, srcH, gridW = 320, 180, 160
	path := filepath.Join(t.TempDir(), "v.synth")
	if err := (synth.Spec{Video: 3, Frames: 3000, FPS: 30, Width: srcW, Height: srcH}).Write(path); err != nil {
		t.Fatal(err)
	}
	h := hub.New(hub.WithLinger(0))
	running := make(chan struct{}, 1)
	d := decoder.Start(context.Background(), decoder.Config{
		Camera: "c", Path: path, Epoch: 1, Loop: true, Speed: 1,
		Grid: media.Grid{Width: gridW, FPS: 10},
	}, decoder.Deps{Opener: synth.Opener{}, Publisher: h, Watcher: h, OnStatus: func(st decoder.Status) {
		if st.State == media.StateRunning {
			select {
			case running <- struct{}{}:
			default:
			}
		}
	}})
	defer d.Stop()
	select {
	case <-running:
	case <-time.After(10 * time.Second):
		t.Fatal("decoder did not start")
	}
	if st := d.Status(); st.Encoded != 0 || st.EncodedBy[media.RenditionFull] != 0 || st.EncodedBy[media.RenditionGrid] != 0 {
		t.Fatalf("encoded while nobody watched: %+v", st)
	}

	// Grid only: no full frame is encoded; grid frames are scaled and at
	// most 10 a second (30 fps file: seqs at least 3 apart).
	grid := h.Subscribe("c", hub.SubscribeOptions{Rendition: media.RenditionGrid})
	defer grid.Close()
	var prev *media.Frame
	for range 6 {
		f := nextFrame(t, grid)
		checkGrid(t, f, srcW, srcH, gridW)
		if prev != nil && f.Seq < prev.Seq+3 {
			t.Fatalf("grid seqs %d then %d: more than 10 fps", prev.Seq, f.Seq)
		}
		prev = f
	}
	if n := d.Status().EncodedBy[media.RenditionFull]; n != 0 {
		t.Fatalf("%d full frames encoded while only grid was watched", n)
	}
	if h.Latest("c") != nil {
		t.Fatal("a full frame was published while only grid was watched")
	}

	// Full and grid: full at the file's rate, grid still at most 10 fps,
	// both carrying the same identity for the same picture.
	full := h.Subscribe("c", hub.SubscribeOptions{})
	defer full.Close()
	fulls := map[uint64]*media.Frame{}
	for range 10 {
		f := nextFrame(t, full)
		if f.Rendition != media.RenditionFull || f.Width != srcW || f.Height != srcH {
			t.Fatalf("full frame %+v", f)
		}
		fulls[f.Seq] = f
	}
	prev = nil
	for range 4 {
		f := nextFrame(t, grid)
		checkGrid(t, f, srcW, srcH, gridW)
		if prev != nil && f.Seq < prev.Seq+3 {
			t.Fatalf("grid seqs %d then %d next to full: more than 10 fps", prev.Seq, f.Seq)
		}
		if ff := fulls[f.Seq]; ff != nil && (ff.Epoch != f.Epoch || ff.PTS != f.PTS) {
			t.Fatalf("grid frame %+v and full frame %+v of one seq differ", f, ff)
		}
		prev = f
	}

	// Grid left: no more grid frames (one may have been under way).
	grid.Close()
	before := d.Status().EncodedBy[media.RenditionGrid]
	for range 10 {
		nextFrame(t, full)
	}
	st := d.Status()
	if g := st.EncodedBy[media.RenditionGrid]; g > before+1 {
		t.Fatalf("grid encoded %d more frames after its viewer left", g-before)
	}
	if st.EncodedBy[media.RenditionFull] < 20 {
		t.Fatalf("full encoded %d", st.EncodedBy[media.RenditionFull])
	}
	gs, _ := h.RenditionStats("c", media.RenditionGrid)
	if gs.Published != st.EncodedBy[media.RenditionGrid] {
		t.Fatalf("grid published %d, encoded %d", gs.Published, st.EncodedBy[media.RenditionGrid])
	}
}

// countingOpener opens synth sources that count what they are asked.
type countingOpener struct{ c *sourceCounts }

type sourceCounts struct {
	mu              sync.Mutex
	grabs, encodes  int // Grab calls; frames encoded (EncodeSizes, GrabEncodeSizes, Encode)
	grabEncodeCalls int
}

func (o countingOpener) Open(path string) (decoder.Source, error) {
	src, err := synth.Opener{}.Open(path)
	if err != nil {
		return nil, err
	}
	return &countingSource{SizedEncoder: src.(decoder.SizedEncoder), c: o.c}, nil
}

type countingSource struct {
	decoder.SizedEncoder
	c *sourceCounts
}

func (s *countingSource) add(grabs, encodes int) {
	s.c.mu.Lock()
	s.c.grabs += grabs
	s.c.encodes += encodes
	s.c.mu.Unlock()
}

func (s *countingSource) Grab() error { s.add(1, 0); return s.SizedEncoder.Grab() }

func (s *countingSource) Encode(q int) ([]byte, error) {
	s.add(0, 1)
	return s.SizedEncoder.Encode(q)
}

func (s *countingSource) EncodeSizes(q int, w []int) ([][]byte, error) {
	s.add(0, 1)
	return s.SizedEncoder.EncodeSizes(q, w)
}

func (s *countingSource) GrabEncodeSizes(q int, w, ahead []int) ([][]byte, error) {
	s.add(1, 1)
	return s.SizedEncoder.GrabEncodeSizes(q, w, ahead)
}

func (c *sourceCounts) get() (grabs, encodes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.grabs, c.encodes
}

// A file camera watched only in the grid reads every frame to keep its
// timeline but decodes and encodes only the grid's: at 30 fps with a
// 10 fps grid, three grabs per encoded frame, and every encode published.
func TestGridOnlyGrabsBetweenGridFrames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.synth")
	if err := (synth.Spec{Video: 3, Frames: 3000, FPS: 30, Width: 320, Height: 180}).Write(path); err != nil {
		t.Fatal(err)
	}
	counts := &sourceCounts{}
	h := hub.New(hub.WithLinger(0))
	grid := h.Subscribe("c", hub.SubscribeOptions{Rendition: media.RenditionGrid})
	defer grid.Close()
	d := decoder.Start(context.Background(), decoder.Config{
		Camera: "c", Path: path, Epoch: 1, Loop: true, Speed: 1, Grid: media.Grid{Width: 160, FPS: 10},
	}, decoder.Deps{Opener: countingOpener{counts}, Publisher: h, Watcher: h})
	defer d.Stop()
	nextFrame(t, grid)
	g0, e0 := counts.get()
	p0 := d.Status().EncodedBy[media.RenditionGrid]
	for range 15 {
		nextFrame(t, grid)
	}
	g, e := counts.get()
	p := d.Status().EncodedBy[media.RenditionGrid]
	grabs, encodes, published := g-g0, e-e0, int(p-p0)
	t.Logf("%d grabs, %d encodes, %d grid frames", grabs, encodes, published)
	if encodes > published+1 {
		t.Fatalf("%d frames encoded for %d grid frames: encoding between grid frames", encodes, published)
	}
	if grabs < 2*published {
		t.Fatalf("%d grabs for %d grid frames: the timeline skipped reads", grabs, published)
	}
}
