package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
)

// requestTimeout bounds a forwarded camera operation; uploads (the owner
// fetches and probes the video) get uploadTimeout.
const (
	requestTimeout = 30 * time.Second
	// uploadTimeout outlasts the owner's own UploadTimeout, so its answer
	// (success or error) arrives.
	uploadTimeout = UploadTimeout + 5*time.Second
)

// EdgeCameras is an edge's view of the cluster's cameras, and what its
// HTTP layer uses in place of a camera manager. Its read model follows
// BucketCameras (watched) and the owners' events (EventWildcard), which it
// passes on to its own listeners (Subscribe). Writes are forwarded to
// the owner: Create on SubjectAPICreate, the rest on CamOpSubject; the
// owner's error kinds come back, so the HTTP status is a single node's.
// An upload is streamed into BucketVideos first. Every camera it knows is
// fed into the edge's hub by a Feeder.
type EdgeCameras struct {
	conn *Conn
	hub  *hub.Hub
	feed *Feeder
	log  *slog.Logger

	mu         sync.Mutex
	cams       map[media.CameraID]*edgeCam
	order      uint64
	listeners  map[chan camera.Event]struct{}
	forgetters []camera.Forgetter
	closed     bool

	watcher  jetstream.KeyWatcher
	eventSub *nats.Subscription
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	// opTimeout and uploadOpTimeout bound forwarded writes (tests shorten
	// them).
	opTimeout, uploadOpTimeout time.Duration
}

type edgeCam struct {
	view    camera.View
	created time.Time // from the record: List's order
	order   uint64    // first seen, for List's order before the record
}

// initialTimeout bounds reading the camera records at start.
const initialTimeout = 15 * time.Second

// NewEdgeCameras loads the camera records and starts following them.
// Close stops it.
func NewEdgeCameras(ctx context.Context, c *Conn, h *hub.Hub, log *slog.Logger) (*EdgeCameras, error) {
	if log == nil {
		log = slog.Default()
	}
	e := &EdgeCameras{
		conn: c, hub: h, feed: NewFeeder(c, h, log), log: log,
		cams: map[media.CameraID]*edgeCam{}, listeners: map[chan camera.Event]struct{}{},
		opTimeout: requestTimeout, uploadOpTimeout: uploadTimeout,
	}
	var wctx context.Context
	wctx, e.cancel = context.WithCancel(context.Background())
	w, err := c.Cameras.WatchAll(wctx)
	if err != nil {
		e.cancel()
		e.feed.Close()
		return nil, fmt.Errorf("watch camera records: %w", err)
	}
	e.watcher = w
	// The initial values end with a nil entry.
	timeout := time.NewTimer(initialTimeout)
	defer timeout.Stop()
initial:
	for {
		select {
		case ent, ok := <-w.Updates():
			if !ok || ent == nil {
				break initial
			}
			e.onRecord(ent)
		case <-ctx.Done():
			e.Close()
			return nil, ctx.Err()
		case <-timeout.C:
			e.Close()
			return nil, errors.New("read camera records: timed out")
		}
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for ent := range w.Updates() {
			if ent != nil {
				e.onRecord(ent)
			}
		}
	}()
	e.eventSub, err = c.nc.Subscribe(EventWildcard, e.onEvent)
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("subscribe camera events: %w", err)
	}
	return e, nil
}

// AddForgetter registers f to hear about deleted cameras, as
// camera.Manager.AddForgetter does. Call it before serving.
func (e *EdgeCameras) AddForgetter(f camera.Forgetter) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.forgetters = append(e.forgetters, f)
}

// Close stops following the cameras and feeding the hub, and ends the
// listeners' channels.
func (e *EdgeCameras) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	for ch := range e.listeners {
		close(ch)
	}
	e.listeners = nil
	e.mu.Unlock()
	if e.eventSub != nil {
		_ = e.eventSub.Unsubscribe()
	}
	if e.watcher != nil {
		_ = e.watcher.Stop()
	}
	e.cancel()
	e.wg.Wait()
	e.feed.Close()
}

func (e *EdgeCameras) onRecord(ent jetstream.KeyValueEntry) {
	id, err := media.ParseCameraID(ent.Key())
	if err != nil {
		return
	}
	if ent.Operation() != jetstream.KeyValuePut {
		e.remove(id, true)
		return
	}
	var rec CameraRecord
	if err := json.Unmarshal(ent.Value(), &rec); err != nil {
		e.log.Warn("bad camera record", "camera", id, "err", err)
		return
	}
	v := rec.View
	v.ID = id
	e.set(v, rec.CreatedAt)
}

func (e *EdgeCameras) onEvent(m *nats.Msg) {
	var ev EventMessage
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		e.log.Warn("bad camera event", "subject", m.Subject, "err", err)
		return
	}
	v := ev.View
	if _, err := media.ParseCameraID(string(v.ID)); err != nil {
		return
	}
	if ev.Kind == camera.EventDeleted {
		e.remove(v.ID, true)
		return
	}
	if ev.Kind == camera.EventEpoch {
		// Like a single node: a viewer arriving now must not get a frame
		// of the replaced run.
		if f := e.hub.Latest(v.ID); f != nil && f.Epoch < v.Epoch {
			e.hub.Reset(v.ID)
		}
	}
	e.set(v, time.Time{})
	e.emit(camera.Event{Kind: ev.Kind, Camera: v.ID, View: e.local(v)})
}

// set stores v as the camera's view (and its creation time, unless
// zero), starting its feed if it is new.
func (e *EdgeCameras) set(v camera.View, created time.Time) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	c := e.cams[v.ID]
	isNew := c == nil
	if isNew {
		e.order++
		c = &edgeCam{order: e.order}
		e.cams[v.ID] = c
	}
	c.view = v
	if !created.IsZero() {
		c.created = created
	}
	e.mu.Unlock()
	if isNew {
		e.feed.Add(v.ID)
	}
}

// remove forgets a deleted camera everywhere on this edge; emit sends the
// deleted event to the listeners.
func (e *EdgeCameras) remove(id media.CameraID, emit bool) {
	e.mu.Lock()
	c := e.cams[id]
	delete(e.cams, id)
	fs := append([]camera.Forgetter(nil), e.forgetters...)
	e.mu.Unlock()
	if c == nil {
		return
	}
	e.feed.Remove(id)
	e.hub.Remove(id)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	for _, f := range fs {
		if err := f.ForgetCamera(ctx, id); err != nil {
			e.log.Warn("forget deleted camera", "camera", id, "err", err)
		}
	}
	if emit {
		e.emit(camera.Event{Kind: camera.EventDeleted, Camera: id, View: c.view})
	}
}

func (e *EdgeCameras) emit(ev camera.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for ch := range e.listeners {
		select {
		case ch <- ev:
		default: // a listener that falls behind loses events
		}
	}
}

// Subscribe returns the camera events and a function that ends them, as
// camera.Manager.Subscribe.
func (e *EdgeCameras) Subscribe() (<-chan camera.Event, func()) {
	ch := make(chan camera.Event, 64)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		close(ch)
		return ch, func() {}
	}
	e.listeners[ch] = struct{}{}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			e.mu.Lock()
			defer e.mu.Unlock()
			if _, ok := e.listeners[ch]; ok {
				delete(e.listeners, ch)
				close(ch)
			}
		})
	}
}

// local fills in what a view has only on this node: the hub channel and
// viewers, and the seq and position of the newest frame the hub holds
// when it is newer than the record (records are refreshed every
// RecordInterval, frames arrive continuously).
func (e *EdgeCameras) local(v camera.View) camera.View {
	v.Channel = e.hub.Channel(v.ID)
	v.Viewers = map[string]int{}
	if st, ok := e.hub.Stats(v.ID); ok {
		v.Viewers = st.Viewers
		v = newerPosition(v, st.Latest)
	}
	return v
}

// newerPosition moves v's seq and position to f's when f is a newer frame
// of the same run.
func newerPosition(v camera.View, f *media.Frame) camera.View {
	if f != nil && f.Epoch == v.Epoch && f.Seq > v.Seq {
		v.Seq, v.Position = f.Seq, f.PTS.Seconds()
	}
	return v
}

// peekTimeout bounds Get's request for the owner's newest frame.
const peekTimeout = 300 * time.Millisecond

// peek asks the owner for the camera's newest full frame without feeding
// the hub: nil if there is none or no answer in time.
func (e *EdgeCameras) peek(id media.CameraID) *media.Frame {
	ctx, cancel := context.WithTimeout(context.Background(), peekTimeout)
	defer cancel()
	m, err := e.conn.nc.RequestWithContext(ctx, LatestSubject(id, media.RenditionFull), nil)
	if err != nil || len(m.Data) == 0 {
		return nil
	}
	f, err := DecodeFrame(id, media.RenditionFull, m.Data)
	if err != nil {
		return nil
	}
	return f
}

// List returns every camera in the order they were created.
func (e *EdgeCameras) List() []camera.View {
	e.mu.Lock()
	cs := make([]edgeCam, 0, len(e.cams))
	for _, c := range e.cams {
		cs = append(cs, *c) // a copy: set writes them under e.mu
	}
	e.mu.Unlock()
	sort.Slice(cs, func(i, j int) bool {
		if !cs[i].created.Equal(cs[j].created) {
			return cs[i].created.Before(cs[j].created)
		}
		return cs[i].order < cs[j].order
	})
	out := make([]camera.View, 0, len(cs))
	for _, c := range cs {
		out = append(out, e.local(c.view))
	}
	return out
}

func errNoCamera(id media.CameraID) error {
	return media.Errorf(media.KindNotFound, "camera %q does not exist", id)
}

// Get returns one camera.
func (e *EdgeCameras) Get(id media.CameraID) (camera.View, error) {
	e.mu.Lock()
	c := e.cams[id]
	var view camera.View
	if c != nil {
		view = c.view // set writes it under e.mu
	}
	e.mu.Unlock()
	if c == nil {
		return camera.View{}, errNoCamera(id)
	}
	v := e.local(view)
	if v.State == media.StateRunning && e.hub.Latest(id) == nil {
		// Nobody watches it here: the record may be seconds old, and a
		// resuming session's skipped count is computed from this seq.
		v = newerPosition(v, e.peek(id))
	}
	return v, nil
}

// Stats returns the cameras with this edge's hub counters.
func (e *EdgeCameras) Stats() []camera.Stats {
	views := e.List()
	out := make([]camera.Stats, 0, len(views))
	for _, v := range views {
		cs := camera.Stats{View: v, Drops: map[string]uint64{}}
		if st, ok := e.hub.Stats(v.ID); ok {
			cs.Drops, cs.Published = st.Drops, st.Published
		}
		out = append(out, cs)
	}
	return out
}

// Supervising reports whether the edge is connected to NATS.
func (e *EdgeCameras) Supervising() bool { return e.conn.nc.IsConnected() }

// request sends req to subject and decodes the reply. No responder, or
// none in time, is errUnavailable (503 camera_unavailable with
// Retry-After): no ingest node serves the camera right now, as while it
// moves to another one.
func (e *EdgeCameras) request(ctx context.Context, subject string, req any, timeout time.Duration) (Reply, error) {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := e.conn.nc.RequestWithContext(rctx, subject, mustJSON(req))
	if errors.Is(err, nats.ErrNoResponders) {
		return Reply{}, errUnavailable
	}
	if err != nil {
		if ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)) {
			return Reply{}, media.WrapError(media.KindCameraUnavailable, err, "the camera's ingest node did not answer in time; try again in a few seconds")
		}
		return Reply{}, fmt.Errorf("forward camera request: %w", err)
	}
	var r Reply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return Reply{}, fmt.Errorf("forward camera request: bad reply: %w", err)
	}
	return r, r.Err()
}

var errUnavailable = media.Errorf(media.KindCameraUnavailable, "no ingest node serves this camera right now; try again in a few seconds")

// viewOp forwards a request whose reply is a view and applies the view
// at once, so the caller reads its own write on this edge.
func (e *EdgeCameras) viewOp(r Reply, err error) (camera.View, error) {
	if err != nil {
		return camera.View{}, err
	}
	if r.View == nil {
		return camera.View{}, errors.New("forward camera request: reply without a view")
	}
	v := *r.View
	e.set(v, time.Time{})
	return e.local(v), nil
}

// camOp forwards op on id to the camera's owner. Nobody answering for a
// camera this edge does not know is a 404, as on a single node.
func (e *EdgeCameras) camOp(ctx context.Context, id media.CameraID, op Op, req CamRequest, timeout time.Duration) (Reply, error) {
	r, err := e.request(ctx, CamOpSubject(id, op), req, timeout)
	if errors.Is(err, errUnavailable) && !e.known(id) {
		return r, errNoCamera(id)
	}
	return r, err
}

// createAttempts bounds how often a create is passed on after landing on
// an ingest that filled up meanwhile (full ingests leave the queue group,
// so this is a race, not the rule).
const createAttempts = 4

// create asks some ingest node with room to create the camera
// (SubjectAPICreate, queue group QueueIngest, which only ingests below
// their --max-cameras join). An ingest that answers camera_limit filled
// up meanwhile: the request is passed on to another. Nobody in the queue
// group: either every ingest is full (one answers SubjectAPIFull:
// camera_limit) or none is there (camera_unavailable).
func (e *EdgeCameras) create(ctx context.Context, req CreateRequest, timeout time.Duration) (Reply, error) {
	var r Reply
	var err error
	for range createAttempts {
		r, err = e.request(ctx, SubjectAPICreate, req, timeout)
		if !media.IsKind(err, media.KindCameraLimit) {
			break
		}
	}
	if errors.Is(err, errUnavailable) {
		if _, ferr := e.request(ctx, SubjectAPIFull, struct{}{}, e.opTimeout); media.IsKind(ferr, media.KindCameraLimit) {
			return r, ferr
		}
	}
	return r, err
}

// Create creates a camera on some ingest node with room.
func (e *EdgeCameras) Create(ctx context.Context, id media.CameraID, s camera.Settings) (camera.View, error) {
	return e.viewOp(e.create(ctx, CreateRequest{ID: id, Settings: s}, e.opTimeout))
}

// Update changes a camera's settings on its owner.
func (e *EdgeCameras) Update(ctx context.Context, id media.CameraID, s camera.Settings) (camera.View, error) {
	return e.viewOp(e.camOp(ctx, id, OpUpdate, CamRequest{Settings: &s}, e.opTimeout))
}

// Start starts a camera on its owner.
func (e *EdgeCameras) Start(ctx context.Context, id media.CameraID) (camera.View, error) {
	return e.viewOp(e.camOp(ctx, id, OpStart, CamRequest{}, e.opTimeout))
}

// Stop stops a camera on its owner.
func (e *EdgeCameras) Stop(ctx context.Context, id media.CameraID) (camera.View, error) {
	return e.viewOp(e.camOp(ctx, id, OpStop, CamRequest{}, e.opTimeout))
}

// Restart restarts a camera on its owner (a new epoch).
func (e *EdgeCameras) Restart(ctx context.Context, id media.CameraID) (camera.View, error) {
	return e.viewOp(e.camOp(ctx, id, OpRestart, CamRequest{}, e.opTimeout))
}

// Delete deletes a camera on its owner, then forgets it here.
func (e *EdgeCameras) Delete(ctx context.Context, id media.CameraID) error {
	if _, err := e.camOp(ctx, id, OpDelete, CamRequest{}, e.opTimeout); err != nil {
		return err
	}
	e.remove(id, true)
	return nil
}

func (e *EdgeCameras) known(id media.CameraID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cams[id] != nil
}

// PublishUpload streams a fully received temp file into BucketVideos and
// asks the camera's owner (any ingest node for a camera that does not
// exist yet) to switch to it. The temp file is removed either way.
func (e *EdgeCameras) PublishUpload(ctx context.Context, id media.CameraID, tf *store.TempFile, originalName string) (camera.Upload, error) {
	defer tf.Abort()
	f, err := os.Open(tf.Path())
	if err != nil {
		return camera.Upload{}, fmt.Errorf("read upload: %w", err)
	}
	defer f.Close()
	object := string(id) + "-" + NewObjectID()
	info, err := e.conn.Videos.Put(ctx, jetstream.ObjectMeta{Name: object}, f)
	if err != nil {
		return camera.Upload{}, fmt.Errorf("store upload in the cluster: %w", err)
	}
	up := &UploadRequest{Object: object, OriginalName: originalName, Size: int64(info.Size), Digest: info.Digest}
	r, err := e.camOp(ctx, id, OpUpload, CamRequest{Upload: up}, e.uploadOpTimeout)
	if media.IsKind(err, media.KindNotFound) && !e.known(id) {
		r, err = e.create(ctx, CreateRequest{ID: id, Upload: up}, e.uploadOpTimeout)
	}
	if err == nil && r.Upload == nil {
		err = errors.New("forward upload: reply without an upload")
	}
	if err != nil {
		// The owner keeps the objects it switched to; this one is unused.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = e.conn.Videos.Delete(dctx, object)
		cancel()
		return camera.Upload{}, err
	}
	u := *r.Upload
	e.set(u.Camera, time.Time{})
	u.Camera = e.local(u.Camera)
	if u.Probe.Duration == 0 && u.Probe.FPS > 0 {
		// media.VideoInfo leaves its Duration out of JSON.
		u.Probe.Duration = time.Duration(float64(u.Probe.Frames) / u.Probe.FPS * float64(time.Second))
	}
	return u, nil
}

// NewObjectID returns a random name part for an object in BucketVideos.
func NewObjectID() string {
	var b [12]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}
