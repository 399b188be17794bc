package camera

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
)

// Record is a camera's durable state, everything a node needs to run it:
// its stored row (settings, source, Running, and the run's epoch, seq and
// frame checkpoint) and its current video's upload, if any. A cluster
// carries it between ingest nodes (package cluster); the Upload's File is
// local to the node that made the Record and means nothing elsewhere.
type Record struct {
	Camera store.Camera
	Video  *store.Upload
}

// Checkpoint is a camera run's position as the manager writes it to the
// store: every Config.CheckpointEvery while the camera plays, and when it
// stops. Frame is the file frame index (0 for a live source), Position
// Frame / fps.
type Checkpoint struct {
	Camera   media.CameraID
	Epoch    uint64
	Seq      uint64
	Frame    int64
	Position time.Duration
}

// observeCheckpoint hands cp to Deps.OnCheckpoint, if set.
func (m *Manager) observeCheckpoint(id media.CameraID, st decoder.Status) {
	if m.deps.OnCheckpoint != nil {
		m.deps.OnCheckpoint(Checkpoint{Camera: id, Epoch: st.Epoch, Seq: st.Seq, Frame: st.Frame, Position: st.Position})
	}
}

// Record returns the camera's durable state with its run's newest
// position (newer than the last checkpoint while it plays).
func (m *Manager) Record(id media.CameraID) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.cameras[id]
	if e == nil || e.phase != live {
		return Record{}, notFound(id)
	}
	return recordLocked(e), nil
}

// recordLocked is e's Record. Manager.mu is held.
func recordLocked(e *entry) Record {
	r := Record{Camera: e.rec}
	if e.dec != nil {
		if st := e.dec.Status(); st.Epoch == e.rec.Epoch && st.Seq >= e.rec.Seq {
			r.Camera.Seq, r.Camera.Frame = st.Seq, st.Frame
		}
	}
	if e.video != nil {
		v := *e.video
		r.Video = &v
	}
	return r
}

// Adopt takes over a camera that another node ran, from its Record: the
// camera gets the record's settings, source, epoch, seq and frame, and,
// when the record has a video, the video's upload (id, name, probe result)
// with its bytes from tf, a temp file of this manager's store that the
// caller filled and whose size must be the upload's. If the record says
// Running the camera plays at once (or when Run starts), continuing the
// same epoch at the record's frame with seqs above the record's: adopting
// is not a new run. tf is consumed, whatever the outcome.
//
// Adopt refuses (KindConflict) a camera this manager already has, and one
// more camera than MaxCameras (KindCameraLimit). A stale stored row of the
// id that the manager does not hold (left by an earlier life of this
// node) is replaced.
func (m *Manager) Adopt(ctx context.Context, r Record, tf *store.TempFile) (View, error) {
	if tf != nil {
		defer tf.Abort() // no-op once published
	}
	id := r.Camera.ID
	if _, err := media.ParseCameraID(string(id)); err != nil {
		return View{}, err
	}
	switch {
	case r.Video != nil && tf == nil:
		return View{}, media.Errorf(media.KindInvalid, "adopt camera %q: its video's bytes are missing", id)
	case r.Video != nil && tf.Size() != r.Video.Size:
		return View{}, media.Errorf(media.KindInvalid, "adopt camera %q: video is %d bytes, its record says %d", id, tf.Size(), r.Video.Size)
	case r.Video != nil && !store.IsUploadID(r.Video.ID):
		return View{}, media.Errorf(media.KindInvalid, "adopt camera %q: malformed upload id", id)
	}
	e, err := m.reserve(id)
	if err != nil {
		return View{}, err
	}
	defer e.op.Unlock()
	rec, video, err := m.storeAdopted(ctx, r, tf)
	if err != nil {
		m.abandon(e)
		// Leave no half-made row behind; the camera is not here.
		if _, derr := m.deps.Store.DeleteCamera(context.WithoutCancel(ctx), id); derr != nil && !media.IsKind(derr, media.KindNotFound) {
			m.log.Warn("remove half-adopted camera", "camera", id, "err", derr)
		}
		return View{}, fmt.Errorf("adopt camera %q: %w", id, err)
	}
	m.mu.Lock()
	e.phase = live
	e.rec = rec
	e.video = video
	e.kind = media.InitialKind(rec.SourceURL)
	e.status = decoder.Status{State: media.StateStopped, Epoch: rec.Epoch, Seq: rec.Seq, Frame: rec.Frame}
	if video != nil {
		e.status.Info = video.Info
	}
	run := rec.Running && hasSource(e)
	m.mu.Unlock()
	if run {
		m.startLocked(e)
	}
	m.log.Info("camera adopted", "camera", id, "epoch", rec.Epoch, "seq", rec.Seq, "frame", rec.Frame)
	return m.view(e), nil
}

// storeAdopted writes an adopted camera to the store through the store's
// ordinary steps (create, publish the video under its upload id, set the
// source) and then sets the record's settings and run position, which
// those steps had moved (each is a new run there).
func (m *Manager) storeAdopted(ctx context.Context, r Record, tf *store.TempFile) (store.Camera, *store.Upload, error) {
	st, want := m.deps.Store, r.Camera
	if _, err := st.Camera(ctx, want.ID); err == nil {
		if _, err := st.DeleteCamera(ctx, want.ID); err != nil {
			return store.Camera{}, nil, fmt.Errorf("replace stale row: %w", err)
		}
	} else if !media.IsKind(err, media.KindNotFound) {
		return store.Camera{}, nil, err
	}
	if _, err := st.CreateCamera(ctx, store.Camera{ID: want.ID, Name: want.Name, Loop: want.Loop, Speed: want.Speed}); err != nil {
		return store.Camera{}, nil, err
	}
	var video *store.Upload
	if r.Video != nil {
		u := *r.Video
		u.Camera = want.ID
		res, err := st.PublishUpload(ctx, tf, u, filepath.Ext(u.File))
		if err != nil {
			return store.Camera{}, nil, err
		}
		video = &res.Upload
	}
	if want.SourceURL != "" {
		if _, err := st.SetCameraSource(ctx, want.ID, want.SourceURL, want.SourceTransport); err != nil {
			return store.Camera{}, nil, err
		}
	}
	rec, err := st.UpdateCamera(ctx, want.ID, func(c *store.Camera) error {
		c.Name, c.Loop, c.Speed, c.Grid, c.Running = want.Name, want.Loop, want.Speed, want.Grid, want.Running
		c.Epoch, c.Seq, c.Frame = want.Epoch, want.Seq, want.Frame
		return nil
	})
	if err != nil {
		return store.Camera{}, nil, err
	}
	return rec, video, nil
}

// Release stops the camera, writes its final checkpoint and forgets it on
// this node (its stored row, video file and hub topic, so the viewers and
// relays of its frames here end) without deleting the camera: no
// Forgetter hears of it and no EventDeleted is published, because the
// camera lives on wherever its Record is adopted next. It returns that
// Record, with the final position. A camera this manager does not have is
// a KindNotFound error.
func (m *Manager) Release(ctx context.Context, id media.CameraID) (Record, error) {
	e, err := m.lock(id)
	if err != nil {
		return Record{}, err
	}
	defer e.op.Unlock()
	m.stopDecoderLocked(e, true)
	m.mu.Lock()
	r := recordLocked(e)
	e.phase = gone
	m.mu.Unlock()
	m.deps.Hub.Remove(id)
	// The camera leaves this node whatever happens to the local copy.
	if _, err := m.deps.Store.DeleteCamera(context.WithoutCancel(ctx), id); err != nil {
		m.log.Warn("remove released camera's local copy", "camera", id, "err", err)
	}
	m.mu.Lock()
	delete(m.cameras, id)
	m.mu.Unlock()
	m.log.Info("camera released", "camera", id, "epoch", r.Camera.Epoch, "seq", r.Camera.Seq, "frame", r.Camera.Frame)
	return r, nil
}
