package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
)

// OwnerCameras is what the owner side needs of the camera manager;
// *camera.Manager implements it.
type OwnerCameras interface {
	List() []camera.View
	Get(media.CameraID) (camera.View, error)
	Create(context.Context, media.CameraID, camera.Settings) (camera.View, error)
	Update(context.Context, media.CameraID, camera.Settings) (camera.View, error)
	Delete(context.Context, media.CameraID) error
	Start(context.Context, media.CameraID) (camera.View, error)
	Stop(context.Context, media.CameraID) (camera.View, error)
	Restart(context.Context, media.CameraID) (camera.View, error)
	PublishUpload(ctx context.Context, id media.CameraID, tf *store.TempFile, originalName string) (camera.Upload, error)
	Subscribe() (<-chan camera.Event, func())
}

var _ OwnerCameras = (*camera.Manager)(nil)

// Owner timing.
const (
	// RecordInterval is how often the owner refreshes the camera records
	// (their view's position, seq and fps) besides writing them on every
	// event.
	RecordInterval = time.Second
	// opTimeout bounds one forwarded operation on the owner; uploads get
	// uploadTimeout (fetching the object and probing it).
	opTimeout     = 30 * time.Second
	uploadTimeout = 5 * time.Minute
)

// Owner is a minimal owner side of the camera API: it answers the
// requests edges forward (SubjectAPICreate and CamOpSubject, both in
// queue group QueueIngest) by calling its camera manager, publishes the
// manager's events on EventSubject and writes every camera's record in
// BucketCameras. It owns every camera of its manager, so it suits a
// cluster with one ingest node; camera ownership with leases across
// several ingest nodes replaces it.
type Owner struct {
	conn    *Conn
	cams    OwnerCameras
	newTemp func() (*store.TempFile, error)
	log     *slog.Logger

	mu      sync.Mutex
	uploads map[media.CameraID]string // object name of each camera's video
	subs    []*nats.Subscription
	closed  bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// NewOwner starts answering for cams. newTemp creates the temp file an
// uploaded object is copied into (store.Store.CreateTemp). Close stops it.
func NewOwner(c *Conn, cams OwnerCameras, newTemp func() (*store.TempFile, error), log *slog.Logger) (*Owner, error) {
	if log == nil {
		log = slog.Default()
	}
	o := &Owner{conn: c, cams: cams, newTemp: newTemp, log: log, uploads: map[media.CameraID]string{}}
	o.ctx, o.cancel = context.WithCancel(context.Background())
	events, stop := cams.Subscribe()
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		defer stop()
		o.records(events)
	}()
	for subj, h := range map[string]nats.MsgHandler{SubjectAPICreate: o.onCreate, CamOpWildcard: o.onOp} {
		s, err := c.nc.QueueSubscribe(subj, QueueIngest, h)
		if err != nil {
			o.Close()
			return nil, fmt.Errorf("subscribe %s: %w", subj, err)
		}
		o.subs = append(o.subs, s)
	}
	if err := c.nc.Flush(); err != nil {
		o.Close()
		return nil, fmt.Errorf("subscribe camera API: %w", err)
	}
	return o, nil
}

// Close stops answering and waits for requests in flight.
func (o *Owner) Close() {
	o.mu.Lock()
	o.closed = true
	subs := o.subs
	o.subs = nil
	o.mu.Unlock()
	for _, s := range subs {
		_ = s.Unsubscribe()
	}
	o.cancel()
	o.wg.Wait()
}

// records writes every camera's record now, on each event and every
// RecordInterval, and publishes events, until the Owner closes.
func (o *Owner) records(events <-chan camera.Event) {
	tick := time.NewTicker(RecordInterval)
	defer tick.Stop()
	for _, v := range o.cams.List() {
		o.putRecord(v)
	}
	for {
		select {
		case <-o.ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if err := o.conn.nc.Publish(EventSubject(ev.Camera), marshal(EventJSON{Kind: ev.Kind, View: ViewToJSON(ev.View)})); err != nil {
				o.log.Warn("publish camera event", "camera", ev.Camera, "err", err)
			}
			if ev.Kind == camera.EventDeleted {
				if err := o.conn.Cameras.Delete(o.ctx, string(ev.Camera)); err != nil && o.ctx.Err() == nil {
					o.log.Warn("delete camera record", "camera", ev.Camera, "err", err)
				}
				continue
			}
			o.putRecord(ev.View)
		case <-tick.C:
			for _, v := range o.cams.List() {
				o.putRecord(v)
			}
		}
	}
}

func (o *Owner) putRecord(v camera.View) {
	o.mu.Lock()
	up := o.uploads[v.ID]
	o.mu.Unlock()
	rec := CameraRecord{
		ID: v.ID, Owner: o.conn.name, Name: v.Name, Loop: v.Loop, Speed: v.Speed, Grid: v.GridOwn,
		Kind: v.Source.Kind, Epoch: v.Epoch, Seq: v.Seq, Upload: up, Updated: time.Now(), View: ViewToJSON(v),
	}
	if _, err := o.conn.Cameras.Put(o.ctx, string(v.ID), marshal(rec)); err != nil && o.ctx.Err() == nil {
		o.log.Warn("write camera record", "camera", v.ID, "err", err)
	}
}

// handle runs fn for m in its own goroutine (an upload takes a while) and
// sends its reply.
func (o *Owner) handle(m *nats.Msg, timeout time.Duration, fn func(ctx context.Context, req Request) Reply) {
	var req Request
	if err := json.Unmarshal(m.Data, &req); err != nil {
		o.respond(m, ErrorReply(media.Errorf(media.KindInvalid, "bad cluster request: %v", err)))
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		ctx, cancel := context.WithTimeout(o.ctx, timeout)
		defer cancel()
		o.respond(m, fn(ctx, req))
	}()
}

func (o *Owner) respond(m *nats.Msg, r Reply) {
	if err := m.Respond(marshal(r)); err != nil {
		o.log.Warn("answer camera request", "subject", m.Subject, "err", err)
	}
}

func viewReply(v camera.View, err error) Reply {
	if err != nil {
		return ErrorReply(err)
	}
	j := ViewToJSON(v)
	return Reply{View: &j}
}

func (o *Owner) onCreate(m *nats.Msg) {
	o.handle(m, uploadTimeout, func(ctx context.Context, req Request) Reply {
		id, err := media.ParseCameraID(string(req.Camera))
		if err != nil {
			return ErrorReply(err)
		}
		if req.Op == OpUpload {
			return o.upload(ctx, id, req)
		}
		var s camera.Settings
		if req.Settings != nil {
			s = req.Settings.Settings()
		}
		return viewReply(o.cams.Create(ctx, id, s))
	})
}

func (o *Owner) onOp(m *nats.Msg) {
	cam, op, err := ParseCamOp(m.Subject)
	if err != nil {
		o.respond(m, ErrorReply(media.Errorf(media.KindInvalid, "%v", err)))
		return
	}
	timeout := opTimeout
	if op == OpUpload {
		timeout = uploadTimeout
	}
	o.handle(m, timeout, func(ctx context.Context, req Request) Reply {
		var s camera.Settings
		if req.Settings != nil {
			s = req.Settings.Settings()
		}
		switch op {
		case OpUpdate:
			return viewReply(o.cams.Update(ctx, cam, s))
		case OpDelete:
			if err := o.cams.Delete(ctx, cam); err != nil {
				return ErrorReply(err)
			}
			return Reply{}
		case OpStart:
			return viewReply(o.cams.Start(ctx, cam))
		case OpStop:
			return viewReply(o.cams.Stop(ctx, cam))
		case OpRestart:
			return viewReply(o.cams.Restart(ctx, cam))
		default: // OpUpload
			return o.upload(ctx, cam, req)
		}
	})
}

// upload copies the object an edge stored into a temp file and switches
// the camera to it.
func (o *Owner) upload(ctx context.Context, cam media.CameraID, req Request) Reply {
	obj, err := o.conn.Videos.Get(ctx, req.Object)
	if err != nil {
		return ErrorReply(media.WrapError(media.KindInvalid, err, "uploaded video not found"))
	}
	defer obj.Close()
	tf, err := o.newTemp()
	if err != nil {
		return ErrorReply(err)
	}
	if _, err := io.Copy(tf, obj); err != nil {
		tf.Abort()
		return ErrorReply(fmt.Errorf("fetch uploaded video: %w", err))
	}
	up, err := o.cams.PublishUpload(ctx, cam, tf, req.FileName)
	if err != nil {
		return ErrorReply(err)
	}
	o.mu.Lock()
	o.uploads[cam] = req.Object
	o.mu.Unlock()
	return Reply{Upload: &UploadJSON{ID: up.ID, Probe: up.Probe, Duration: up.Probe.Duration, Camera: ViewToJSON(up.Camera)}}
}
