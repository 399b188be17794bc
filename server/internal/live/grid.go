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
// a passthrough camera's grid frames are its full JPEGs at a lower rate.
// An RTSP camera's frames are decoded anyway: its child encodes the grid
// frame scaled down from the same decoded picture (rtsp.go).

// SetGrid changes how the grid rendition is made (zero fields: defaults),
// from the next frame on.
func (r *Runner) SetGrid(g media.Grid) {
	r.mu.Lock()
	r.cfg.Grid = g
	r.mu.Unlock()
}

// gridConfig is the grid rendition's width and rate now.
func (r *Runner) gridConfig() media.Grid {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg.Grid.OrDefault(media.DefaultGrid())
}

// gridState is the loop's grid schedule.
type gridState struct {
	next time.Time // the grid's next slot; zero: at once
}

// publishGrid publishes f (a full frame just published) to the grid
// rendition if the grid is watched and its slot has come. Called from the
// loop's goroutine only.
func (r *Runner) publishGrid(f *media.Frame) {
	if !r.gridWatched() || !r.gridSlot(f.Captured) {
		return
	}
	gf := *f
	gf.Rendition = media.RenditionGrid
	r.deps.Publisher.Publish(&gf)
}

// gridWatched reports whether someone watches the grid rendition; when
// nobody does, the schedule starts over.
func (r *Runner) gridWatched() bool {
	rw, ok := r.deps.Watcher.(decoder.RenditionWatcher)
	if !ok || !rw.RenditionWatched(r.cfg.Camera, media.RenditionGrid) {
		r.grid.next = time.Time{}
		return false
	}
	return true
}

// fullWatched reports whether someone watches the full rendition (a plain
// Watcher: whether anyone watches).
func (r *Runner) fullWatched() bool {
	if rw, ok := r.deps.Watcher.(decoder.RenditionWatcher); ok {
		return rw.RenditionWatched(r.cfg.Camera, media.RenditionFull)
	}
	return r.watched()
}

// gridSlot reports whether a grid frame captured at t is due (at most
// Grid.FPS a second, on a steady schedule) and, if so, takes the slot.
func (r *Runner) gridSlot(t time.Time) bool {
	g := r.gridConfig()
	iv := time.Duration(float64(time.Second) / g.FPS)
	if !r.grid.next.IsZero() && t.Before(r.grid.next) {
		return false
	}
	if r.grid.next.IsZero() || t.Sub(r.grid.next) > iv {
		r.grid.next = t.Add(iv)
	} else {
		r.grid.next = r.grid.next.Add(iv)
	}
	return true
}
