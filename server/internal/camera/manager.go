// Package camera owns the life of every camera: its stored record, its
// decoder run and the events that tell viewers about changes. It is the only
// place that starts, stops or replaces a decoder, so viewers can never
// restart a stream.
//
// Contract: all exported methods of Manager may be called from any
// goroutine. Operations on one camera are serialised (an upload, a restart
// and a delete of the same camera never interleave); operations on different
// cameras run in parallel. Run owns the manager's background work
// (checkpoints) and returns when its ctx ends, after stopping every decoder
// and writing a last checkpoint.
package camera

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
)

// Prober checks that a file is a playable video.
type Prober interface {
	Probe(ctx context.Context, path string) (media.VideoInfo, error)
}

// Config holds the manager's settings.
type Config struct {
	Quality         int           // JPEG quality
	MaxFPS          float64       // output frame rate cap, 0 for none
	ProbeTimeout    time.Duration // per upload
	CheckpointEvery time.Duration
}

// Deps are the manager's collaborators.
type Deps struct {
	Store  *store.Store
	Hub    *hub.Hub
	Opener decoder.Opener
	Prober Prober
	Logger *slog.Logger
	// OnEncode, if set, observes every encoded frame (metrics).
	OnEncode func(cam media.CameraID, d time.Duration, size int)
}

// Manager runs cameras.
type Manager struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	// started is closed by Run; decoders start only after it. stopped is
	// closed when Run has stopped them all.
	started chan struct{}
	stopped chan struct{}

	mu      sync.Mutex
	cameras map[media.CameraID]*entry

	events eventBus
}

type entry struct {
	op sync.Mutex // serialises operations on this camera

	// Guarded by Manager.mu:
	rec     store.Camera
	video   *store.Upload
	dec     *decoder.Decoder
	status  decoder.Status
	errors  []ErrorRecord
	deleted bool
	// placeholder marks a camera an upload is creating: invisible until
	// the upload is published, but already the one entry that serialises
	// concurrent uploads to it.
	placeholder bool
}

// hidden reports whether e is not (or no longer) a camera. Manager.mu must
// be held.
func (e *entry) hidden() bool { return e.deleted || e.placeholder }

// ErrorRecord is one recent error of a camera.
type ErrorRecord struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
}

const maxErrors = 10

// New returns a manager. Call Run before using it.
func New(cfg Config, deps Deps) *Manager {
	if cfg.Quality <= 0 || cfg.Quality > 100 {
		cfg.Quality = 80
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = 30 * time.Second
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = time.Second
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	return &Manager{
		cfg:     cfg,
		deps:    deps,
		log:     deps.Logger,
		started: make(chan struct{}),
		stopped: make(chan struct{}),
		cameras: make(map[media.CameraID]*entry),
		events:  newEventBus(),
	}
}

// Load reads the stored cameras. Running cameras start when Run starts.
func (m *Manager) Load(ctx context.Context) error {
	recs, err := m.deps.Store.Cameras(ctx)
	if err != nil {
		return fmt.Errorf("load cameras: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rec := range recs {
		e := &entry{rec: rec, status: decoder.Status{State: media.StateStopped, Epoch: rec.Epoch, Seq: rec.Seq, Frame: rec.Frame}}
		if rec.UploadID != "" {
			u, err := m.deps.Store.Upload(ctx, rec.UploadID)
			if err != nil {
				m.log.Warn("camera video missing", "camera", rec.ID, "err", err)
			} else {
				e.video = &u
			}
		}
		m.cameras[rec.ID] = e
	}
	return nil
}

// Run starts every camera that was running and checkpoints positions until
// ctx ends; then it stops all decoders, writes a final checkpoint and
// returns.
func (m *Manager) Run(ctx context.Context) error {
	close(m.started)
	for _, id := range m.ids() {
		e := m.entry(id)
		if e == nil {
			continue
		}
		e.op.Lock()
		m.mu.Lock()
		run := e.rec.Running && e.video != nil
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
		e := m.entry(id)
		if e == nil {
			continue
		}
		e.op.Lock()
		m.stopDecoderLocked(e, true)
		e.op.Unlock()
	}
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
		e := m.entry(id)
		if e == nil {
			continue
		}
		m.mu.Lock()
		d := e.dec
		m.mu.Unlock()
		if d == nil {
			continue
		}
		st := d.Status()
		if err := m.deps.Store.Checkpoint(ctx, id, st.Epoch, st.Seq, st.Frame); err != nil && ctx.Err() == nil {
			m.log.Warn("checkpoint failed", "camera", id, "err", err)
		}
	}
}

func (m *Manager) ids() []media.CameraID {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]media.CameraID, 0, len(m.cameras))
	for id := range m.cameras {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func (m *Manager) entry(id media.CameraID) *entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cameras[id]
}

// lock returns the camera's entry with its operation lock held.
func (m *Manager) lock(id media.CameraID) (*entry, error) {
	e := m.entry(id)
	if e == nil {
		return nil, notFound(id)
	}
	e.op.Lock()
	m.mu.Lock()
	hidden := e.hidden()
	m.mu.Unlock()
	if hidden {
		e.op.Unlock()
		return nil, notFound(id)
	}
	return e, nil
}

func notFound(id media.CameraID) error {
	return media.Errorf(media.KindNotFound, "camera %q does not exist", id)
}

// startLocked starts e's decoder from its stored position. e.op is held.
func (m *Manager) startLocked(e *entry) {
	m.mu.Lock()
	rec, video := e.rec, e.video
	m.mu.Unlock()
	if video == nil {
		return
	}
	select {
	case <-m.started:
	default:
		return // Run starts running cameras
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
	}
	id := rec.ID
	// The manager owns every decoder and stops each one itself (Stop,
	// Delete, Restart, uploads and shutdown), so the run needs no parent ctx.
	d := decoder.Start(context.Background(), cfg, decoder.Deps{
		Opener:    m.deps.Opener,
		Publisher: m.deps.Hub,
		Watcher:   m.deps.Hub,
		Logger:    m.log.With("camera", id),
		OnStatus:  func(st decoder.Status) { m.onStatus(id, st) },
		OnEncode:  m.encodeObserver(id),
	})
	m.mu.Lock()
	e.dec = d
	m.mu.Unlock()
}

// stopDecoderLocked stops e's decoder and waits for it, keeping its last
// position in the record (and in the store when persist is set).
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
		}
	}
}

func (m *Manager) encodeObserver(id media.CameraID) func(time.Duration, int) {
	if m.deps.OnEncode == nil {
		return nil
	}
	return func(d time.Duration, size int) { m.deps.OnEncode(id, d, size) }
}

func (m *Manager) onStatus(id media.CameraID, st decoder.Status) {
	if st.State == media.StateStopped {
		return // only the manager stops decoders, and it says so itself
	}
	m.mu.Lock()
	e := m.cameras[id]
	if e == nil || e.deleted || st.Epoch != e.rec.Epoch {
		m.mu.Unlock()
		return
	}
	e.status = st
	if st.State == media.StateError && st.Err != "" {
		e.errors = append(e.errors, ErrorRecord{Time: time.Now().UTC(), Message: st.Err})
		if len(e.errors) > maxErrors {
			e.errors = e.errors[len(e.errors)-maxErrors:]
		}
	}
	v := m.viewLocked(e)
	m.mu.Unlock()
	m.events.publish(Event{Kind: EventState, Camera: id, View: v})
}

// emit publishes an event with the camera's current view.
func (m *Manager) emit(kind EventKind, e *entry) {
	m.mu.Lock()
	v := m.viewLocked(e)
	m.mu.Unlock()
	m.events.publish(Event{Kind: kind, Camera: v.ID, View: v})
}

// Subscribe returns a channel of camera events and a function that ends the
// subscription. A listener that falls behind loses events, never blocks.
func (m *Manager) Subscribe() (<-chan Event, func()) { return m.events.subscribe() }

// List returns every camera, ordered by creation.
func (m *Manager) List() []View {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]View, 0, len(m.cameras))
	for _, e := range m.cameras {
		if !e.hidden() {
			out = append(out, m.viewLocked(e))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].created.Equal(out[j].created) {
			return out[i].created.Before(out[j].created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Get returns one camera.
func (m *Manager) Get(id media.CameraID) (View, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.cameras[id]
	if e == nil || e.hidden() {
		return View{}, notFound(id)
	}
	return m.viewLocked(e), nil
}

// Exists reports whether the camera exists.
func (m *Manager) Exists(id media.CameraID) bool {
	_, err := m.Get(id)
	return err == nil
}

// Settings are the live-changeable camera settings; nil fields stay.
type Settings struct {
	Name  *string
	Loop  *bool
	Speed *float64
}

// Validate checks the settings' ranges.
func (s Settings) Validate() error {
	if s.Name != nil {
		n, err := media.ParseCameraName(*s.Name)
		if err != nil {
			return err
		}
		*s.Name = n
	}
	if s.Speed != nil && !(*s.Speed >= 0.1 && *s.Speed <= 8) {
		return media.Errorf(media.KindInvalid, "speed must be between 0.1 and 8")
	}
	return nil
}

// Create adds a camera without a video.
func (m *Manager) Create(ctx context.Context, id media.CameraID, s Settings) (View, error) {
	if err := s.Validate(); err != nil {
		return View{}, err
	}
	rec := store.Camera{ID: id, Name: string(id), Loop: true, Speed: 1}
	if s.Name != nil {
		rec.Name = *s.Name
	}
	if s.Loop != nil {
		rec.Loop = *s.Loop
	}
	if s.Speed != nil {
		rec.Speed = *s.Speed
	}
	m.mu.Lock()
	if e := m.cameras[id]; e != nil && !e.deleted {
		m.mu.Unlock()
		return View{}, media.Errorf(media.KindConflict, "camera %q already exists or is being created by an upload", id)
	}
	m.mu.Unlock()
	rec, err := m.deps.Store.CreateCamera(ctx, rec)
	if err != nil {
		return View{}, err
	}
	e := &entry{rec: rec, status: decoder.Status{State: media.StateStopped}}
	m.mu.Lock()
	m.cameras[id] = e
	v := m.viewLocked(e)
	m.mu.Unlock()
	m.log.Info("camera created", "camera", id)
	return v, nil
}

// Update changes name, loop or speed live: the video does not restart.
func (m *Manager) Update(ctx context.Context, id media.CameraID, s Settings) (View, error) {
	if err := s.Validate(); err != nil {
		return View{}, err
	}
	e, err := m.lock(id)
	if err != nil {
		return View{}, err
	}
	defer e.op.Unlock()
	rec, err := m.deps.Store.UpdateCamera(ctx, id, func(c *store.Camera) error {
		if s.Name != nil {
			c.Name = *s.Name
		}
		if s.Loop != nil {
			c.Loop = *s.Loop
		}
		if s.Speed != nil {
			c.Speed = *s.Speed
		}
		return nil
	})
	if err != nil {
		return View{}, err
	}
	m.mu.Lock()
	e.rec.Name, e.rec.Loop, e.rec.Speed = rec.Name, rec.Loop, rec.Speed
	d := e.dec
	m.mu.Unlock()
	if d != nil {
		if s.Speed != nil {
			d.SetSpeed(*s.Speed)
		}
		if s.Loop != nil {
			d.SetLoop(*s.Loop)
		}
	}
	m.emit(EventSettings, e)
	return m.Get(id)
}

// Delete stops the camera, removes it and its files.
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
	e.deleted = true
	v := m.viewLocked(e)
	delete(m.cameras, id)
	m.mu.Unlock()
	m.deps.Hub.Remove(id)
	m.events.publish(Event{Kind: EventDeleted, Camera: id, View: v})
	m.log.Info("camera deleted", "camera", id)
	return nil
}

// Start starts (or resumes) the camera's video where it was.
func (m *Manager) Start(ctx context.Context, id media.CameraID) (View, error) {
	e, err := m.lock(id)
	if err != nil {
		return View{}, err
	}
	defer e.op.Unlock()
	m.mu.Lock()
	hasVideo, running := e.video != nil, e.dec != nil
	m.mu.Unlock()
	if !hasVideo {
		return View{}, media.Errorf(media.KindConflict, "camera %q has no video yet: upload one first", id)
	}
	if !running {
		if err := m.setRunning(ctx, e, true); err != nil {
			return View{}, err
		}
		m.startLocked(e)
		m.emit(EventState, e)
	}
	return m.Get(id)
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
	return m.Get(id)
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
	hasVideo := e.video != nil
	m.mu.Unlock()
	if !hasVideo {
		return View{}, media.Errorf(media.KindConflict, "camera %q has no video yet: upload one first", id)
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
	return m.Get(id)
}

// Upload is an accepted upload.
type Upload struct {
	ID     string          `json:"upload"`
	Probe  media.VideoInfo `json:"-"`
	Camera View            `json:"-"`
}

// PublishUpload probes a fully received temp file and, when it is a
// playable video, switches the camera (created if missing) to it at once:
// the old decoder is stopped and waited for before the new one opens its
// file, and the epoch grows. On any failure the temp file is removed and the
// camera keeps playing what it played before.
func (m *Manager) PublishUpload(ctx context.Context, id media.CameraID, tf *store.TempFile, originalName string) (Upload, error) {
	defer tf.Abort() // no-op once published
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

	e := m.lockForUpload(id)
	defer e.op.Unlock()

	name := store.SanitizeName(originalName)
	res, err := m.deps.Store.PublishUpload(ctx, tf, store.Upload{
		Camera:       id,
		OriginalName: name,
		Size:         tf.Size(),
		Info:         info,
	}, strings.ToLower(filepath.Ext(originalName)))
	if err != nil {
		m.mu.Lock()
		if e.placeholder {
			e.deleted = true
			delete(m.cameras, id)
		}
		m.mu.Unlock()
		return Upload{}, err
	}

	m.stopDecoderLocked(e, false)
	m.deps.Hub.Reset(id)
	u := res.Upload
	m.mu.Lock()
	e.placeholder = false
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
	v, err := m.Get(id)
	if err != nil {
		return Upload{}, err
	}
	return Upload{ID: u.ID, Probe: info, Camera: v}, nil
}

// lockForUpload returns the camera's entry with its operation lock held,
// adding a placeholder for a camera the upload will create. An entry
// deleted while we waited for its lock is replaced.
func (m *Manager) lockForUpload(id media.CameraID) *entry {
	for {
		e := m.ensureEntry(id)
		e.op.Lock()
		m.mu.Lock()
		deleted := e.deleted
		m.mu.Unlock()
		if !deleted {
			return e
		}
		e.op.Unlock()
	}
}

// ensureEntry returns the camera's entry, adding a placeholder for a camera
// that an upload is about to create.
func (m *Manager) ensureEntry(id media.CameraID) *entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.cameras[id]
	if e == nil || e.deleted {
		e = &entry{
			rec:         store.Camera{ID: id, Name: string(id), Loop: true, Speed: 1},
			status:      decoder.Status{State: media.StateStopped},
			placeholder: true,
		}
		m.cameras[id] = e
	}
	return e
}

// Stats returns every camera's view together with its recent errors.
func (m *Manager) Stats() []CameraStats {
	views := m.List()
	out := make([]CameraStats, 0, len(views))
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range views {
		cs := CameraStats{View: v}
		if e := m.cameras[v.ID]; e != nil {
			cs.Errors = append([]ErrorRecord(nil), e.errors...)
			st := e.status
			if e.dec != nil {
				st = e.dec.Status()
			}
			cs.Restarts, cs.Encoded, cs.Grabbed = st.Restarts, st.Encoded, st.Grabbed
		}
		if st, ok := m.deps.Hub.Stats(v.ID); ok {
			cs.Drops = st.Drops
			cs.Published = st.Published
		}
		out = append(out, cs)
	}
	return out
}

// CameraStats is a camera's view plus its counters and recent errors.
type CameraStats struct {
	View
	Drops     map[string]uint64 `json:"drops"`
	Published uint64            `json:"published"`
	Encoded   uint64            `json:"encoded"`
	Grabbed   uint64            `json:"grabbed"`
	Restarts  int               `json:"restarts"`
	Errors    []ErrorRecord     `json:"errors"`
}
