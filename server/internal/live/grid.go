package live

import (
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
)

// The grid rendition of a live camera. A passthrough source has no
// decoded picture to scale: while the grid rendition is watched (the
// Watcher is a decoder.RenditionWatcher) the loop publishes, at most
// Config.Grid.FPS times a second, the camera's JPEG as the grid frame
// with the full frame's identity (epoch, seq, PTS). Scaling it down is
// the next step (a reduced-size decode in an isolated child); until then
// a live camera's grid frames are its full JPEGs at a lower rate.

// SetGrid changes how the grid rendition is made (zero fields: defaults),
// from the next frame on.
func (r *Runner) SetGrid(g media.Grid) {
	r.mu.Lock()
	r.cfg.Grid = g
	r.mu.Unlock()
}

// gridState is the loop's grid schedule.
type gridState struct {
	next time.Time // the grid's next slot; zero: at once
}

// publishGrid publishes f (a full frame just published) to the grid
// rendition if the grid is watched and its slot has come. Called from the
// loop's goroutine only.
func (r *Runner) publishGrid(f *media.Frame) {
	rw, ok := r.deps.Watcher.(decoder.RenditionWatcher)
	if !ok || !rw.RenditionWatched(r.cfg.Camera, media.RenditionGrid) {
		r.grid.next = time.Time{}
		return
	}
	r.mu.Lock()
	g := r.cfg.Grid.OrDefault(media.DefaultGrid())
	r.mu.Unlock()
	iv := time.Duration(float64(time.Second) / g.FPS)
	if !r.grid.next.IsZero() && f.Captured.Before(r.grid.next) {
		return
	}
	if r.grid.next.IsZero() || f.Captured.Sub(r.grid.next) > iv {
		r.grid.next = f.Captured.Add(iv)
	} else {
		r.grid.next = r.grid.next.Add(iv)
	}
	gf := *f
	gf.Rendition = media.RenditionGrid
	r.deps.Publisher.Publish(&gf)
}
