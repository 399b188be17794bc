package live

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
)

// The grid rendition of a live camera. While the grid rendition is
// watched (the Watcher is a decoder.RenditionWatcher) the loop takes, at
// most Config.Grid.FPS times a second on a steady schedule, the newest
// full frame for the grid; an unwatched grid costs nothing.
//
// A passthrough source (HTTP MJPEG, snapshot) has no decoded picture to
// scale, so its grid frame is made from the camera's JPEG by Deps.Scaler
// (package isolate's: a reduced-size libjpeg decode, an area scale to
// media.ScaledSize and an encode at Config.Quality, in a scaler child, as
// the bytes come from the camera). The scaling runs in the runner's grid
// goroutine, never in the loop: the loop hands it the newest frame due
// (one slot, newest wins; a frame replaced before it was scaled counts as
// skipped), so a slow or failing scaler never delays the full rendition.
// The grid frame carries the full frame's epoch, seq, PTS and capture
// time. When the scaler cannot take the work (no Scaler, or its child
// failed and waits out a backoff) the grid frame is the full JPEG
// (counted: GridStats.Fallback); a JPEG the scaler cannot decode gives no
// grid frame (GridStats.Undecodable). A camera whose pictures are already
// at most Grid.Width wide sends them as they are.
//
// An RTSP camera's frames are decoded anyway: its child encodes the grid
// frame scaled down from the same decoded picture (rtsp.go).

// GridStats are a live camera's grid rendition counters, since Start.
type GridStats struct {
	Scaled      uint64 // grid frames made by the Scaler
	Fallback    uint64 // grid frames that are the full JPEG because no scaler could take them
	Undecodable uint64 // frames the Scaler could not decode: no grid frame
	Skipped     uint64 // frames due for the grid but replaced by a newer one before they were scaled
}

// gridCounters are GridStats as the runner counts them.
type gridCounters struct {
	scaled, fallback, undecodable, skipped atomic.Uint64
}

// GridStats returns the grid rendition's counters.
func (r *Runner) GridStats() GridStats {
	c := &r.gridCount
	return GridStats{Scaled: c.scaled.Load(), Fallback: c.fallback.Load(), Undecodable: c.undecodable.Load(), Skipped: c.skipped.Load()}
}

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

// publishGrid hands f (a full frame just published) to the grid
// rendition if the grid is watched and its slot has come: to the grid
// goroutine to be scaled, or as it is when it is small enough or there is
// no Scaler. Called from the loop's goroutine only.
func (r *Runner) publishGrid(f *media.Frame) {
	if !r.gridWatched() || !r.gridSlot(f.Captured) {
		return
	}
	if w, _ := media.ScaledSize(f.Width, f.Height, r.gridConfig().Width); w == f.Width {
		r.publishGridJPEG(f, f.JPEG, f.Width, f.Height)
		return
	}
	if r.deps.Scaler == nil {
		r.gridCount.fallback.Add(1)
		r.publishGridJPEG(f, f.JPEG, f.Width, f.Height)
		return
	}
	r.gridMu.Lock()
	if r.gridPending != nil {
		r.gridCount.skipped.Add(1)
	}
	r.gridPending = f
	r.gridMu.Unlock()
	select {
	case r.gridReady <- struct{}{}:
	default:
	}
}

// publishGridJPEG publishes jpeg (w x h) as the grid frame of f.
func (r *Runner) publishGridJPEG(f *media.Frame, jpeg []byte, w, h int) {
	gf := *f
	gf.Rendition = media.RenditionGrid
	gf.JPEG, gf.Width, gf.Height = jpeg, w, h
	r.deps.Publisher.Publish(&gf)
}

// scaleGrid is the grid goroutine: it scales the frames publishGrid hands
// it, one at a time, until ctx ends.
func (r *Runner) scaleGrid(ctx context.Context) {
	fallingBack := false // logged once per stretch of fallbacks
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.gridReady:
		}
		r.gridMu.Lock()
		f := r.gridPending
		r.gridPending = nil
		r.gridMu.Unlock()
		if f == nil {
			continue
		}
		s, err := r.deps.Scaler.Scale(ctx, f.JPEG, r.gridConfig().Width, r.cfg.Quality)
		switch {
		case err == nil:
			r.gridCount.scaled.Add(1)
			if fallingBack {
				fallingBack = false
				r.log.Info("grid scaler available again")
			}
			r.publishGridJPEG(f, s.JPEG, s.Width, s.Height)
		case ctx.Err() != nil:
			return
		case errors.Is(err, decoder.ErrScalerUnavailable), errors.Is(err, decoder.ErrSourceBroken):
			r.gridCount.fallback.Add(1)
			if !fallingBack {
				fallingBack = true
				r.log.Warn("grid scaler unavailable; grid frames are full-size until it is back", "err", err)
			}
			r.publishGridJPEG(f, f.JPEG, f.Width, f.Height)
		default:
			r.gridCount.undecodable.Add(1)
			r.log.Debug("grid frame not made", "seq", f.Seq, "err", err)
		}
	}
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
