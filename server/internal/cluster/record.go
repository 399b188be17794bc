package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/media"
)

// This file is the one definition of the JSON that crosses nodes about
// cameras: the KV record an owner writes, the events it publishes, and
// the requests edges send it and its replies.

// CameraRecord is a camera's value in BucketCameras (key: camera id),
// written by the camera's owner whenever the camera changes and at least
// every few seconds while it plays (position checkpoint). Edges read View;
// an ingest taking the camera over reads the rest.
type CameraRecord struct {
	ID    media.CameraID `json:"id"`
	Owner string         `json:"owner,omitempty"` // node name of the owner that wrote it
	// Settings and source.
	Name   string            `json:"name"`
	Loop   bool              `json:"loop"`
	Speed  float64           `json:"speed"`
	Grid   media.Grid        `json:"grid"` // the camera's own (zero fields: the server's)
	Source *camera.Source    `json:"source,omitempty"`
	Kind   media.SourceKind  `json:"source_kind,omitempty"`
	Extra  map[string]string `json:"extra,omitempty"` // room for the owner's own fields
	// Run identity and position checkpoint.
	Epoch uint64 `json:"epoch"`
	Seq   uint64 `json:"seq"`
	Frame int64  `json:"frame"` // file frame index of the position
	// Upload is the object name of the current video in BucketVideos
	// ("" without one).
	Upload  string    `json:"upload,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// View is what edges show (its Channel and Viewers are theirs).
	View ViewJSON `json:"view"`
}

// ViewJSON is camera.View on the wire.
type ViewJSON struct {
	ID           media.CameraID    `json:"id"`
	Name         string            `json:"name"`
	Loop         bool              `json:"loop"`
	Speed        float64           `json:"speed"`
	State        media.State       `json:"state"`
	Error        string            `json:"error,omitempty"`
	ErrorCode    string            `json:"error_code,omitempty"`
	Epoch        uint64            `json:"epoch"`
	Seq          uint64            `json:"seq"`
	Position     float64           `json:"position"`
	FPS          float64           `json:"fps"`
	Grid         media.Grid        `json:"grid"`
	GridOwn      media.Grid        `json:"grid_own"`
	Video        *camera.Video     `json:"video,omitempty"`
	Source       camera.SourceView `json:"source"`
	LastFrameAge *time.Duration    `json:"last_frame_age,omitempty"`
}

// ViewToJSON converts a view for the wire (Channel and Viewers stay local).
func ViewToJSON(v camera.View) ViewJSON {
	return ViewJSON{
		ID: v.ID, Name: v.Name, Loop: v.Loop, Speed: v.Speed, State: v.State, Error: v.Error, ErrorCode: v.ErrorCode,
		Epoch: v.Epoch, Seq: v.Seq, Position: v.Position, FPS: v.FPS, Grid: v.Grid, GridOwn: v.GridOwn,
		Video: v.Video, Source: v.Source, LastFrameAge: v.LastFrameAge,
	}
}

// View converts back; Channel and Viewers are left for the edge to fill.
func (j ViewJSON) View() camera.View {
	return camera.View{
		ID: j.ID, Name: j.Name, Loop: j.Loop, Speed: j.Speed, State: j.State, Error: j.Error, ErrorCode: j.ErrorCode,
		Epoch: j.Epoch, Seq: j.Seq, Position: j.Position, FPS: j.FPS, Grid: j.Grid, GridOwn: j.GridOwn,
		Video: j.Video, Source: j.Source, LastFrameAge: j.LastFrameAge,
	}
}

// EventJSON is a camera event on EventSubject.
type EventJSON struct {
	Kind camera.EventKind `json:"kind"`
	View ViewJSON         `json:"view"`
}

// SettingsJSON is camera.Settings on the wire.
type SettingsJSON struct {
	Name   *string        `json:"name,omitempty"`
	Loop   *bool          `json:"loop,omitempty"`
	Speed  *float64       `json:"speed,omitempty"`
	Source *camera.Source `json:"source,omitempty"`
	Grid   *media.Grid    `json:"grid,omitempty"`
}

func settingsToJSON(s camera.Settings) SettingsJSON {
	return SettingsJSON{Name: s.Name, Loop: s.Loop, Speed: s.Speed, Source: s.Source, Grid: s.Grid}
}

// Settings converts back.
func (s SettingsJSON) Settings() camera.Settings {
	return camera.Settings{Name: s.Name, Loop: s.Loop, Speed: s.Speed, Source: s.Source, Grid: s.Grid}
}

// Request is the body of SubjectAPICreate and CamOpSubject requests.
type Request struct {
	// Camera is set on SubjectAPICreate (on CamOpSubject it is in the
	// subject).
	Camera media.CameraID `json:"camera,omitempty"`
	// Op is set on SubjectAPICreate: OpUpdate (create) or OpUpload (an
	// upload to a camera that does not exist yet).
	Op       Op            `json:"op,omitempty"`
	Settings *SettingsJSON `json:"settings,omitempty"`
	// Upload: the object in BucketVideos and the original file name.
	Object   string `json:"object,omitempty"`
	FileName string `json:"file_name,omitempty"`
}

// UploadJSON is camera.Upload on the wire.
type UploadJSON struct {
	ID    string          `json:"id"`
	Probe media.VideoInfo `json:"probe"`
	// Duration is Probe.Duration, which media.VideoInfo leaves out of
	// JSON.
	Duration time.Duration `json:"duration"`
	Camera   ViewJSON      `json:"camera"`
}

// Reply answers a Request: a view, an upload, or an error.
type Reply struct {
	View   *ViewJSON   `json:"view,omitempty"`
	Upload *UploadJSON `json:"upload,omitempty"`
	Error  *ErrorJSON  `json:"error,omitempty"`
}

// ErrorJSON is a media error on the wire: its kind by API code and its
// user-safe message.
type ErrorJSON struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// ErrorReply returns the reply for err: a media error keeps its kind and
// message; anything else is internal, with no detail.
func ErrorReply(err error) Reply {
	var me *media.Error
	if errors.As(err, &me) {
		return Reply{Error: &ErrorJSON{Kind: me.Kind.Code(), Message: me.Message}}
	}
	return Reply{Error: &ErrorJSON{Kind: media.KindInternal.Code(), Message: "internal error"}}
}

// Err returns the reply's error as a media error, or nil.
func (r Reply) Err() error {
	if r.Error == nil {
		return nil
	}
	for _, k := range media.Kinds() {
		if k.Code() == r.Error.Kind {
			return media.Errorf(k, "%s", r.Error.Message)
		}
	}
	return media.Errorf(media.KindInternal, "%s", r.Error.Message)
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil { // only plain data is marshalled here
		panic("cluster: marshal: " + err.Error())
	}
	return b
}

// NewObjectID returns a random name part for an object in BucketVideos.
func NewObjectID() string {
	var b [12]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}
