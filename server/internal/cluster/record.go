package cluster

import (
	"time"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
)

// CameraRecord is a camera in the cameras bucket (key: the camera id),
// written only by the camera's owner, each write checked against the
// revision of its previous one: everything another ingest needs to take
// the camera over (settings, source, the run's epoch, seq and frame
// checkpoint, the video's object) and the view edges show. SourceURL
// carries the source's credentials, as the store does on a single node:
// the bucket must be no more readable than the data dir.
type CameraRecord struct {
	ID              media.CameraID `json:"id"`
	Name            string         `json:"name"`
	Loop            bool           `json:"loop"`
	Speed           float64        `json:"speed"`
	Running         bool           `json:"running"`
	Epoch           uint64         `json:"epoch"`
	Seq             uint64         `json:"seq"`
	Frame           int64          `json:"frame"`
	SourceURL       string         `json:"source_url,omitempty"`
	SourceTransport string         `json:"source_transport,omitempty"`
	Grid            media.Grid     `json:"grid"`
	Video           *VideoRecord   `json:"video,omitempty"`
	CreatedAt       time.Time      `json:"created_at"`
	// Owner is the node that wrote the record; View the camera as that
	// node saw it then (state, position, errors).
	Owner string      `json:"owner"`
	View  camera.View `json:"view"`
}

// VideoRecord is a camera's current video: its upload (as the camera's
// view names it) and the object of the videos bucket holding its bytes.
type VideoRecord struct {
	Upload string          `json:"upload"` // upload id, kept by every ingest that adopts the camera
	Object string          `json:"object"` // object name in the videos bucket
	Name   string          `json:"name"`   // sanitised original file name
	Ext    string          `json:"ext"`    // stored file extension, with the dot
	Size   int64           `json:"size"`
	Digest string          `json:"digest"` // the object's SHA-256 digest, as the object store writes it
	Info   media.VideoInfo `json:"info"`
	// Duration is Info.Duration, which media.VideoInfo leaves out of JSON.
	Duration time.Duration `json:"duration"`
}

// recordOf builds a camera's record from its owner's state: r and v from
// the manager, video the object its video is in (nil without one).
func recordOf(r camera.Record, v camera.View, video *VideoRecord, owner string) CameraRecord {
	c := r.Camera
	rec := CameraRecord{
		ID: c.ID, Name: c.Name, Loop: c.Loop, Speed: c.Speed, Running: c.Running,
		Epoch: c.Epoch, Seq: c.Seq, Frame: c.Frame,
		SourceURL: c.SourceURL, SourceTransport: c.SourceTransport, Grid: c.Grid,
		CreatedAt: c.CreatedAt, Owner: owner, View: v,
	}
	if video != nil && r.Video != nil && r.Video.ID == video.Upload {
		vr := *video
		rec.Video = &vr
	}
	return rec
}

// managerRecord is what camera.Manager.Adopt takes for rec.
func (rec CameraRecord) managerRecord() camera.Record {
	r := camera.Record{Camera: store.Camera{
		ID: rec.ID, Name: rec.Name, Loop: rec.Loop, Speed: rec.Speed, Running: rec.Running,
		Epoch: rec.Epoch, Seq: rec.Seq, Frame: rec.Frame,
		SourceURL: rec.SourceURL, SourceTransport: rec.SourceTransport, Grid: rec.Grid,
		CreatedAt: rec.CreatedAt,
	}}
	if v := rec.Video; v != nil {
		r.Video = &store.Upload{ID: v.Upload, Camera: rec.ID, File: v.Upload + store.SanitizeExt(v.Ext),
			OriginalName: v.Name, Size: v.Size, Info: v.Info}
		r.Video.Info.Duration = v.Duration
		r.Camera.UploadID = v.Upload
	}
	return r
}
