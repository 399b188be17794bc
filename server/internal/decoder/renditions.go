package decoder

import (
	"fmt"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// gridSlack: a frame due this little before the grid's next slot still
// takes it, so rounding of frame times does not push the grid to the
// frame after (which would lower its rate by a third at 30 fps).
const gridSlack = time.Millisecond

// outputs is what the loop produces from one frame.
type outputs struct{ full, grid bool }

// renditionWatched reports whether r of the camera is watched. A plain
// Watcher (or none) watches the full rendition only.
func (p *player) renditionWatched(r media.Rendition) bool {
	if rw, ok := p.d.deps.Watcher.(RenditionWatcher); ok {
		return rw.RenditionWatched(p.d.cfg.Camera, r)
	}
	return r == media.RenditionFull
}

// watchRenditions notes which renditions are watched for this step.
func (p *player) watchRenditions() {
	p.watchFull = p.renditionWatched(media.RenditionFull)
	p.watchGrid = p.renditionWatched(media.RenditionGrid)
	if !p.watchGrid {
		p.gridNext = time.Time{}
	}
}

// gridOnly reports whether the grid is the only rendition watched: the
// frames are then paced at the grid's rate.
func (p *player) gridOnly() bool { return p.watchGrid && !p.watchFull }

func (p *player) gridInterval() time.Duration {
	return time.Duration(float64(time.Second) / p.d.gridNow().FPS)
}

// frameTime is when timeline frame t is due on the run's clock: the
// grid's rate is measured on it, not on when frames were produced, so a
// loop catching up never sends two grid frames closer than the interval.
func (p *player) frameTime(t int64) time.Time {
	p.d.mu.Lock()
	defer p.d.mu.Unlock()
	return p.d.clock.at(float64(t) / p.fps)
}

// outputsAt returns what to produce from the frame due at ft (its
// frameTime) when the grid's next slot is gridNext. While only the grid is
// watched every frame produced is a grid frame (the pacing keeps them
// apart).
func (p *player) outputsAt(ft, gridNext time.Time) outputs {
	o := outputs{full: p.watchFull}
	if p.watchGrid && (!p.watchFull || gridNext.IsZero() || !ft.Before(gridNext.Add(-gridSlack))) {
		o.grid = true
	}
	if !o.full && !o.grid {
		// Watched, but by no rendition any more (a linger ending between
		// two checks): one more full frame costs little.
		o.full = true
	}
	return o
}

// nextGridSlot is the grid's next slot after a grid frame due at ft: one
// interval later, so grid frames are at least that far apart on the
// timeline and the grid's rate is at most Grid.FPS.
func (p *player) nextGridSlot(ft time.Time) time.Time { return ft.Add(p.gridInterval()) }

// aheadOutputs guesses what the frame after the one due at ft needs, for
// a Source that reads ahead.
func (p *player) aheadOutputs(ft time.Time, o outputs) outputs {
	gridNext := p.gridNext
	if o.grid {
		gridNext = p.nextGridSlot(ft)
	}
	step := time.Duration(float64(time.Second) / (p.fps * p.d.speed()))
	if iv := p.outInterval(p.d.speed()); iv > step {
		step = iv
	}
	return p.outputsAt(ft.Add(step), gridNext)
}

// widths are the sizes of o for a SizedEncoder: 0 for full, the grid
// width for grid, in that order.
func (p *player) widths(o outputs) []int {
	w := make([]int, 0, 2)
	if o.full {
		w = append(w, 0)
	}
	if o.grid {
		w = append(w, p.d.gridNow().Width)
	}
	return w
}

// fill gives every output of o the same JPEG: what a Source that cannot
// scale produces.
func fill(o outputs, jpeg []byte) [][]byte {
	out := [][]byte{jpeg}
	if o.full && o.grid {
		out = append(out, jpeg)
	}
	return out
}

// checkCount refuses a SizedEncoder's answer without one JPEG per output.
func checkCount(jpegs [][]byte, o outputs) error {
	want := 0
	if o.full {
		want++
	}
	if o.grid {
		want++
	}
	if len(jpegs) != want {
		return fmt.Errorf("source returned %d JPEGs for %d sizes", len(jpegs), want)
	}
	return nil
}

// encodeGrabbed encodes the frame last grabbed as o asks.
func (p *player) encodeGrabbed(o outputs) ([][]byte, error) {
	if se, ok := p.src.(SizedEncoder); ok {
		jpegs, err := se.EncodeSizes(p.d.cfg.Quality, p.widths(o))
		if err == nil {
			err = checkCount(jpegs, o)
		}
		return jpegs, err
	}
	jpeg, err := p.src.Encode(p.d.cfg.Quality)
	if err != nil {
		return nil, err
	}
	return fill(o, jpeg), nil
}

// publishOutputs publishes the JPEGs of one frame, one per output of o in
// widths order, with the same epoch, seq and PTS.
func (p *player) publishOutputs(t, f int64, o outputs, jpegs [][]byte, now time.Time) {
	_, scaled := p.src.(SizedEncoder)
	i := 0
	for _, r := range media.Renditions() {
		if (r == media.RenditionFull && !o.full) || (r == media.RenditionGrid && !o.grid) || i >= len(jpegs) {
			continue
		}
		w, h := p.info.Width, p.info.Height
		if r == media.RenditionGrid && scaled {
			w, h = media.ScaledSize(w, h, p.d.gridNow().Width)
		}
		p.d.encodedBy[r.Index()].Add(1)
		p.d.deps.Publisher.Publish(&media.Frame{
			Camera:    p.d.cfg.Camera,
			Epoch:     p.d.cfg.Epoch,
			Seq:       p.seq(t),
			PTS:       p.pts(f),
			Captured:  now,
			Width:     w,
			Height:    h,
			JPEG:      jpegs[i],
			Rendition: r,
		})
		i++
	}
}
