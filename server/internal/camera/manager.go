// Package camera owns the life of every camera: its stored record, its
// run (a file decoder, package decoder, or a live source runner, package
// live, chosen by the camera's source) and the events that tell viewers
// about changes. It is the only place that starts, stops or replaces a
// run, so viewers can never restart a stream. Switching a camera's source
// (a URL set, or a video uploaded to a live camera) is a new epoch, like
// an upload.
//
// Files by job: manager.go (this: the camera table, its locks, New and
// Load), lifecycle.go (create, start, stop, restart, delete, Run), uploads.go
// (PublishUpload and the reservation an upload holds while it creates a
// camera), settings.go (live changes: name, loop, speed; the source),
// source.go (starting the run a source needs), views.go (the
// plain read models: View, Stats), events.go (the event bus), adopt.go
// (Adopt, Release, Record and checkpoint observation: what a cluster
// ingest needs to move a camera between nodes).
//
// Concurrency contract:
//   - Every exported method of Manager may be called from any goroutine.
//     Operations on one camera (create, upload, start, stop, restart,
//     settings, delete) are serialised by that camera's operation lock
//     (entry.op), held for the whole operation, including store writes and
//     waiting for the old decoder to stop. Operations on different cameras
//     run in parallel.
//   - Manager.mu guards the camera table and every entry's fields. It is
//     held only for short reads and writes of memory: never across store
//     I/O, a decoder Stop or a Forgetter. Order: entry.op before
//     Manager.mu, never the other way round (the one exception, a new
//     entry's op taken under Manager.mu, cannot block: nobody can see
//     that entry yet).
//   - A decoder's status callback (onStatus) runs on the decoder's
//     goroutine and takes only Manager.mu, so stopping a decoder (which
//     waits for that goroutine) while holding entry.op cannot deadlock.
//   - An entry is reserved (being created by Create or by an upload:
//     invisible, but already the one entry that serialises operations on
//     its id and counted by MaxCameras), live, or gone (deleted, or its
//     creation failed). A gone entry leaves the table before its op lock
//     is released; whoever waited on that lock looks the id up again.
//   - Delete is the one call that forgets a camera: with the camera's op
//     lock held it stops the decoder, deletes the record, ends the hub
//     topic and calls every Forgetter (metrics series, session
//     subscriptions, the HTTP layer's frame cache), then publishes
//     EventDeleted.
//   - Adopt and Release move a camera between nodes (package cluster):
//     Adopt is a create that keeps the record's epoch and continues its
//     seq and frame; Release is a stop that forgets the camera here
//     without deleting it (no Forgetter, no EventDeleted). A single node
//     never calls them.
//   - Run owns the background work (checkpoints) and returns when its ctx
//     ends, after stopping every decoder and writing a last checkpoint.
//     Decoders start only once Run has started.
package camera

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/hub"
	livesrc "github.com/livemon/livemon/server/internal/live"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
)

// Prober checks that a file is a playable video.
type Prober interface {
	Probe(ctx context.Context, path string) (media.VideoInfo, error)
}

// Forgetter drops what it keeps about a camera. Manager.Delete calls each
// registered Forgetter once per deleted camera, after the camera's record
// and hub topic are gone and before a camera with the same id can be
// created again.
type Forgetter interface {
	ForgetCamera(ctx context.Context, id media.CameraID) error
}

// DefaultMaxCameras is the default cap on cameras (Config.MaxCameras).
const DefaultMaxCameras = 64

// Config holds the manager's settings.
type Config struct {
	Quality         int           // JPEG quality
	MaxFPS          float64       // output frame rate cap, 0 for none
	Grid            media.Grid    // the grid rendition; zero fields: media.DefaultGrid
	ProbeTimeout    time.Duration // per upload
	CheckpointEvery time.Duration
	// MaxCameras caps the cameras, counting those being created by
	// uploads; creating one more is a KindCameraLimit error. 0: no cap.
	MaxCameras int
	// Live are the live source runners' timings (snapshot polling rate,
	// offline timeout, backoff); zero fields take live's defaults.
	Live livesrc.Timings
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
	// LiveClient fetches live sources; nil: livesrc.NewClient.
	LiveClient *http.Client
	// OnCheckpoint, if set, observes every checkpoint written to the
	// store (a cluster owner mirrors them). It runs on Run's goroutine or
	// in the operation that stops a camera, and must not block.
	OnCheckpoint func(Checkpoint)
	// Scaler makes the grid frames of passthrough (HTTP MJPEG, snapshot)
	// cameras; nil: their grid frames are their full JPEGs.
	Scaler decoder.Scaler
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

	mu         sync.Mutex
	cameras    map[media.CameraID]*entry
	forgetters []Forgetter

	events eventBus
}

// phase is where an entry is in its life.
type phase uint8

const (
	reserved phase = iota // being created: invisible, counts toward MaxCameras
	live                  // a camera
	gone                  // deleted or never created; out of the table
)

type entry struct {
	op sync.Mutex // serialises operations on this camera

	// Guarded by Manager.mu:
	phase  phase
	rec    store.Camera
	video  *store.Upload
	dec    runner           // the running file decoder or live runner; nil when stopped
	kind   media.SourceKind // a live source's kind, as last found
	status decoder.Status
	errors []ErrorRecord
}

const maxErrors = 10

// New returns a manager. Call Run before using it.
func New(cfg Config, deps Deps) *Manager {
	cfg.Quality = media.JPEGQuality(cfg.Quality)
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = 30 * time.Second
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = time.Second
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.LiveClient == nil {
		deps.LiveClient = livesrc.NewClient(cfg.Live.ConnectTimeout)
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

// AddForgetter registers f to hear of every deleted camera. Call it while
// wiring, before the first Delete.
func (m *Manager) AddForgetter(f Forgetter) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forgetters = append(m.forgetters, f)
}

// RestartSeqGap is added to every stored seq when Load reads the cameras.
// Positions are checkpointed once a second (Config.CheckpointEvery), so a
// process that was killed may have published frames after its last
// checkpoint; continuing from the checkpoint would send a viewer those seqs
// again, going back within an epoch. 1000 frames are 33 s at 30 fps, far
// more than one checkpoint interval; a seq gap only means frames skipped.
const RestartSeqGap = 1000

// Load reads the stored cameras. Running cameras start when Run starts.
// Stored cameras beyond MaxCameras are kept; only creating more is refused.
func (m *Manager) Load(ctx context.Context) error {
	recs, err := m.deps.Store.Cameras(ctx)
	if err != nil {
		return fmt.Errorf("load cameras: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rec := range recs {
		rec.Seq += RestartSeqGap
		e := &entry{phase: live, rec: rec, status: decoder.Status{State: media.StateStopped, Epoch: rec.Epoch, Seq: rec.Seq, Frame: rec.Frame}}
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

// liveEntry returns the camera's entry if it is a camera, else nil.
func (m *Manager) liveEntry(id media.CameraID) *entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.cameras[id]; e != nil && e.phase == live {
		return e
	}
	return nil
}

// isLive reports whether e is (still) a camera.
func (m *Manager) isLive(e *entry) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return e.phase == live
}

// lock returns the camera's entry with its operation lock held.
func (m *Manager) lock(id media.CameraID) (*entry, error) {
	e := m.liveEntry(id)
	if e == nil {
		return nil, notFound(id)
	}
	e.op.Lock()
	if !m.isLive(e) { // deleted while we waited
		e.op.Unlock()
		return nil, notFound(id)
	}
	return e, nil
}

// reserve adds a reserved entry for a camera about to be created and
// returns it with its operation lock held. An id in the table, whatever
// its phase, is a KindConflict error; a full table a KindCameraLimit one.
func (m *Manager) reserve(id media.CameraID) (*entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cameras[id] != nil {
		return nil, media.Errorf(media.KindConflict, "camera %q already exists or is being created or deleted", id)
	}
	return m.reserveLocked(id)
}

// reserveLocked is reserve without the conflict check. Manager.mu is held.
func (m *Manager) reserveLocked(id media.CameraID) (*entry, error) {
	if err := m.roomLocked(); err != nil {
		return nil, err
	}
	e := &entry{
		phase:  reserved,
		rec:    store.Camera{ID: id, Name: string(id), Loop: true, Speed: 1},
		status: decoder.Status{State: media.StateStopped},
	}
	e.op.Lock() // nobody else can see e yet
	m.cameras[id] = e
	return e, nil
}

// Room reports nil when one more camera fits under MaxCameras (counting
// those being created), else the KindCameraLimit error creating one would
// get. A cluster ingest answers creates and takes cameras over only while
// it has room.
func (m *Manager) Room() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.roomLocked()
}

// roomLocked reports a KindCameraLimit error when no camera can be added.
// Manager.mu is held.
func (m *Manager) roomLocked() error {
	if m.cfg.MaxCameras > 0 && len(m.cameras) >= m.cfg.MaxCameras {
		return media.Errorf(media.KindCameraLimit,
			"the server has reached its limit of %d cameras: delete one first (or raise --max-cameras)", m.cfg.MaxCameras)
	}
	return nil
}

// abandon removes a reserved entry whose creation failed. Its op lock is
// held; the caller releases it.
func (m *Manager) abandon(e *entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.phase != reserved {
		return
	}
	e.phase = gone
	if m.cameras[e.rec.ID] == e {
		delete(m.cameras, e.rec.ID)
	}
}

func notFound(id media.CameraID) error {
	return media.Errorf(media.KindNotFound, "camera %q does not exist", id)
}
