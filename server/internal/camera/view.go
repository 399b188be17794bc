package camera

import (
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// View is the camera object of the HTTP API (docs/api.md).
type View struct {
	ID             media.CameraID `json:"id"`
	Name           string         `json:"name"`
	Loop           bool           `json:"loop"`
	Speed          float64        `json:"speed"`
	State          media.State    `json:"state"`
	Error          string         `json:"error"`
	ErrorCode      string         `json:"error_code"` // API code of Error, e.g. "decoder_limit"; "" if none
	Epoch          uint64         `json:"epoch"`
	Seq            uint64         `json:"seq"`
	Position       float64        `json:"position"`
	Channel        uint32         `json:"channel"`
	Viewers        map[string]int `json:"viewers"`
	LastFrameAgeMS *int64         `json:"last_frame_age_ms"`
	FPS            float64        `json:"fps"`
	Video          *VideoView     `json:"video"`

	created time.Time
}

// VideoView describes a camera's current video. It never names a server path.
type VideoView struct {
	Upload   string  `json:"upload"`
	Name     string  `json:"name"`
	Size     int64   `json:"size"`
	Width    int     `json:"width"`
	Height   int     `json:"height"`
	FPS      float64 `json:"fps"`
	Frames   int64   `json:"frames"`
	Duration float64 `json:"duration"`
}

// viewLocked builds e's view. Manager.mu must be held.
func (m *Manager) viewLocked(e *entry) View {
	v := View{
		ID:      e.rec.ID,
		Name:    e.rec.Name,
		Loop:    e.rec.Loop,
		Speed:   e.rec.Speed,
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
		if st.State == media.StateError {
			v.Error, v.ErrorCode = st.Err, st.ErrCode
		}
	} else if e.video != nil && e.video.Info.FPS > 0 {
		v.Position = float64(e.rec.Frame) / e.video.Info.FPS
	}
	if e.video != nil {
		info := e.video.Info
		v.Video = &VideoView{
			Upload:   e.video.ID,
			Name:     e.video.OriginalName,
			Size:     e.video.Size,
			Width:    info.Width,
			Height:   info.Height,
			FPS:      info.FPS,
			Frames:   info.Frames,
			Duration: info.Duration.Seconds(),
		}
	}
	if st, ok := m.deps.Hub.Stats(e.rec.ID); ok {
		v.Channel = st.Channel
		v.Viewers = st.Viewers
		if st.Latest != nil && st.Latest.Epoch == e.rec.Epoch {
			age := time.Since(st.Latest.Captured).Milliseconds()
			v.LastFrameAgeMS = &age
		}
	} else {
		v.Channel = m.deps.Hub.Channel(e.rec.ID)
	}
	return v
}
