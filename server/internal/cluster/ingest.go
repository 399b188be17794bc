package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
)

// adoptRetry is how long an ingest leaves a camera alone after failing to
// adopt it (a broken video object, no room), so another ingest can try.
const adoptRetry = 10 * time.Second

// IngestDeps are what an ingest node works with.
type IngestDeps struct {
	Node    string // this node's id, unique in the cluster
	Conn    *nats.Conn
	Cameras jetstream.KeyValue    // livemon-cameras
	Owners  jetstream.KeyValue    // livemon-owners (TTL OwnerLeaseTTL)
	Epochs  jetstream.KeyValue    // livemon-epochs (epoch floors of deleted cameras)
	Videos  jetstream.ObjectStore // livemon-videos
	Manager *camera.Manager       // runs the cameras this node holds
	Store   *store.Store          // the manager's store (temp files for videos)
	Logger  *slog.Logger
}

// Ingest runs this node's share of the cluster's cameras. It takes every
// camera whose lease nobody holds (adopting it from its record, same epoch,
// continuing at its checkpoint), renews its leases, mirrors its cameras'
// checkpoints and changes to their records, answers the owner API for them
// (livemon.cam.<camera>.<op>) and creates cameras (livemon.api.create).
// A lease it loses stops its camera at once; when Run ends it hands every
// camera back (final checkpoint, lease released) for another ingest.
//
// Goroutines: Run starts and waits for all of them (the two bucket
// watchers, the lease renewer, the adopter, the record mirror, the event
// relay). NATS subscription callbacks run on the client's goroutines and
// call the manager; they end when Run unsubscribes. Ingest.mu guards the
// maps below and is never held across NATS I/O or a manager call; wmu
// serialises record writes (each checks the revision of the previous).
type Ingest struct {
	d      IngestDeps
	log    *slog.Logger
	now    func() time.Time
	leases *leases
	wake   chan struct{} // the adopter: an owner went away
	flush  chan struct{} // the mirror: checkpoints arrived

	wmu      sync.Mutex
	handlers sync.WaitGroup // running request handlers

	// pmu guards the placement subscriptions: create (SubjectAPICreate in
	// the queue group) while this node has room for a camera, full
	// (SubjectAPIFull) while it has none; see place.
	pmu       sync.Mutex
	createSub *nats.Subscription
	fullSub   *nats.Subscription
	unplaced  bool

	mu      sync.Mutex
	known   map[media.CameraID]struct{}  // keys of the cameras bucket
	owners  map[media.CameraID]time.Time // keys of the owners bucket: when last written
	held    map[media.CameraID]*held     // cameras this node runs
	failed  map[media.CameraID]time.Time
	stopped bool
}

// held is a camera this node owns.
type held struct {
	rev   uint64       // revision of our last write of its record
	video *VideoRecord // its video's object, nil without one
	sub   *nats.Subscription
	dirty bool // a checkpoint to mirror
}

// NewIngest returns an ingest. Wire its ObserveCheckpoint into the
// manager's Deps.OnCheckpoint, then call Run.
func NewIngest(d IngestDeps) *Ingest {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &Ingest{
		d:      d,
		log:    d.Logger.With("node", d.Node),
		now:    time.Now,
		leases: newLeases(d.Owners, d.Node, d.Conn.IsConnected),
		wake:   make(chan struct{}, 1),
		flush:  make(chan struct{}, 1),
		known:  make(map[media.CameraID]struct{}),
		owners: make(map[media.CameraID]time.Time),
		held:   make(map[media.CameraID]*held),
		failed: make(map[media.CameraID]time.Time),
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// ObserveCheckpoint marks the camera's record for the mirror (camera
// Deps.OnCheckpoint). It never blocks.
func (i *Ingest) ObserveCheckpoint(cp camera.Checkpoint) {
	i.mu.Lock()
	h := i.held[cp.Camera]
	if h != nil {
		h.dirty = true
	}
	i.mu.Unlock()
	if h != nil {
		signal(i.flush)
	}
}

// Owns reports whether this node owns the camera (for the frame
// Publisher: only the owner publishes a camera's frames).
func (i *Ingest) Owns(id media.CameraID) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	_, ok := i.held[id]
	return ok
}

// Held lists the cameras this node owns.
func (i *Ingest) Held() []media.CameraID {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := make([]media.CameraID, 0, len(i.held))
	for id := range i.held {
		out = append(out, id)
	}
	return out
}

// Run works until ctx ends, then hands this node's cameras back and
// returns once every goroutine it started has.
func (i *Ingest) Run(ctx context.Context) error {
	camW, err := i.d.Cameras.WatchAll(ctx, jetstream.MetaOnly())
	if err != nil {
		return fmt.Errorf("watch cameras: %w", err)
	}
	ownW, err := i.d.Owners.WatchAll(ctx, jetstream.MetaOnly())
	if err != nil {
		_ = camW.Stop()
		return fmt.Errorf("watch owners: %w", err)
	}
	events, unsubscribe := i.d.Manager.Subscribe()
	if err := i.place(); err != nil {
		i.unplace()
		unsubscribe()
		_ = camW.Stop()
		_ = ownW.Stop()
		return err
	}

	var wg sync.WaitGroup
	run := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	run(func() { i.watch(ctx, camW, i.cameraChanged) })
	run(func() { i.watch(ctx, ownW, i.ownerChanged) })
	run(func() { i.renewLoop(ctx) })
	run(func() { i.adoptLoop(ctx) })
	run(func() { i.mirrorLoop(ctx) })
	run(func() { i.relayEvents(events) })

	<-ctx.Done()
	i.unplace()
	i.handBack()
	unsubscribe() // ends relayEvents
	_ = camW.Stop()
	_ = ownW.Stop()
	wg.Wait()
	i.handlers.Wait()
	return nil
}

// place keeps this node in the queue group of SubjectAPICreate while it
// has room for another camera (Manager.Room) and on SubjectAPIFull while
// it has none, so a create lands on an ingest with room and, when every
// ingest is full, the edge can say so. It runs whenever the number of
// cameras here may have changed and every LeaseRenew. The new
// subscription is made before the old one ends, so an edge never finds
// neither.
func (i *Ingest) place() error {
	full := i.d.Manager.Room() != nil
	i.pmu.Lock()
	defer i.pmu.Unlock()
	if i.unplaced {
		return nil
	}
	switch {
	case !full && i.createSub == nil:
		sub, err := i.d.Conn.QueueSubscribe(SubjectAPICreate, QueueIngest, i.handleCreate)
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", SubjectAPICreate, err)
		}
		i.createSub = sub
		if i.fullSub != nil {
			_ = i.fullSub.Unsubscribe()
			i.fullSub = nil
		}
	case full && i.fullSub == nil:
		sub, err := i.d.Conn.QueueSubscribe(SubjectAPIFull, QueueIngest, i.handleFull)
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", SubjectAPIFull, err)
		}
		i.fullSub = sub
		if i.createSub != nil {
			_ = i.createSub.Drain() // creates already here are answered
			i.createSub = nil
		}
	}
	return nil
}

// replace is place after a change, logging a failure (the next
// LeaseRenew tries again).
func (i *Ingest) replace() {
	if err := i.place(); err != nil {
		i.log.Warn("camera placement", "err", err)
	}
}

// unplace leaves both placement subjects for good (Run is ending).
func (i *Ingest) unplace() {
	i.pmu.Lock()
	defer i.pmu.Unlock()
	i.unplaced = true
	if i.createSub != nil {
		_ = i.createSub.Drain()
		i.createSub = nil
	}
	if i.fullSub != nil {
		_ = i.fullSub.Unsubscribe()
		i.fullSub = nil
	}
}

// watch feeds a bucket watcher's entries to f until ctx ends or the
// watcher stops.
func (i *Ingest) watch(ctx context.Context, w jetstream.KeyWatcher, f func(jetstream.KeyValueEntry)) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e != nil { // nil: the initial values are all in
				f(e)
			} else {
				signal(i.wake)
			}
		}
	}
}

func isRemoval(op jetstream.KeyValueOp) bool {
	return op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge
}

// cameraChanged keeps the set of cameras; a new one may need an owner.
func (i *Ingest) cameraChanged(e jetstream.KeyValueEntry) {
	id := media.CameraID(e.Key())
	i.mu.Lock()
	_, had := i.known[id]
	if isRemoval(e.Operation()) {
		delete(i.known, id)
	} else {
		i.known[id] = struct{}{}
	}
	i.mu.Unlock()
	if !had {
		signal(i.wake)
	}
}

// ownerChanged keeps when each lease was last written. A lease released
// (deleted) leaves its camera to be taken at once; one that expires does
// so without an entry (the bucket's TTL removes it silently), so the
// adopter also tries every camera whose lease was not renewed for
// OwnerLeaseTTL (see orphans).
func (i *Ingest) ownerChanged(e jetstream.KeyValueEntry) {
	id := media.CameraID(e.Key())
	i.mu.Lock()
	gone := isRemoval(e.Operation())
	if gone {
		delete(i.owners, id)
	} else {
		i.owners[id] = i.now()
	}
	i.mu.Unlock()
	if gone {
		signal(i.wake)
	}
}

// renewLoop renews the leases every LeaseRenew and stops the camera of a
// lease it lost at once.
func (i *Ingest) renewLoop(ctx context.Context) {
	t := time.NewTicker(LeaseRenew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, id := range i.leases.renew(ctx) {
				i.log.Warn("lease lost: stopping camera", "camera", id)
				i.forget(id)
			}
		}
	}
}

// adoptLoop takes the cameras nobody holds, when an owner goes away and
// every LeaseRenew.
func (i *Ingest) adoptLoop(ctx context.Context) {
	t := time.NewTicker(LeaseRenew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			i.replace()
		case <-i.wake:
		}
		for _, id := range i.orphans() {
			if ctx.Err() != nil {
				return
			}
			if i.d.Manager.Room() != nil {
				break // no room: the others take the rest
			}
			if err := i.adopt(ctx, id); err != nil {
				i.log.Warn("adopt camera failed", "camera", id, "err", err)
				i.mu.Lock()
				i.failed[id] = i.now()
				i.mu.Unlock()
			}
		}
	}
}

// orphans are the cameras in the bucket that no node holds.
func (i *Ingest) orphans() []media.CameraID {
	i.mu.Lock()
	defer i.mu.Unlock()
	var out []media.CameraID
	now := i.now()
	for id := range i.known {
		if t, ok := i.owners[id]; ok && now.Sub(t) < OwnerLeaseTTL {
			continue
		}
		if _, ok := i.held[id]; ok {
			continue
		}
		if t, ok := i.failed[id]; ok && now.Sub(t) < adoptRetry {
			continue
		}
		out = append(out, id)
	}
	return out
}

// heldTimeout bounds asking whether a camera's holder still runs it.
const heldTimeout = time.Second

// adopt takes the camera's lease and, if it got it, runs the camera from
// its record. Losing the race for the lease is no error. A camera whose
// holder still answers for it is left alone, before and after taking the
// lease: its lease lapsed while the bucket did not answer (a JetStream
// leader election), and the holder takes it again (leases.renewOne).
func (i *Ingest) adopt(ctx context.Context, id media.CameraID) error {
	defer i.replace()
	if i.answered(id) {
		return nil
	}
	ok, err := i.leases.acquire(ctx, id)
	if err != nil || !ok {
		return err
	}
	if i.answered(id) {
		i.releaseLease(id)
		return nil
	}
	if err := i.adoptHeld(ctx, id); err != nil {
		i.releaseLease(id)
		if errors.Is(err, errDeleted) {
			return nil
		}
		return err
	}
	return nil
}

// errDeleted: the camera to adopt was deleted meanwhile (its lease was
// released after its record was deleted, and this node heard of the
// lease first).
var errDeleted = errors.New("camera deleted")

// answered reports whether some node answers for the camera
// (livemon.cam.<camera>.held): its holder runs it, or may (no answer in
// time, or no connection to ask, counts as an answer). Only "no
// responders" says nobody runs it.
func (i *Ingest) answered(id media.CameraID) bool {
	_, err := i.d.Conn.Request(CamOpSubject(id, OpHeld), nil, heldTimeout)
	if errors.Is(err, nats.ErrNoResponders) {
		return false
	}
	i.log.Info("camera's lease lapsed but its holder may still run it: leaving it", "camera", id, "err", err)
	return true
}

// adoptHeld runs a camera whose lease this node has just taken.
func (i *Ingest) adoptHeld(ctx context.Context, id media.CameraID) error {
	e, err := i.d.Cameras.Get(ctx, string(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return errDeleted
	}
	if err != nil {
		return fmt.Errorf("read record: %w", err)
	}
	var rec CameraRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	if rec.ID != id {
		return fmt.Errorf("record of camera %q names camera %q", id, rec.ID)
	}
	var tf *store.TempFile
	if v := rec.Video; v != nil {
		if tf, _, err = fetchVideo(ctx, i.d.Videos, i.d.Store, v.Object, v.Size, v.Digest); err != nil {
			return err
		}
	}
	if _, err := i.d.Manager.Adopt(ctx, rec.managerRecord(), tf); err != nil {
		return err
	}
	if err := i.hold(id, e.Revision(), rec.Video); err != nil {
		i.releaseCamera(id)
		return err
	}
	i.log.Info("camera taken over", "camera", id, "from", rec.Owner, "epoch", rec.Epoch, "seq", rec.Seq, "frame", rec.Frame)
	return i.mirror(ctx, id)
}

// hold starts answering the owner API for a camera this node now runs.
func (i *Ingest) hold(id media.CameraID, rev uint64, video *VideoRecord) error {
	sub, err := i.d.Conn.Subscribe(CamOpSubject(id, "*"), func(m *nats.Msg) { i.handleCam(id, m) })
	if err != nil {
		return fmt.Errorf("subscribe to camera %q requests: %w", id, err)
	}
	i.mu.Lock()
	i.held[id] = &held{rev: rev, video: video, sub: sub}
	delete(i.failed, id)
	i.mu.Unlock()
	return nil
}

// unhold stops answering for the camera and returns what was held.
func (i *Ingest) unhold(id media.CameraID) *held {
	i.mu.Lock()
	h := i.held[id]
	delete(i.held, id)
	i.mu.Unlock()
	if h != nil && h.sub != nil {
		_ = h.sub.Unsubscribe()
	}
	return h
}

// forget stops a camera whose lease is lost: no more writes, no handing
// back (another node may own it already).
func (i *Ingest) forget(id media.CameraID) {
	i.unhold(id)
	i.leases.drop(id)
	i.releaseCamera(id)
	i.replace()
}

// releaseCamera stops the camera here and forgets it locally.
func (i *Ingest) releaseCamera(id media.CameraID) (camera.Record, bool) {
	r, err := i.d.Manager.Release(context.Background(), id)
	if err != nil && !media.IsKind(err, media.KindNotFound) {
		i.log.Warn("release camera", "camera", id, "err", err)
	}
	return r, err == nil
}

func (i *Ingest) releaseLease(id media.CameraID) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := i.leases.release(ctx, id); err != nil {
		i.log.Warn("release lease", "camera", id, "err", err)
	}
}

// handBack gives every camera back as Run ends: stop it, write its final
// record, release its lease so another ingest takes it at once.
func (i *Ingest) handBack() {
	i.mu.Lock()
	i.stopped = true
	i.mu.Unlock()
	for _, id := range i.Held() {
		i.mu.Lock()
		h := i.held[id]
		i.mu.Unlock()
		if h == nil {
			continue
		}
		_ = h.sub.Drain()
		r, ok := i.releaseCamera(id)
		if ok {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := i.writeReleased(ctx, id, r)
			cancel()
			if err != nil {
				i.log.Warn("final record of released camera", "camera", id, "err", err)
			}
		}
		i.unhold(id)
		i.releaseLease(id)
	}
}

// mirrorLoop writes the records of cameras with new checkpoints, as they
// arrive (about once a Config.CheckpointEvery).
func (i *Ingest) mirrorLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-i.flush:
		}
		i.mu.Lock()
		var dirty []media.CameraID
		for id, h := range i.held {
			if h.dirty {
				h.dirty = false
				dirty = append(dirty, id)
			}
		}
		i.mu.Unlock()
		for _, id := range dirty {
			if err := i.mirror(ctx, id); err != nil && ctx.Err() == nil {
				i.log.Warn("mirror checkpoint", "camera", id, "err", err)
			}
		}
	}
}

// relayEvents publishes the manager's events of held cameras on
// livemon.event.<camera> and mirrors the change to the record.
func (i *Ingest) relayEvents(events <-chan camera.Event) {
	for ev := range events {
		i.mu.Lock()
		_, ok := i.held[ev.Camera]
		i.mu.Unlock()
		if !ok {
			continue
		}
		if err := i.d.Conn.Publish(EventSubject(ev.Camera), mustJSON(EventMessage{Kind: ev.Kind, View: ev.View})); err != nil {
			i.log.Warn("publish camera event", "camera", ev.Camera, "err", err)
		}
		if ev.Kind == camera.EventDeleted {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := i.mirror(ctx, ev.Camera); err != nil {
			i.log.Warn("mirror camera event", "camera", ev.Camera, "err", err)
		}
		cancel()
	}
}

// ownWrite returns the revision of the camera's record when its newest
// write, past rev, is this node's own (one that committed while a leader
// change lost its acknowledgement) and this node still holds the lease:
// only the lease holder writes the record, and it names itself.
func (i *Ingest) ownWrite(ctx context.Context, id media.CameraID, rev uint64) (uint64, bool) {
	if !i.leases.holds(id) {
		return 0, false
	}
	e, err := i.d.Cameras.Get(ctx, string(id))
	if err != nil || e.Revision() <= rev {
		return 0, false
	}
	var cur CameraRecord
	if json.Unmarshal(e.Value(), &cur) != nil || cur.Owner != i.d.Node {
		return 0, false
	}
	i.log.Info("camera record: our own write's acknowledgement was lost", "camera", id, "revision", e.Revision())
	return e.Revision(), true
}

// errLost: a camera's record was written by another node.
var errLost = errors.New("camera record written by another node")

// mirror writes a held camera's record from the manager's state. A
// record someone else wrote means this node no longer owns the camera: it
// stops the camera.
func (i *Ingest) mirror(ctx context.Context, id media.CameraID) error {
	r, err := i.d.Manager.Record(id)
	if err != nil {
		return nil // released or deleted meanwhile
	}
	err = i.writeReleased(ctx, id, r)
	if errors.Is(err, errLost) {
		i.log.Warn("camera record written elsewhere: stopping camera", "camera", id)
		i.forget(id)
		return nil
	}
	return err
}

// writeReleased writes record r of a camera this node holds, checked
// against the revision of this node's previous write (errLost if it
// moved).
func (i *Ingest) writeReleased(ctx context.Context, id media.CameraID, r camera.Record) error {
	i.wmu.Lock()
	defer i.wmu.Unlock()
	i.mu.Lock()
	h := i.held[id]
	var rev uint64
	var video *VideoRecord
	if h != nil {
		rev, video = h.rev, h.video
	}
	i.mu.Unlock()
	if h == nil {
		return nil
	}
	v, err := i.d.Manager.Get(id)
	if err != nil {
		v = camera.View{ID: id, Name: r.Camera.Name, Loop: r.Camera.Loop, Speed: r.Camera.Speed, State: media.StateStopped,
			Epoch: r.Camera.Epoch, Seq: r.Camera.Seq}
	}
	rec := recordOf(r, v, video, i.d.Node)
	newRev, err := i.d.Cameras.Update(ctx, string(id), mustJSON(rec), rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		if ours, ok := i.ownWrite(ctx, id, rev); ok {
			newRev, err = i.d.Cameras.Update(ctx, string(id), mustJSON(rec), ours)
		}
	}
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) {
		return errLost
	}
	if err != nil {
		return fmt.Errorf("write record of camera %q: %w", id, err)
	}
	i.mu.Lock()
	if h := i.held[id]; h != nil {
		h.rev = newRev
	}
	i.mu.Unlock()
	return nil
}
