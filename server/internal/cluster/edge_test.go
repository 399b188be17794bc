package cluster

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/cluster/natstest"
	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
)

// fakeCameras is an owner's camera manager: a map, events on a channel,
// and the bytes of the last upload.
type fakeCameras struct {
	mu       sync.Mutex
	views    map[media.CameraID]camera.View
	events   chan camera.Event
	uploaded []byte
}

func newFakeCameras() *fakeCameras {
	return &fakeCameras{views: map[media.CameraID]camera.View{}, events: make(chan camera.Event, 16)}
}

func (f *fakeCameras) List() []camera.View {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []camera.View
	for _, v := range f.views {
		out = append(out, v)
	}
	return out
}

func (f *fakeCameras) Get(id media.CameraID) (camera.View, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.views[id]
	if !ok {
		return v, errNoCamera(id)
	}
	return v, nil
}

func (f *fakeCameras) change(id media.CameraID, kind camera.EventKind, fn func(*camera.View)) (camera.View, error) {
	f.mu.Lock()
	v, ok := f.views[id]
	if !ok {
		f.mu.Unlock()
		return v, errNoCamera(id)
	}
	fn(&v)
	f.views[id] = v
	f.mu.Unlock()
	f.events <- camera.Event{Kind: kind, Camera: id, View: v}
	return v, nil
}

func (f *fakeCameras) Create(_ context.Context, id media.CameraID, s camera.Settings) (camera.View, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.views[id]; ok {
		return camera.View{}, media.Errorf(media.KindConflict, "camera %q exists", id)
	}
	v := camera.View{ID: id, Name: string(id), State: media.StateStopped, Epoch: 1, Speed: 1}
	if s.Name != nil {
		v.Name = *s.Name
	}
	f.views[id] = v
	return v, nil
}

func (f *fakeCameras) Update(_ context.Context, id media.CameraID, s camera.Settings) (camera.View, error) {
	return f.change(id, camera.EventSettings, func(v *camera.View) {
		if s.Name != nil {
			v.Name = *s.Name
		}
	})
}

func (f *fakeCameras) Delete(_ context.Context, id media.CameraID) error {
	f.mu.Lock()
	v, ok := f.views[id]
	delete(f.views, id)
	f.mu.Unlock()
	if !ok {
		return errNoCamera(id)
	}
	f.events <- camera.Event{Kind: camera.EventDeleted, Camera: id, View: v}
	return nil
}

func (f *fakeCameras) Start(_ context.Context, id media.CameraID) (camera.View, error) {
	return f.change(id, camera.EventState, func(v *camera.View) { v.State = media.StateRunning })
}

func (f *fakeCameras) Stop(_ context.Context, id media.CameraID) (camera.View, error) {
	return f.change(id, camera.EventState, func(v *camera.View) { v.State = media.StateStopped })
}

func (f *fakeCameras) Restart(_ context.Context, id media.CameraID) (camera.View, error) {
	return f.change(id, camera.EventEpoch, func(v *camera.View) { v.Epoch++ })
}

func (f *fakeCameras) PublishUpload(_ context.Context, id media.CameraID, tf *store.TempFile, _ string) (camera.Upload, error) {
	defer tf.Abort()
	b, err := os.ReadFile(tf.Path())
	if err != nil {
		return camera.Upload{}, err
	}
	f.mu.Lock()
	f.uploaded = b
	f.mu.Unlock()
	v, err := f.change(id, camera.EventEpoch, func(v *camera.View) { v.Epoch++ })
	return camera.Upload{ID: "up1", Probe: media.VideoInfo{Width: 8, Height: 8, FPS: 30, Duration: time.Second}, Camera: v}, err
}

func (f *fakeCameras) Subscribe() (<-chan camera.Event, func()) { return f.events, func() {} }

// fakeOwner answers the owner API (ownerapi.go's types) with fake and
// publishes its events, as an ingest's handlers do.
func fakeOwner(t *testing.T, c *Conn, fake *fakeCameras, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	answer := func(m *nats.Msg, r Reply) {
		if err := m.Respond(mustJSON(r)); err != nil {
			t.Error(err)
		}
	}
	reply := func(v camera.View, err error) Reply {
		if err != nil {
			return Reply{Error: errorReply(err)}
		}
		return Reply{View: &v}
	}
	upload := func(id media.CameraID, up *UploadRequest) Reply {
		obj, err := c.Videos.Get(ctx, up.Object)
		if err != nil {
			return Reply{Error: errorReply(err)}
		}
		defer obj.Close()
		tf, err := st.CreateTemp()
		if err != nil {
			return Reply{Error: errorReply(err)}
		}
		if _, err := io.Copy(tf, obj); err != nil {
			tf.Abort()
			return Reply{Error: errorReply(err)}
		}
		u, err := fake.PublishUpload(ctx, id, tf, up.OriginalName)
		if err != nil {
			return Reply{Error: errorReply(err)}
		}
		return Reply{Upload: &u}
	}
	subs := []*nats.Subscription{}
	sub := func(subject string, h nats.MsgHandler) {
		s, err := c.NATS().Subscribe(subject, h)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	sub(SubjectAPICreate, func(m *nats.Msg) {
		var req CreateRequest
		_ = json.Unmarshal(m.Data, &req)
		answer(m, reply(fake.Create(ctx, req.ID, req.Settings)))
	})
	sub(CamOpWildcard, func(m *nats.Msg) {
		id, op, _ := ParseCamOp(m.Subject)
		var req CamRequest
		_ = json.Unmarshal(m.Data, &req)
		switch op {
		case OpUpdate:
			answer(m, reply(fake.Update(ctx, id, *req.Settings)))
		case OpStart:
			answer(m, reply(fake.Start(ctx, id)))
		case OpDelete:
			if err := fake.Delete(ctx, id); err != nil {
				answer(m, Reply{Error: errorReply(err)})
			} else {
				answer(m, Reply{})
			}
		case OpUpload:
			answer(m, upload(id, req.Upload))
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range fake.events {
			_ = c.NATS().Publish(EventSubject(ev.Camera), mustJSON(EventMessage{Kind: ev.Kind, View: ev.View}))
		}
	}()
	if err := c.NATS().Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
		close(fake.events)
		<-done
	})
}

// TestEdgeForwardsCameraAPI: an edge's writes reach the owner and return
// its views and error kinds (so the same HTTP statuses), its read model
// follows the owner's events, an upload arrives byte for byte through the
// object store, and with no ingest node at all (or none answering in
// time) a write is a 503 camera_unavailable.
func TestEdgeForwardsCameraAPI(t *testing.T) {
	srv := natstest.Single(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ec := connect(t, srv.URLs(), "edge")
	edgeCams, err := NewEdgeCameras(ctx, ec, hub.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer edgeCams.Close()

	if _, err := edgeCams.Create(ctx, "cam", camera.Settings{}); !media.IsKind(err, media.KindCameraUnavailable) {
		t.Fatalf("create with no ingest: %v, want camera_unavailable", err)
	}
	if _, err := edgeCams.Start(ctx, "nobody"); !media.IsKind(err, media.KindNotFound) {
		t.Fatalf("start an unknown camera nobody serves: %v, want not_found", err)
	}
	// An owner that does not answer in time is camera_unavailable too.
	silent, err := ec.NATS().Subscribe(CamOpSubject("slow", "*"), func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	edgeCams.opTimeout = 200 * time.Millisecond
	if _, err := edgeCams.Start(ctx, "slow"); !media.IsKind(err, media.KindCameraUnavailable) {
		t.Fatalf("start with an owner that does not answer: %v, want camera_unavailable", err)
	}
	edgeCams.opTimeout = requestTimeout
	_ = silent.Unsubscribe()

	fake := newFakeCameras()
	st, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fakeOwner(t, connect(t, srv.URLs(), "ingest"), fake, st)
	events, stop := edgeCams.Subscribe()
	defer stop()

	name := "Front door"
	if v, err := edgeCams.Create(ctx, "cam", camera.Settings{Name: &name}); err != nil || v.Name != name {
		t.Fatalf("create: %+v, %v", v, err)
	}
	if _, err := edgeCams.Create(ctx, "cam", camera.Settings{}); !media.IsKind(err, media.KindConflict) {
		t.Fatalf("create again: %v, want conflict", err)
	}
	if v, err := edgeCams.Get("cam"); err != nil || v.Name != name {
		t.Fatalf("get after create on this edge: %+v, %v", v, err)
	}
	if _, err := edgeCams.Start(ctx, "cam"); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if ev.Kind != camera.EventState || ev.View.State != media.StateRunning {
			t.Fatalf("event %+v", ev)
		}
	case <-ctx.Done():
		t.Fatal("no event from the owner")
	}

	tf, err := st.CreateTemp()
	if err != nil {
		t.Fatal(err)
	}
	video := []byte("not really a video, but bytes to carry")
	if _, err := tf.Write(video); err != nil {
		t.Fatal(err)
	}
	up, err := edgeCams.PublishUpload(ctx, "cam", tf, "v.avi")
	if err != nil || up.ID != "up1" || up.Camera.Epoch != 2 {
		t.Fatalf("upload: %+v, %v", up, err)
	}
	fake.mu.Lock()
	got := string(fake.uploaded)
	fake.mu.Unlock()
	if got != string(video) {
		t.Fatalf("owner got %q", got)
	}

	if err := edgeCams.Delete(ctx, "cam"); err != nil {
		t.Fatal(err)
	}
	if _, err := edgeCams.Get("cam"); !media.IsKind(err, media.KindNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if _, err := edgeCams.Update(ctx, "cam", camera.Settings{Name: &name}); !media.IsKind(err, media.KindNotFound) {
		t.Fatalf("update a deleted camera: %v, want not found", err)
	}
}
