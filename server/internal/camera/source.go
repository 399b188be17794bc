package camera

import (
	"context"

	"github.com/livemon/livemon/server/internal/decoder"
	livesrc "github.com/livemon/livemon/server/internal/live"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
)

// runner is a camera's run, whatever its source: a file decoder
// (*decoder.Decoder) or a live source runner (*live.Runner).
type runner interface {
	Stop()
	Status() decoder.Status
}

// playback is a runner whose loop and speed can change (files only).
type playback interface {
	SetSpeed(float64)
	SetLoop(bool)
}

// kinded is a runner that knows its live source's kind.
type kinded interface {
	Kind() media.SourceKind
}

// hasSource reports whether e has something to play. Manager.mu is held.
func hasSource(e *entry) bool { return e.video != nil || e.rec.SourceURL != "" }

// startLiveLocked starts e's live source runner. e.op is held.
func (m *Manager) startLiveLocked(e *entry, rec store.Camera) {
	id := rec.ID
	streams, _ := m.deps.Opener.(decoder.StreamOpener) // RTSP decodes in the same children, under the same limit
	r := livesrc.Start(context.Background(), livesrc.Config{
		Camera: id, URL: rec.SourceURL, Transport: media.RTSPTransport(rec.SourceTransport),
		Epoch: rec.Epoch, Seq: rec.Seq, Timings: m.cfg.Live, Grid: m.effectiveGrid(rec), Quality: m.cfg.Quality,
	}, livesrc.Deps{
		Publisher: m.deps.Hub,
		Watcher:   m.deps.Hub,
		Client:    m.deps.LiveClient,
		Streams:   streams,
		Scaler:    m.deps.Scaler,
		Logger:    m.log.With("camera", id),
		OnStatus:  func(st decoder.Status) { m.onStatus(e, st) },
	})
	m.mu.Lock()
	e.dec = r
	m.mu.Unlock()
}

// switchSourceLocked switches e to a live source as a new epoch: the old
// run is stopped and waited for, the hub forgets its frame, and the new
// source starts. e.op is held.
func (m *Manager) switchSourceLocked(ctx context.Context, e *entry, src Source) error {
	m.stopDecoderLocked(e, true)
	rec, err := m.deps.Store.SetCameraSource(ctx, e.rec.ID, src.URL, src.Transport)
	if err != nil {
		return err
	}
	m.deps.Hub.Reset(rec.ID)
	m.mu.Lock()
	e.rec = rec
	e.kind = media.InitialKind(rec.SourceURL)
	e.status = decoder.Status{State: media.StateStarting, Epoch: rec.Epoch}
	e.errors = nil
	m.mu.Unlock()
	m.log.Info("camera source set", "camera", rec.ID, "source", media.RedactURL(rec.SourceURL))
	m.emit(EventEpoch, e)
	m.startLocked(e)
	return nil
}
