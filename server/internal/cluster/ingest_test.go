package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/cluster/natstest"
	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
	"github.com/livemon/livemon/server/internal/synth"
)

// ingestNode is an ingest over synthetic videos: its own store, hub and
// camera manager, connected to the test's NATS servers.
type ingestNode struct {
	t         *testing.T
	name      string
	conn      *Conn
	st        *store.Store
	m         *camera.Manager
	ing       *Ingest
	stop      func() // ends the node (idempotent)
	closeConn func() // closes its NATS connection (idempotent)
}

// checkpointEvery is the manager's checkpoint interval in these tests:
// positions in records are at most this old (plus a write).
const checkpointEvery = 250 * time.Millisecond

func startIngest(t *testing.T, urls []string, name string) *ingestNode {
	t.Helper()
	return startIngestWith(t, urls, name, camera.Config{})
}

// lockedBuffer is a log buffer written by many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// failureLog is a node's logger whose lines the test prints only if it
// fails (takeovers, lost leases, NATS reconnects).
func failureLog(t *testing.T, name string) *slog.Logger {
	buf := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of %s:\n%s", name, buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, nil))
}

// startIngestWith starts an ingest whose manager has cfg (its
// CheckpointEvery is checkpointEvery).
func startIngestWith(t *testing.T, urls []string, name string, cfg camera.Config) *ingestNode {
	t.Helper()
	log := failureLog(t, name)
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	// Not connect: the node closes its connection itself, once (crash).
	conn, err := Connect(cctx, Options{URLs: urls, Name: name, Logger: log})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	n := &ingestNode{t: t, name: name, conn: conn}
	st, err := store.Open(context.Background(), t.TempDir())
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	n.st = st
	var ing *Ingest
	cfg.CheckpointEvery = checkpointEvery
	n.m = camera.New(cfg, camera.Deps{
		Store: st, Hub: hub.New(hub.WithLinger(time.Second)), Opener: synth.Opener{}, Prober: synth.Prober{},
		Logger:       log,
		OnCheckpoint: func(cp camera.Checkpoint) { ing.ObserveCheckpoint(cp) },
	})
	ing = NewIngest(IngestDeps{Node: name, Conn: n.conn.NATS(), Cameras: n.conn.Cameras, Owners: n.conn.Owners,
		Epochs: n.conn.Epochs, Videos: n.conn.Videos, Manager: n.m, Store: st, Logger: log})
	n.ing = ing
	ctx, cancel := context.WithCancel(context.Background())
	mdone, idone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(mdone)
		_ = n.m.Run(ctx)
	}()
	go func() {
		defer close(idone)
		if err := ing.Run(ctx); err != nil {
			t.Errorf("ingest %s: %v", name, err)
		}
	}()
	stopped, closed := false, false
	n.closeConn = func() {
		if !closed {
			closed = true
			conn.Close()
		}
	}
	n.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		for _, done := range []chan struct{}{idone, mdone} {
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				t.Errorf("ingest %s did not stop", name)
			}
		}
		n.closeConn()
		_ = st.Close()
	}
	t.Cleanup(n.stop)
	return n
}

// crash ends the node as a dying process would: its NATS connection
// goes first, so it renews nothing, hands nothing back and its leases
// expire.
func (n *ingestNode) crash() {
	n.closeConn()
	n.stop()
}

// request sends v to subject and decodes the owner's reply.
func request(t *testing.T, c *Conn, subject string, v any) Reply {
	t.Helper()
	msg, err := c.NATS().Request(subject, mustJSON(v), UploadTimeout)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	var r Reply
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		t.Fatalf("reply to %s: %v", subject, err)
	}
	return r
}

// putVideo stores a synthetic video (frames at 30 fps) as an object, as an
// edge receiving an upload does.
func putVideo(t *testing.T, c *Conn, object string, n, frames int) {
	t.Helper()
	spec := synth.Spec{Video: n, Frames: int64(frames), FPS: 30, Width: 96, Height: 64}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Videos.Put(ctx, jetstream.ObjectMeta{Name: object}, bytes.NewReader([]byte(spec.String()))); err != nil {
		t.Fatal(err)
	}
}

// record reads a camera's record.
func record(t *testing.T, c *Conn, id media.CameraID) (CameraRecord, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e, err := c.Cameras.Get(ctx, string(id))
	if err != nil {
		return CameraRecord{}, false
	}
	var rec CameraRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		t.Fatal(err)
	}
	return rec, true
}

// until polls cond every 50 ms until it holds or d passes.
func until(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(d)
	for !cond() {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

// running returns the view of the camera if node n plays it.
func (n *ingestNode) running(id media.CameraID) (camera.View, bool) {
	v, err := n.m.Get(id)
	return v, err == nil && v.State == media.StateRunning
}

// createUploaded creates camera id from a 30 s video through
// livemon.api.create, as an edge does, and returns the node that owns it
// and the other one.
func createUploaded(t *testing.T, c *Conn, id media.CameraID, nodes ...*ingestNode) (owner, other *ingestNode) {
	t.Helper()
	putVideo(t, c, "obj-"+string(id), 1, 900)
	r := request(t, c, SubjectAPICreate, CreateRequest{ID: id, Upload: &UploadRequest{Object: "obj-" + string(id), OriginalName: "clip.avi"}})
	if r.Error != nil || r.Upload == nil || r.Upload.Camera.Epoch == 0 {
		t.Fatalf("create by upload: %+v %+v", r, r.Error)
	}
	until(t, 5*time.Second, "the camera playing on one ingest", func() bool {
		for _, n := range nodes {
			if _, ok := n.running(id); ok {
				owner = n
			}
		}
		return owner != nil
	})
	for _, n := range nodes {
		if n != owner {
			other = n
		}
	}
	return owner, other
}

// Killing the ingest that owns a camera moves the camera to the other
// ingest within 10 s, with the same epoch and the position where the
// first one was (within 1 s), never from zero.
func TestFailoverKeepsEpochAndPosition(t *testing.T) {
	srv := natstest.Cluster(t, 3)
	a, b := startIngest(t, srv.URLs(), "ingest-a"), startIngest(t, srv.URLs(), "ingest-b")
	client := connect(t, srv.URLs(), "edge")
	owner, other := createUploaded(t, client, "cam", a, b)

	// Let it play past its first checkpoints, to a position that is not 0.
	var before camera.View
	until(t, 10*time.Second, "the camera past 2 s", func() bool {
		v, _ := owner.running("cam")
		before = v
		return v.Position >= 2
	})
	rec, ok := record(t, client, "cam")
	if !ok || rec.Owner != owner.name || rec.Video == nil || rec.Epoch != before.Epoch {
		t.Fatalf("record before the crash: %+v", rec)
	}

	killed := time.Now()
	before, _ = owner.running("cam")
	owner.crash()
	var after camera.View
	until(t, 10*time.Second, "the other ingest playing the camera", func() bool {
		v, ok := other.running("cam")
		after = v
		return ok
	})
	took := time.Since(killed)
	t.Logf("taken over in %v: epoch %d position %.2f s (was %.2f s), seq %d (was %d)",
		took.Round(time.Millisecond), after.Epoch, after.Position, before.Position, after.Seq, before.Seq)
	if after.Video == nil || before.Video == nil || after.Video.Duration != before.Video.Duration || after.Video.Duration == 0 {
		t.Fatalf("video after failover %+v, before %+v", after.Video, before.Video)
	}
	if after.Epoch != before.Epoch {
		t.Fatalf("epoch %d after failover, want %d", after.Epoch, before.Epoch)
	}
	if after.Position == 0 || math.Abs(after.Position-before.Position) > 1 {
		t.Fatalf("position %.2f s after failover, was %.2f s", after.Position, before.Position)
	}
	if after.Seq+uint64(30) < before.Seq {
		t.Fatalf("seq %d after failover, was %d", after.Seq, before.Seq)
	}
	until(t, 5*time.Second, "the record naming the new owner", func() bool {
		rec, ok := record(t, client, "cam")
		return ok && rec.Owner == other.name && rec.Epoch == before.Epoch
	})
}

// A graceful stop hands the cameras over at once (no TTL wait) from the
// final checkpoint.
func TestHandBackOnStop(t *testing.T) {
	srv := natstest.Single(t)
	a, b := startIngest(t, srv.URLs(), "ingest-a"), startIngest(t, srv.URLs(), "ingest-b")
	client := connect(t, srv.URLs(), "edge")
	owner, other := createUploaded(t, client, "cam", a, b)
	until(t, 10*time.Second, "the camera past 1 s", func() bool {
		v, _ := owner.running("cam")
		return v.Position >= 1
	})
	stopped := time.Now()
	owner.stop()
	rec, _ := record(t, client, "cam")
	until(t, 3*time.Second, "the other ingest playing the camera", func() bool {
		_, ok := other.running("cam")
		return ok
	})
	if took := time.Since(stopped); took >= OwnerLeaseTTL {
		t.Fatalf("hand-over took %v: the lease was not released", took)
	}
	v, _ := other.m.Get("cam")
	if v.Epoch != rec.Epoch || v.Seq < rec.Seq {
		t.Fatalf("after hand-over epoch %d seq %d, final record epoch %d seq %d", v.Epoch, v.Seq, rec.Epoch, rec.Seq)
	}
}

// Killing one of three NATS servers loses no camera: the owner keeps its
// lease (its connection moves to another server), the record keeps being
// written, and nothing moves.
func TestNATSServerLossKeepsCameras(t *testing.T) {
	srv := natstest.Cluster(t, 3)
	a, b := startIngest(t, srv.URLs(), "ingest-a"), startIngest(t, srv.URLs(), "ingest-b")
	client := connect(t, srv.URLs()[1:], "edge")
	owner, _ := createUploaded(t, client, "cam", a, b)
	rec, _ := record(t, client, "cam")

	srv.Shutdown(0)
	lost := time.Now()
	// Past a lease's lifetime: had a lease lapsed, the camera would have
	// moved or stopped by now.
	until(t, 20*time.Second, "the record written for a lease's lifetime after the loss", func() bool {
		now, ok := record(t, client, "cam")
		return ok && now.Seq > rec.Seq+30 && time.Since(lost) > OwnerLeaseTTL+LeaseRenew
	})
	now, _ := record(t, client, "cam")
	if now.Owner != owner.name || now.Epoch != rec.Epoch {
		t.Fatalf("after losing a NATS server: owner %s epoch %d, want %s epoch %d", now.Owner, now.Epoch, owner.name, rec.Epoch)
	}
	if _, ok := owner.running("cam"); !ok {
		t.Fatal("the owner stopped the camera")
	}
}

// The owner API: create without a video, update, stop, a conflict, an
// unknown camera (no responders), delete.
func TestOwnerAPI(t *testing.T) {
	srv := natstest.Single(t)
	a := startIngest(t, srv.URLs(), "ingest-a")
	client := connect(t, srv.URLs(), "edge")
	name := "Hall"
	r := request(t, client, SubjectAPICreate, CreateRequest{ID: "cam", Settings: camera.Settings{Name: &name}})
	if r.Error != nil || r.View == nil || r.View.Name != "Hall" {
		t.Fatalf("create: %+v", r)
	}
	if r := request(t, client, SubjectAPICreate, CreateRequest{ID: "cam"}); !media.IsKind(r.Err(), media.KindConflict) {
		t.Fatalf("second create: %+v, want a conflict", r.Error)
	}
	if r := request(t, client, SubjectAPICreate, CreateRequest{ID: "bad id"}); !media.IsKind(r.Err(), media.KindInvalid) {
		t.Fatalf("bad id: %+v, want invalid", r.Error)
	}
	speed := 2.0
	r = request(t, client, CamOpSubject("cam", OpUpdate), CamRequest{Settings: &camera.Settings{Speed: &speed}})
	if r.Error != nil || r.View.Speed != 2 {
		t.Fatalf("update: %+v", r)
	}
	if rec, _ := record(t, client, "cam"); rec.Speed != 2 || rec.Owner != a.name || rec.Name != "Hall" {
		t.Fatalf("record after update: %+v", rec)
	}
	if r := request(t, client, CamOpSubject("cam", OpStart), nil); !media.IsKind(r.Err(), media.KindConflict) {
		t.Fatalf("start without a video: %+v, want a conflict", r.Error)
	}
	putVideo(t, client, "v1", 2, 90)
	r = request(t, client, CamOpSubject("cam", OpUpload), CamRequest{Upload: &UploadRequest{Object: "v1", OriginalName: "a.avi"}})
	if r.Error != nil || r.Upload == nil {
		t.Fatalf("upload: %+v", r.Error)
	}
	putVideo(t, client, "v2", 3, 90)
	r = request(t, client, CamOpSubject("cam", OpUpload), CamRequest{Upload: &UploadRequest{Object: "v2", OriginalName: "b.avi"}})
	if r.Error != nil || r.Upload == nil {
		t.Fatalf("second upload: %+v", r.Error)
	}
	// An object that is not what the edge put (another size) is refused,
	// deleted, and the camera keeps its video.
	putVideo(t, client, "v3", 4, 90)
	r2 := request(t, client, CamOpSubject("cam", OpUpload), CamRequest{Upload: &UploadRequest{Object: "v3", OriginalName: "c.avi", Size: 1}})
	if !media.IsKind(r2.Err(), media.KindConflict) {
		t.Fatalf("upload of a changed object: %+v, want a conflict", r2.Error)
	}
	ctx := context.Background()
	if _, err := client.Videos.GetInfo(ctx, "v3"); err == nil {
		t.Fatal("the refused video's object is still there")
	}
	if _, err := client.Videos.GetInfo(ctx, "v1"); err == nil {
		t.Fatal("the replaced video's object is still there")
	}
	if rec, _ := record(t, client, "cam"); rec.Video == nil || rec.Video.Object != "v2" || rec.Video.Upload != r.Upload.ID {
		t.Fatalf("record after upload: %+v", rec.Video)
	}

	if r := request(t, client, CamOpSubject("cam", OpDelete), nil); r.Error != nil {
		t.Fatalf("delete: %+v", r.Error)
	}
	if _, ok := record(t, client, "cam"); ok {
		t.Fatal("the deleted camera's record is still there")
	}
	if _, err := client.Videos.GetInfo(ctx, "v2"); err == nil {
		t.Fatal("the deleted camera's video object is still there")
	}
	if _, err := client.Owners.Get(ctx, "cam"); err == nil {
		t.Fatal("the deleted camera's lease is still there")
	}
	if _, err := client.NATS().Request(CamOpSubject("cam", OpStop), nil, time.Second); err == nil {
		t.Fatal("a deleted camera's owner still answers")
	}
}

// A camera deleted and created again with the same id on another ingest
// starts above the deleted one's epoch: a viewer of the old one never
// sees the epoch repeat.
func TestEpochFloorAcrossIngests(t *testing.T) {
	srv := natstest.Single(t)
	a, b := startIngest(t, srv.URLs(), "ingest-a"), startIngest(t, srv.URLs(), "ingest-b")
	client := connect(t, srv.URLs(), "edge")
	owner, other := createUploaded(t, client, "cam", a, b)
	seen, _ := owner.running("cam")
	if r := request(t, client, CamOpSubject("cam", OpDelete), nil); r.Error != nil {
		t.Fatalf("delete: %+v", r.Error)
	}
	owner.stop() // the camera is created again on the other ingest
	_, _ = createUploaded(t, client, "cam", other)
	again, _ := other.running("cam")
	if again.Epoch <= seen.Epoch {
		t.Fatalf("camera created again on another ingest: epoch %d, the deleted one had %d", again.Epoch, seen.Epoch)
	}
}

// Creates land on an ingest with room: one at its --max-cameras leaves
// the create queue group, so every create goes to the other; with every
// ingest full a create is a camera_limit, and a delete makes room again.
func TestCreatePlacement(t *testing.T) {
	srv := natstest.Single(t)
	a := startIngestWith(t, srv.URLs(), "ingest-a", camera.Config{MaxCameras: 1})
	b := startIngestWith(t, srv.URLs(), "ingest-b", camera.Config{MaxCameras: 1})
	client := connect(t, srv.URLs(), "edge")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	edge, err := NewEdgeCameras(ctx, client, hub.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer edge.Close()
	if _, err := edge.Create(ctx, "one", camera.Settings{}); err != nil {
		t.Fatalf("first create: %v", err)
	}
	full := a
	if len(b.ing.Held()) == 1 {
		full = b
	}
	// Only the ingest with room answers: a request it cannot serve (a bad
	// id) is refused as invalid every time, never as camera_limit.
	for range 10 {
		r := request(t, client, SubjectAPICreate, CreateRequest{ID: "bad id"})
		if !media.IsKind(r.Err(), media.KindInvalid) {
			t.Fatalf("create with %s full: %+v, want only the other ingest's invalid_argument", full.name, r.Error)
		}
	}
	if _, err := edge.Create(ctx, "two", camera.Settings{}); err != nil {
		t.Fatalf("second create, one ingest with room: %v", err)
	}
	if len(a.ing.Held()) != 1 || len(b.ing.Held()) != 1 {
		t.Fatalf("held: a %v, b %v; want one each", a.ing.Held(), b.ing.Held())
	}
	if _, err := edge.Create(ctx, "three", camera.Settings{}); !media.IsKind(err, media.KindCameraLimit) {
		t.Fatalf("create with every ingest full: %v, want camera_limit", err)
	}
	if err := edge.Delete(ctx, "one"); err != nil {
		t.Fatal(err)
	}
	if _, err := edge.Create(ctx, "three", camera.Settings{}); err != nil {
		t.Fatalf("create after a delete made room: %v", err)
	}
}

// A lease that lapsed while its holder still runs the camera (as when the
// owners bucket expires it during a JetStream leader election) is not
// taken over: the other ingest asks first, the holder answers, and the
// holder takes its lease again at its next renewal.
func TestNoTakeoverWhileHolderAnswers(t *testing.T) {
	srv := natstest.Single(t)
	a, b := startIngest(t, srv.URLs(), "ingest-a"), startIngest(t, srv.URLs(), "ingest-b")
	client := connect(t, srv.URLs(), "edge")
	owner, other := createUploaded(t, client, "cam", a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Owners.Delete(ctx, "cam"); err != nil { // the lease lapses
		t.Fatal(err)
	}
	deadline := time.After(3 * LeaseRenew)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-deadline:
			done = true
		case <-tick.C:
			if _, ok := other.m.Get("cam"); ok == nil {
				t.Fatalf("%s took the camera over while %s still ran it", other.name, owner.name)
			}
		}
	}
	if _, ok := owner.running("cam"); !ok {
		t.Fatal("the holder stopped the camera")
	}
	until(t, 5*time.Second, "the holder's lease again", func() bool {
		e, err := client.Owners.Get(ctx, "cam")
		return err == nil && string(e.Value()) == owner.name
	})
}

// A record write of the owner's own that committed without reaching it
// (a leader change lost the acknowledgement) does not make the owner
// think someone else took the camera.
func TestRecordFindsItsOwnWrite(t *testing.T) {
	srv := natstest.Single(t)
	a := startIngest(t, srv.URLs(), "ingest-a")
	client := connect(t, srv.URLs(), "edge")
	createUploaded(t, client, "cam", a)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := client.Cameras.Get(ctx, "cam")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Cameras.Put(ctx, "cam", e.Value()); err != nil { // "a's" write, unacknowledged
		t.Fatal(err)
	}
	var rec CameraRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		t.Fatal(err)
	}
	until(t, 5*time.Second, "the owner's checkpoints in the record again", func() bool {
		now, ok := record(t, client, "cam")
		return ok && now.Owner == a.name && now.Seq > rec.Seq+15
	})
	if _, ok := a.running("cam"); !ok {
		t.Fatal("the owner stopped the camera")
	}
}

// An orphan that turns out deleted (this node heard of its released
// lease before of its deleted record) leaves no lease behind: a camera
// created again with the id gets it.
func TestAdoptDeletedLeavesNoLease(t *testing.T) {
	srv := natstest.Single(t)
	a := startIngest(t, srv.URLs(), "ingest-a")
	client := connect(t, srv.URLs(), "edge")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.ing.adopt(ctx, "ghost"); err != nil {
		t.Fatal(err)
	}
	if e, err := client.Owners.Get(ctx, "ghost"); err == nil {
		t.Fatalf("lease on a camera without a record left to %q", e.Value())
	}
	if a.ing.leases.holds("ghost") {
		t.Fatal("the node still renews the lease of a camera without a record")
	}
}
