package camera

import (
	"sort"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// The read models below are plain data; the HTTP layer gives them their
// JSON shape (httpapi/views.go) and metrics its series.

// View is a camera as clients see it.
type View struct {
	ID    media.CameraID
	Name  string
	Loop  bool
	Speed float64
	State media.State
	Error string // why, while State is error
	// ErrorCode is Error's API code (e.g. "decoder_limit"); "" if none.
	ErrorCode string
	Epoch     uint64
	Seq       uint64
	Position  float64 // seconds into the current file
	Channel   uint32
	Viewers   map[string]int // by transport
	// LastFrameAge is the age of the run's latest frame; nil without one.
	LastFrameAge *time.Duration
	FPS          float64
	// Grid is the grid rendition the camera plays (its own, else the
	// server's); GridOwn is the camera's own setting (zero fields: the
	// server's).
	Grid, GridOwn media.Grid
	Video         *Video // nil without an upload, and while a live source plays
	Source        SourceView

	created time.Time
}

// SourceView is what feeds a camera, safe to show: the URL's password is
// replaced (media.RedactURL).
type SourceView struct {
	Kind      media.SourceKind // file, or http until a live camera answered, then mjpeg or snapshot
	URL       string           // redacted; "" for a file
	Transport string
}

// Video describes a camera's current video. It never names a server path.
type Video struct {
	Upload   string // upload id
	Name     string // sanitised original file name
	Size     int64
	Width    int
	Height   int
	FPS      float64
	Frames   int64
	Duration time.Duration
}

// ErrorRecord is one recent error of a camera.
type ErrorRecord struct {
	Time    time.Time
	Message string
}

// Stats is a camera's view plus its counters and recent errors.
type Stats struct {
	View
	Drops     map[string]uint64 // by transport
	Published uint64
	Encoded   uint64
	Grabbed   uint64
	Restarts  int
	Errors    []ErrorRecord
}

// List returns every camera, ordered by creation.
func (m *Manager) List() []View {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]View, 0, len(m.cameras))
	for _, e := range m.cameras {
		if e.phase == live {
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
	if e == nil || e.phase != live {
		return View{}, notFound(id)
	}
	return m.viewLocked(e), nil
}

// Stats returns every camera's view together with its counters and recent
// errors, ordered like List.
func (m *Manager) Stats() []Stats {
	views := m.List()
	out := make([]Stats, 0, len(views))
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range views {
		cs := Stats{View: v, Drops: map[string]uint64{}}
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

func (m *Manager) view(e *entry) View {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.viewLocked(e)
}

// viewLocked builds e's view. Manager.mu must be held.
func (m *Manager) viewLocked(e *entry) View {
	v := View{
		ID:      e.rec.ID,
		Name:    e.rec.Name,
		Loop:    e.rec.Loop,
		Speed:   e.rec.Speed,
		Grid:    m.effectiveGrid(e.rec),
		GridOwn: e.rec.Grid,
		State:   e.status.State,
		Epoch:   e.rec.Epoch,
		Seq:     e.rec.Seq,
		Viewers: map[string]int{},
		created: e.rec.CreatedAt,
	}
	if v.State == "" {
		v.State = media.StateStopped
	}
	if e.dec != nil {
		st := e.dec.Status()
		v.State, v.Seq, v.FPS = st.State, st.Seq, st.FPS
		v.Position = st.Position.Seconds()
		if st.State == media.StateError || st.State == media.StateOffline {
			v.Error, v.ErrorCode = st.Err, st.ErrCode
		}
	} else {
		// A run's first statuses can arrive before startLocked has
		// stored its decoder: the reason comes from the status kept.
		if st := e.status; st.State == media.StateError || st.State == media.StateOffline {
			v.Error, v.ErrorCode = st.Err, st.ErrCode
		}
		if e.video != nil && e.video.Info.FPS > 0 && e.rec.SourceURL == "" {
			v.Position = float64(e.rec.Frame) / e.video.Info.FPS
		}
	}
	v.Source = sourceViewLocked(e)
	if e.video != nil && e.rec.SourceURL == "" {
		info := e.video.Info
		v.Video = &Video{
			Upload:   e.video.ID,
			Name:     e.video.OriginalName,
			Size:     e.video.Size,
			Width:    info.Width,
			Height:   info.Height,
			FPS:      info.FPS,
			Frames:   info.Frames,
			Duration: info.Duration,
		}
	}
	if st, ok := m.deps.Hub.Stats(e.rec.ID); ok {
		v.Channel = st.Channel
		v.Viewers = st.Viewers
		if st.Latest != nil && st.Latest.Epoch == e.rec.Epoch {
			age := time.Since(st.Latest.Captured)
			v.LastFrameAge = &age
		}
	} else if e.phase == live {
		v.Channel = m.deps.Hub.Channel(e.rec.ID)
	}
	return v
}

// sourceViewLocked describes e's source. Manager.mu is held.
func sourceViewLocked(e *entry) SourceView {
	if e.rec.SourceURL == "" {
		return SourceView{Kind: media.SourceFile}
	}
	sv := SourceView{Kind: e.kind, URL: media.RedactURL(e.rec.SourceURL), Transport: e.rec.SourceTransport}
	if k, ok := e.dec.(kinded); ok {
		sv.Kind = k.Kind()
	}
	if sv.Kind == "" {
		sv.Kind = media.InitialKind(e.rec.SourceURL)
	}
	return sv
}
