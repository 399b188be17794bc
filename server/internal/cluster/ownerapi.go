package cluster

import (
	"encoding/json"
	"errors"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/media"
)

// The owner's API: what an edge sends to the ingest that owns a camera
// (livemon.cam.<camera>.<op>, request/reply) or to any ingest
// (livemon.api.create, queue group livemon-ingest), and the events the
// owner publishes (livemon.event.<camera>). Requests and replies are JSON.

// CreateRequest asks some ingest to create a camera: with Settings, or,
// with Upload, from an uploaded video (the camera is created as an upload
// to a missing camera creates it on a single node).
type CreateRequest struct {
	ID       media.CameraID  `json:"id"`
	Settings camera.Settings `json:"settings"`
	Upload   *UploadRequest  `json:"upload,omitempty"`
}

// CamRequest is the body of livemon.cam.<camera>.<op>: Settings for
// update, Upload for upload, nothing for the others.
type CamRequest struct {
	Settings *camera.Settings `json:"settings,omitempty"`
	Upload   *UploadRequest   `json:"upload,omitempty"`
}

// UploadRequest names a video an edge streamed into the videos bucket.
// The owner takes it over (probe, switch); the object then belongs to the
// camera and is deleted with it or when another video replaces it.
type UploadRequest struct {
	Object       string `json:"object"`
	OriginalName string `json:"original_name"`
	// Size and Digest are what the edge put: the owner refuses an object
	// that differs. Zero and empty check nothing (an older edge).
	Size   int64  `json:"size,omitempty"`
	Digest string `json:"digest,omitempty"`
}

// Reply is every owner reply: a view, an upload, or an error.
type Reply struct {
	View   *camera.View   `json:"view,omitempty"`
	Upload *camera.Upload `json:"upload,omitempty"`
	Error  *ReplyError    `json:"error,omitempty"`
}

// ReplyError is an error with its media.Kind's API code, so an edge
// answers with the status a single node would.
type ReplyError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// errorReply turns err into a reply error. Only a *media.Error's message
// reaches the client; anything else is internal.
func errorReply(err error) *ReplyError {
	var me *media.Error
	if errors.As(err, &me) {
		return &ReplyError{Code: me.Kind.Code(), Message: me.Message}
	}
	return &ReplyError{Code: media.KindInternal.Code(), Message: "internal error"}
}

// Err is the reply's error as a *media.Error (nil without one).
func (r Reply) Err() error {
	if r.Error == nil {
		return nil
	}
	for _, k := range media.Kinds() {
		if k.Code() == r.Error.Code {
			return media.Errorf(k, "%s", r.Error.Message)
		}
	}
	return media.Errorf(media.KindInternal, "%s", r.Error.Message)
}

// EventMessage is a camera event as the owner publishes it on
// livemon.event.<camera>.
type EventMessage struct {
	Kind camera.EventKind `json:"kind"`
	View camera.View      `json:"view"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own plain types are marshalled
	}
	return b
}
