package cluster

import (
	"fmt"
	"strings"

	"github.com/livemon/livemon/server/internal/media"
)

// Subject names (prefix "livemon."). Camera ids are valid NATS tokens
// (media.ParseCameraID allows only [A-Za-z0-9_-]); renditions are "full"
// or "grid" ("" is written as "full").
const (
	// SubjectAPICreate is the request subject for creating a camera on
	// some ingest node (queue group QueueIngest).
	SubjectAPICreate = "livemon.api.create"
	// QueueIngest is the queue group of the ingest nodes' API handlers.
	// Only ingests with room for another camera (below --max-cameras)
	// are in it on SubjectAPICreate.
	QueueIngest = "livemon-ingest"
	// SubjectAPIFull is answered (camera_limit) by the ingest nodes at
	// their --max-cameras (queue group QueueIngest), so an edge whose
	// create found nobody tells "every ingest is full" from "no ingest".
	SubjectAPIFull = "livemon.api.full"
)

// Bucket names.
const (
	BucketCameras  = "livemon-cameras"
	BucketOwners   = "livemon-owners"
	BucketSessions = "livemon-sessions"
	// BucketEpochs keeps each deleted camera id's last epoch (its epoch
	// floor), so a camera created again with the id, on any ingest,
	// starts above every epoch a viewer saw for it.
	BucketEpochs = "livemon-epochs"
	BucketVideos = "livemon-videos"
)

// Op is a camera operation forwarded to the camera's owner on
// CamOpSubject.
type Op string

// The operations an edge forwards to a camera's owner.
const (
	OpUpdate  Op = "update"
	OpDelete  Op = "delete"
	OpStart   Op = "start"
	OpStop    Op = "stop"
	OpRestart Op = "restart"
	OpUpload  Op = "upload"
	// OpHeld asks whether some node runs the camera (any answer: yes). An
	// ingest asks it before taking over a camera whose lease lapsed; edges
	// never send it.
	OpHeld Op = "held"
)

// FrameSubject is where the owner publishes (cam, r) frames.
func FrameSubject(cam media.CameraID, r media.Rendition) string {
	return "livemon.frame." + string(cam) + "." + string(r.OrFull())
}

// WantSubject is where edges announce interest in (cam, r).
func WantSubject(cam media.CameraID, r media.Rendition) string {
	return "livemon.want." + string(cam) + "." + string(r.OrFull())
}

// WantWildcard matches every WantSubject.
const WantWildcard = "livemon.want.*.*"

// LatestSubject is the request subject for the owner's newest (cam, r)
// frame.
func LatestSubject(cam media.CameraID, r media.Rendition) string {
	return "livemon.latest." + string(cam) + "." + string(r.OrFull())
}

// LatestWildcard matches every LatestSubject.
const LatestWildcard = "livemon.latest.*.*"

// EventSubject is where the owner publishes cam's events.
func EventSubject(cam media.CameraID) string { return "livemon.event." + string(cam) }

// EventWildcard matches every EventSubject.
const EventWildcard = "livemon.event.*"

// CamOpSubject is the request subject of op on cam, answered by cam's
// owner.
func CamOpSubject(cam media.CameraID, op Op) string {
	return "livemon.cam." + string(cam) + "." + string(op)
}

// CamOpWildcard matches every CamOpSubject.
const CamOpWildcard = "livemon.cam.*.*"

// ParseCamRendition reads the camera and rendition of a subject
// "livemon.<kind>.<camera>.<rendition>" (frame, want, latest).
func ParseCamRendition(subject string) (media.CameraID, media.Rendition, error) {
	parts := strings.Split(subject, ".")
	if len(parts) != 4 || parts[0] != "livemon" {
		return "", "", fmt.Errorf("subject %q: want livemon.<kind>.<camera>.<rendition>", subject)
	}
	cam, err := media.ParseCameraID(parts[2])
	if err != nil {
		return "", "", fmt.Errorf("subject %q: %w", subject, err)
	}
	r, err := media.ParseRendition(parts[3])
	if err != nil {
		return "", "", fmt.Errorf("subject %q: %w", subject, err)
	}
	return cam, r, nil
}

// ParseCamOp reads the camera and op of a CamOpSubject.
func ParseCamOp(subject string) (media.CameraID, Op, error) {
	parts := strings.Split(subject, ".")
	if len(parts) != 4 || parts[0] != "livemon" || parts[1] != "cam" {
		return "", "", fmt.Errorf("subject %q: want livemon.cam.<camera>.<op>", subject)
	}
	cam, err := media.ParseCameraID(parts[2])
	if err != nil {
		return "", "", fmt.Errorf("subject %q: %w", subject, err)
	}
	switch op := Op(parts[3]); op {
	case OpUpdate, OpDelete, OpStart, OpStop, OpRestart, OpUpload, OpHeld:
		return cam, op, nil
	}
	return "", "", fmt.Errorf("subject %q: unknown op %q", subject, parts[3])
}
