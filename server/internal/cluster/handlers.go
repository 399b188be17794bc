package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
)

// Time limits of the owner's handlers. An upload fetches the video and
// probes it (the manager's ProbeTimeout, 30 s by default); an edge waits
// for its reply at least this long.
const (
	opTimeout     = 10 * time.Second
	UploadTimeout = 60 * time.Second
)

// errMoving answers a camera request while this node hands its cameras
// back: the camera will run on another ingest in a moment.
var errMoving = media.Errorf(media.KindCameraUnavailable, "the camera is moving to another ingest node; try again in a few seconds")

// begin registers a running handler; false once Run is handing back.
func (i *Ingest) begin() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.stopped {
		return false
	}
	i.handlers.Add(1)
	return true
}

// failure is the reply error for err; an error that is no media error
// (so the edge only says "internal error") is logged here, once.
func (i *Ingest) failure(err error) *ReplyError {
	var me *media.Error
	if !errors.As(err, &me) {
		i.log.Error("owner request failed", "err", err)
	}
	return errorReply(err)
}

func (i *Ingest) respond(m *nats.Msg, r Reply) {
	if err := m.Respond(mustJSON(r)); err != nil && !errors.Is(err, nats.ErrMsgNoReply) {
		i.log.Warn("reply to owner request", "subject", m.Subject, "err", err)
	}
}

// replyOf is the reply for a view or an error.
func replyOf(v camera.View, err error) Reply {
	if err != nil {
		return Reply{Error: errorReply(err)}
	}
	return Reply{View: &v}
}

// handleCam answers livemon.cam.<camera>.<op> for a camera this node
// holds.
func (i *Ingest) handleCam(id media.CameraID, m *nats.Msg) {
	if !i.begin() {
		// Handing back: the camera is about to move.
		i.respond(m, Reply{Error: errorReply(errMoving)})
		return
	}
	defer i.handlers.Done()
	cam, op, err := ParseCamOp(m.Subject)
	if err != nil || cam != id {
		i.respond(m, Reply{Error: errorReply(media.Errorf(media.KindNotFound, "unknown camera operation"))})
		return
	}
	var req CamRequest
	if len(m.Data) > 0 {
		if err := json.Unmarshal(m.Data, &req); err != nil {
			i.respond(m, Reply{Error: errorReply(media.Errorf(media.KindInvalid, "malformed request: %v", err))})
			return
		}
	}
	timeout := opTimeout
	if op == OpUpload {
		timeout = UploadTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cams := i.d.Manager
	var r Reply
	switch op {
	case OpUpdate:
		if req.Settings == nil {
			r = Reply{Error: errorReply(media.Errorf(media.KindInvalid, "update without settings"))}
			break
		}
		r = replyOf(cams.Update(ctx, id, *req.Settings))
	case OpStart:
		r = replyOf(cams.Start(ctx, id))
	case OpStop:
		r = replyOf(cams.Stop(ctx, id))
	case OpRestart:
		r = replyOf(cams.Restart(ctx, id))
	case OpDelete:
		if err := i.deleteCamera(ctx, id); err != nil {
			r = Reply{Error: i.failure(err)}
		}
	case OpHeld:
		i.respond(m, Reply{})
		return
	case OpUpload:
		u, err := i.upload(ctx, id, req.Upload)
		if err != nil {
			r = Reply{Error: i.failure(err)}
		} else {
			r = Reply{Upload: &u}
		}
	}
	if r.Error == nil && op != OpDelete {
		if err := i.mirror(ctx, id); err != nil {
			i.log.Warn("write camera record", "camera", id, "err", err)
		}
	}
	if op == OpDelete {
		i.replace() // before the answer: the edge's next create sees the room
	}
	i.respond(m, r)
}

// handleCreate answers livemon.api.create: it takes the new camera's lease
// first (so no other ingest adopts its record), then creates the record
// (a conflict if the camera exists), then the camera.
func (i *Ingest) handleCreate(m *nats.Msg) {
	if !i.begin() {
		return
	}
	defer i.handlers.Done()
	var req CreateRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		i.respond(m, Reply{Error: errorReply(media.Errorf(media.KindInvalid, "malformed request: %v", err))})
		return
	}
	timeout := opTimeout
	if req.Upload != nil {
		timeout = UploadTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r, err := i.create(ctx, req)
	if err != nil {
		r = Reply{Error: i.failure(err)}
	}
	i.replace() // before the answer: the edge's next create sees the change
	i.respond(m, r)
}

// errAllFull answers SubjectAPIFull: an edge found no ingest with room.
var errAllFull = media.Errorf(media.KindCameraLimit,
	"every ingest node has reached its limit of cameras: delete one first (or raise --max-cameras, or add an ingest node)")

// handleFull answers SubjectAPIFull while this node has no room.
func (i *Ingest) handleFull(m *nats.Msg) {
	i.respond(m, Reply{Error: errorReply(errAllFull)})
}

func (i *Ingest) create(ctx context.Context, req CreateRequest) (Reply, error) {
	// Full since the edge sent it: camera_limit, which the edge passes on
	// to another ingest, before anything else.
	if err := i.d.Manager.Room(); err != nil {
		return Reply{}, err
	}
	id, err := media.ParseCameraID(string(req.ID))
	if err != nil {
		return Reply{}, err
	}
	exists := media.Errorf(media.KindConflict, "camera %q already exists or is being created or deleted", id)
	ok, err := i.leases.acquire(ctx, id)
	if err != nil {
		return Reply{}, err
	}
	if !ok {
		return Reply{}, exists
	}
	// Above every epoch of a deleted camera with this id (epochs.go).
	floor, _, err := epochFloor(ctx, i.d.Epochs, id)
	if err == nil && floor > 0 {
		err = i.d.Store.RaiseEpochFloor(ctx, id, floor)
	}
	if err != nil {
		i.releaseLease(id)
		return Reply{}, err
	}
	now := time.Now().UTC()
	placeholder := CameraRecord{ID: id, Name: string(id), Loop: true, Speed: 1, CreatedAt: now, Owner: i.d.Node,
		View: camera.View{ID: id, Name: string(id), Loop: true, Speed: 1, State: media.StateStopped}}
	rev, err := i.d.Cameras.Create(ctx, string(id), mustJSON(placeholder))
	if err != nil {
		i.releaseLease(id)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return Reply{}, exists
		}
		return Reply{}, fmt.Errorf("create record of camera %q: %w", id, err)
	}
	if err := i.hold(id, rev, nil); err != nil {
		i.undoCreate(id, rev)
		return Reply{}, err
	}
	var r Reply
	if req.Upload != nil {
		var u camera.Upload
		if u, err = i.upload(ctx, id, req.Upload); err == nil {
			r.Upload = &u
		}
	} else {
		var v camera.View
		if v, err = i.d.Manager.Create(ctx, id, req.Settings); err == nil {
			r.View = &v
		}
	}
	if err != nil {
		i.undoCreate(id, rev)
		return Reply{}, err
	}
	if err := i.mirror(ctx, id); err != nil {
		i.log.Warn("write new camera's record", "camera", id, "err", err)
	}
	return r, nil
}

// undoCreate takes back a camera whose creation failed.
func (i *Ingest) undoCreate(id media.CameraID, rev uint64) {
	i.unhold(id)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := i.d.Cameras.Delete(ctx, string(id), jetstream.LastRevision(rev)); err != nil {
		i.log.Warn("remove record of camera not created", "camera", id, "err", err)
	}
	i.releaseLease(id)
}

// deleteCamera deletes a held camera everywhere: here (the manager's
// Delete, heard by every Forgetter of this node), its record, its video
// object and its lease. Edges forget it when they see the record go.
func (i *Ingest) deleteCamera(ctx context.Context, id media.CameraID) error {
	// The floor first: a camera created again with the id, anywhere,
	// starts above this one's epoch (epochs.go). Requests on a camera are
	// handled one at a time, so the epoch does not move meanwhile.
	r, err := i.d.Manager.Record(id)
	if err != nil {
		return err
	}
	if err := raiseEpochFloor(ctx, i.d.Epochs, id, r.Camera.Epoch); err != nil {
		return err
	}
	if err := i.d.Manager.Delete(ctx, id); err != nil {
		return err
	}
	h := i.unhold(id)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var opts []jetstream.KVDeleteOpt
	if h != nil {
		opts = append(opts, jetstream.LastRevision(h.rev))
	}
	if err := i.d.Cameras.Delete(dctx, string(id), opts...); err != nil {
		i.log.Warn("delete camera record", "camera", id, "err", err)
	}
	if h != nil && h.video != nil {
		i.deleteObject(dctx, id, h.video.Object)
	}
	i.releaseLease(id)
	return nil
}

func (i *Ingest) deleteObject(ctx context.Context, id media.CameraID, object string) {
	if err := i.d.Videos.Delete(ctx, object); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		i.log.Warn("delete video object", "camera", id, "object", object, "err", err)
	}
}

// upload switches a held camera (or one being created) to a video an edge
// put into the videos bucket, as PublishUpload does on a single node. The
// object becomes the camera's; a refused one is deleted, and the object
// of the video it replaces too.
func (i *Ingest) upload(ctx context.Context, id media.CameraID, up *UploadRequest) (camera.Upload, error) {
	if up == nil || up.Object == "" {
		return camera.Upload{}, media.Errorf(media.KindInvalid, "upload without a video object")
	}
	size := int64(-1)
	if up.Size > 0 {
		size = up.Size
	}
	tf, info, err := fetchVideo(ctx, i.d.Videos, i.d.Store, up.Object, size, up.Digest)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return camera.Upload{}, media.Errorf(media.KindInvalid, "the uploaded video is gone")
	}
	if err != nil {
		i.deleteObject(context.WithoutCancel(ctx), id, up.Object)
		return camera.Upload{}, err
	}
	u, err := i.d.Manager.PublishUpload(ctx, id, tf, up.OriginalName)
	if err != nil {
		i.deleteObject(context.WithoutCancel(ctx), id, up.Object)
		return camera.Upload{}, err
	}
	vr := &VideoRecord{
		Upload: u.ID, Object: up.Object, Name: store.SanitizeName(up.OriginalName),
		Ext:  store.SanitizeExt(strings.ToLower(filepath.Ext(up.OriginalName))),
		Size: int64(info.Size), Digest: info.Digest, Info: u.Probe, Duration: u.Probe.Duration,
	}
	var old *VideoRecord
	i.mu.Lock()
	if h := i.held[id]; h != nil {
		old, h.video = h.video, vr
	}
	i.mu.Unlock()
	if err := i.mirror(ctx, id); err != nil {
		i.log.Warn("write camera record after upload", "camera", id, "err", err)
	}
	if old != nil && old.Object != up.Object {
		i.deleteObject(context.WithoutCancel(ctx), id, old.Object)
	}
	return u, nil
}
