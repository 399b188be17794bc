package camera

import (
	"context"
	"errors"
	"path/filepath"
	"strings"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
)

// Upload is an accepted upload.
type Upload struct {
	ID     string // opaque upload id, safe to show clients
	Probe  media.VideoInfo
	Camera View
}

// PublishUpload probes a fully received temp file and, when it is a
// playable video, switches the camera (created if missing) to it at once:
// the old decoder is stopped and waited for before the new one opens its
// file, the hub forgets the old run's frame and the epoch grows. On any
// failure the temp file is removed and the camera keeps playing what it
// played before.
//
// A camera that existed when the upload began and was deleted while it was
// probed stays deleted (KindNotFound). Creating a camera beyond MaxCameras
// is a KindCameraLimit error, checked before the probe and again when the
// camera is reserved.
func (m *Manager) PublishUpload(ctx context.Context, id media.CameraID, tf *store.TempFile, originalName string) (Upload, error) {
	defer tf.Abort() // no-op once published
	pinned := m.liveEntry(id)
	if pinned == nil {
		m.mu.Lock()
		err := m.roomLocked()
		m.mu.Unlock()
		if err != nil {
			return Upload{}, err
		}
	}
	pctx, cancel := context.WithTimeout(ctx, m.cfg.ProbeTimeout)
	info, err := m.deps.Prober.Probe(pctx, tf.Path())
	cancel()
	if err != nil {
		var me *media.Error
		if !errors.As(err, &me) {
			err = media.WrapError(media.KindUnusable, err, "the file could not be read as a video")
		}
		return Upload{}, err
	}

	e, err := m.lockForUpload(id, pinned)
	if err != nil {
		return Upload{}, err
	}
	defer e.op.Unlock()

	res, err := m.deps.Store.PublishUpload(ctx, tf, store.Upload{
		Camera:       id,
		OriginalName: store.SanitizeName(originalName),
		Size:         tf.Size(),
		Info:         info,
	}, strings.ToLower(filepath.Ext(originalName)))
	if err != nil {
		m.abandon(e) // a camera this upload was creating is not created
		return Upload{}, err
	}

	m.stopDecoderLocked(e, false)
	m.deps.Hub.Reset(id)
	u := res.Upload
	m.mu.Lock()
	e.phase = live
	e.rec = res.Camera
	e.video = &u
	e.status = decoder.Status{State: media.StateStarting, Epoch: res.Camera.Epoch, Info: info}
	e.errors = nil
	m.mu.Unlock()
	m.emit(EventEpoch, e)
	m.startLocked(e)
	if res.Previous != nil {
		if err := m.deps.Store.DeleteUpload(ctx, res.Previous.ID); err != nil {
			m.log.Warn("remove previous upload failed", "camera", id, "err", err)
		}
	}
	return Upload{ID: u.ID, Probe: info, Camera: m.view(e)}, nil
}

// lockForUpload returns the entry the upload publishes to, with its
// operation lock held. pinned is the camera as it was when the upload
// began (nil if there was none): if it was deleted meanwhile the upload is
// refused. Otherwise the upload joins the entry now in the table (a camera
// or another upload's reservation, waiting for its operation to end) or
// reserves a new one.
func (m *Manager) lockForUpload(id media.CameraID, pinned *entry) (*entry, error) {
	if pinned != nil {
		pinned.op.Lock()
		if m.isLive(pinned) {
			return pinned, nil
		}
		pinned.op.Unlock()
		return nil, media.Errorf(media.KindNotFound, "camera %q was deleted while its upload was being checked", id)
	}
	for {
		m.mu.Lock()
		e := m.cameras[id]
		if e == nil {
			e, err := m.reserveLocked(id)
			m.mu.Unlock()
			return e, err
		}
		m.mu.Unlock()
		e.op.Lock()
		m.mu.Lock()
		ok := e.phase != gone
		m.mu.Unlock()
		if ok {
			return e, nil
		}
		e.op.Unlock() // deleted or abandoned while we waited: look again
	}
}
