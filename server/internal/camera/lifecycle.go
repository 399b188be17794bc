package camera

import (
	"context"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
)

// Create adds a camera without a video. Beyond MaxCameras it is a
// KindCameraLimit error.
func (m *Manager) Create(ctx context.Context, id media.CameraID, s Settings) (View, error) {
	if err := s.Validate(); err != nil {
		return View{}, err
	}
	e, err := m.reserve(id)
	if err != nil {
		return View{}, err
	}
	defer e.op.Unlock()
	rec := e.rec
	s.apply(&rec)
	rec, err = m.deps.Store.CreateCamera(ctx, rec)
	if err != nil {
		m.abandon(e)
		return View{}, err
	}
	m.mu.Lock()
	e.phase = live
	e.rec = rec
	e.status = decoder.Status{State: media.StateStopped, Epoch: rec.Epoch}
	if rec.SourceURL != "" {
		e.status.State = media.StateStarting
	}
	m.mu.Unlock()
	m.startLocked(e)
	m.log.Info("camera created", "camera", id, "source", media.RedactURL(rec.SourceURL))
	return m.view(e), nil
}

// Run starts every camera that was running and checkpoints positions until
// ctx ends; then it stops all decoders, writes a final checkpoint and
// returns.
func (m *Manager) Run(ctx context.Context) error {
	close(m.started)
	for _, id := range m.ids() {
		e, err := m.lock(id)
		if err != nil {
			continue
		}
		m.mu.Lock()
		run := e.rec.Running && hasSource(e)
		m.mu.Unlock()
		if run {
			m.startLocked(e)
		}
		e.op.Unlock()
	}
	t := time.NewTicker(m.cfg.CheckpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			m.shutdown()
			return nil
		case <-t.C:
			m.checkpointAll(ctx)
		}
	}
}

func (m *Manager) shutdown() {
	for _, id := range m.ids() {
		e, err := m.lock(id)
		if err != nil {
			continue
		}
		m.stopDecoderLocked(e, true)
		e.op.Unlock()
	}
	m.deps.LiveClient.CloseIdleConnections()
	m.events.close()
	close(m.stopped)
}

// Supervising reports whether Run is running the cameras' decoders.
func (m *Manager) Supervising() bool {
	select {
	case <-m.stopped:
		return false
	case <-m.started:
		return true
	default:
		return false
	}
}

func (m *Manager) checkpointAll(ctx context.Context) {
	for _, id := range m.ids() {
		m.mu.Lock()
		var d runner
		if e := m.cameras[id]; e != nil {
			d = e.dec
		}
		m.mu.Unlock()
		if d == nil {
			continue
		}
		st := d.Status()
		if err := m.deps.Store.Checkpoint(ctx, id, st.Epoch, st.Seq, st.Frame); err != nil {
			if ctx.Err() == nil {
				m.log.Warn("checkpoint failed", "camera", id, "err", err)
			}
			continue
		}
		m.observeCheckpoint(id, st)
	}
}

// Start starts (or resumes) the camera's video where it was.
func (m *Manager) Start(ctx context.Context, id media.CameraID) (View, error) {
	e, err := m.lock(id)
	if err != nil {
		return View{}, err
	}
	defer e.op.Unlock()
	m.mu.Lock()
	ok, running := hasSource(e), e.dec != nil
	m.mu.Unlock()
	if !ok {
		return View{}, noVideo(id)
	}
	if !running {
		if err := m.setRunning(ctx, e, true); err != nil {
			return View{}, err
		}
		m.startLocked(e)
		m.emit(EventState, e)
	}
	return m.view(e), nil
}

// Stop stops the camera's video, keeping its position.
func (m *Manager) Stop(ctx context.Context, id media.CameraID) (View, error) {
	e, err := m.lock(id)
	if err != nil {
		return View{}, err
	}
	defer e.op.Unlock()
	m.stopDecoderLocked(e, true)
	if err := m.setRunning(ctx, e, false); err != nil {
		return View{}, err
	}
	m.emit(EventState, e)
	return m.view(e), nil
}

func (m *Manager) setRunning(ctx context.Context, e *entry, running bool) error {
	rec, err := m.deps.Store.UpdateCamera(ctx, e.rec.ID, func(c *store.Camera) error {
		c.Running = running
		return nil
	})
	if err != nil {
		return err
	}
	m.mu.Lock()
	e.rec = rec
	m.mu.Unlock()
	return nil
}

// Restart plays the camera's video from the beginning as a new epoch.
func (m *Manager) Restart(ctx context.Context, id media.CameraID) (View, error) {
	e, err := m.lock(id)
	if err != nil {
		return View{}, err
	}
	defer e.op.Unlock()
	m.mu.Lock()
	ok := hasSource(e)
	m.mu.Unlock()
	if !ok {
		return View{}, noVideo(id)
	}
	m.stopDecoderLocked(e, false)
	rec, err := m.deps.Store.RestartCamera(ctx, id)
	if err != nil {
		return View{}, err
	}
	m.mu.Lock()
	e.rec = rec
	e.status = decoder.Status{State: media.StateStarting, Epoch: rec.Epoch}
	m.mu.Unlock()
	m.deps.Hub.Reset(id)
	m.emit(EventEpoch, e)
	m.startLocked(e)
	return m.view(e), nil
}

func noVideo(id media.CameraID) error {
	return media.Errorf(media.KindConflict, "camera %q has no video yet: upload one first or give it a source URL", id)
}

// Delete stops the camera, removes it and its files, and makes everything
// that keeps something about it forget it (see the package doc).
func (m *Manager) Delete(ctx context.Context, id media.CameraID) error {
	e, err := m.lock(id)
	if err != nil {
		return err
	}
	defer e.op.Unlock()
	m.stopDecoderLocked(e, false)
	if _, err := m.deps.Store.DeleteCamera(ctx, id); err != nil {
		return err
	}
	m.mu.Lock()
	e.phase = gone // invisible from here; the id stays taken until forgotten
	v := m.viewLocked(e)
	forgetters := m.forgetters
	m.mu.Unlock()

	m.deps.Hub.Remove(id)
	// The camera is gone: forgetting it must not stop half way because
	// the caller (an HTTP request) left.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, f := range forgetters {
		if err := f.ForgetCamera(fctx, id); err != nil {
			m.log.Warn("forget deleted camera", "camera", id, "err", err)
		}
	}
	m.mu.Lock()
	delete(m.cameras, id)
	m.mu.Unlock()
	m.events.publish(Event{Kind: EventDeleted, Camera: id, View: v})
	m.log.Info("camera deleted", "camera", id)
	return nil
}

// startLocked starts e's run from its stored position: its live source
// if it has one, else its video. e.op is held.
func (m *Manager) startLocked(e *entry) {
	m.mu.Lock()
	rec, video := e.rec, e.video
	m.mu.Unlock()
	select {
	case <-m.started:
	default:
		return // Run starts running cameras
	}
	if rec.SourceURL != "" {
		m.startLiveLocked(e, rec)
		return
	}
	if video == nil {
		return
	}
	cfg := decoder.Config{
		Camera:  rec.ID,
		Path:    m.deps.Store.VideoPath(*video),
		Epoch:   rec.Epoch,
		Seq:     rec.Seq,
		Frame:   rec.Frame,
		Loop:    rec.Loop,
		Speed:   rec.Speed,
		Quality: m.cfg.Quality,
		MaxFPS:  m.cfg.MaxFPS,
		Grid:    m.effectiveGrid(rec),
	}
	id := rec.ID
	// The manager owns every decoder and stops each one itself (Stop,
	// Delete, Restart, uploads and shutdown), so the run needs no parent ctx.
	d := decoder.Start(context.Background(), cfg, decoder.Deps{
		Opener:    m.deps.Opener,
		Publisher: m.deps.Hub,
		Watcher:   m.deps.Hub,
		Logger:    m.log.With("camera", id),
		OnStatus:  func(st decoder.Status) { m.onStatus(e, st) },
		OnEncode:  m.encodeObserver(id),
	})
	m.mu.Lock()
	e.dec = d
	m.mu.Unlock()
}

// stopDecoderLocked stops e's decoder and waits for it, keeping its last
// position in the record (and in the store when persist is set). e.op is
// held; Manager.mu must not be, because the decoder's status callback
// takes it.
func (m *Manager) stopDecoderLocked(e *entry, persist bool) {
	m.mu.Lock()
	d := e.dec
	m.mu.Unlock()
	if d == nil {
		return
	}
	d.Stop()
	st := d.Status()
	m.mu.Lock()
	if k, ok := d.(kinded); ok {
		e.kind = k.Kind()
	}
	e.dec = nil
	if st.Epoch == e.rec.Epoch {
		e.rec.Seq, e.rec.Frame = st.Seq, st.Frame
	}
	e.status.State = media.StateStopped
	rec := e.rec
	m.mu.Unlock()
	if persist {
		// A fresh context: this also runs during shutdown, after ctx ended.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := m.deps.Store.Checkpoint(ctx, rec.ID, st.Epoch, st.Seq, st.Frame); err != nil {
			m.log.Warn("checkpoint on stop failed", "camera", rec.ID, "err", err)
		} else {
			m.observeCheckpoint(rec.ID, st)
		}
	}
}

func (m *Manager) encodeObserver(id media.CameraID) func(time.Duration, int) {
	if m.deps.OnEncode == nil {
		return nil
	}
	return func(d time.Duration, size int) { m.deps.OnEncode(id, d, size) }
}

// onStatus records a decoder's state change. It runs on the decoder's
// goroutine and takes only Manager.mu (see the package doc). A change from
// a decoder that is no longer e's (stopped or replaced) is ignored.
func (m *Manager) onStatus(e *entry, st decoder.Status) {
	if st.State == media.StateStopped {
		return // only the manager stops decoders, and it says so itself
	}
	m.mu.Lock()
	if e.phase != live || st.Epoch != e.rec.Epoch {
		m.mu.Unlock()
		return
	}
	e.status = st
	if (st.State == media.StateError || st.State == media.StateOffline) && st.Err != "" {
		e.errors = append(e.errors, ErrorRecord{Time: time.Now().UTC(), Message: st.Err})
		if len(e.errors) > maxErrors {
			e.errors = e.errors[len(e.errors)-maxErrors:]
		}
	}
	v := m.viewLocked(e)
	m.mu.Unlock()
	m.events.publish(Event{Kind: EventState, Camera: v.ID, View: v})
}

// emit publishes an event with the camera's current view.
func (m *Manager) emit(kind EventKind, e *entry) {
	v := m.view(e)
	m.events.publish(Event{Kind: kind, Camera: v.ID, View: v})
}
