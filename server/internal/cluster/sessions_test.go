package cluster

import (
	"context"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/cluster/natstest"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/session"
	"github.com/livemon/livemon/server/internal/store"
)

// fakeClock is a settable clock shared by the managers of a test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func putCameras(t *testing.T, c *Conn, ids ...media.CameraID) {
	t.Helper()
	for _, id := range ids {
		if _, err := c.Cameras.Put(context.Background(), string(id), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSessionResumesOnAnotherEdge: a session opened on edge A, whose node
// then dies without disconnecting, resumes on edge B with its
// subscriptions, renditions and delivered positions, after one of three
// NATS servers was lost as well.
func TestSessionResumesOnAnotherEdge(t *testing.T) {
	srv := natstest.Cluster(t, 3)
	urls := srv.URLs()
	a, b := connect(t, urls, "edge-a"), connect(t, urls, "edge-b")
	putCameras(t, a, "cam1", "cam2")
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	const ttl = time.Minute
	ma := session.New(NewSessionStore(a), ttl, clock.now, session.WithSharedStore())
	mb := session.New(NewSessionStore(b), ttl, clock.now, session.WithSharedStore())
	// Generous: after losing a server, JetStream elects new leaders, which
	// takes a while on a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	s, resumed, err := ma.Open(ctx, "")
	if err != nil || resumed {
		t.Fatalf("open: %v, resumed %v", err, resumed)
	}
	if err := ma.Subscribe(ctx, s.ID, "cam1", media.RenditionGrid); err != nil {
		t.Fatal(err)
	}
	if err := ma.Subscribe(ctx, s.ID, "cam2", ""); err != nil {
		t.Fatal(err)
	}
	if err := ma.Subscribe(ctx, s.ID, "nope", ""); !media.IsKind(err, media.KindNotFound) {
		t.Fatalf("subscribe to an unknown camera: %v, want not found", err)
	}
	ma.Delivered(s.ID, "cam1", 2, 50)
	ma.Delivered(s.ID, "cam2", 1, 7)
	if err := ma.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Edge A dies (no Disconnect) and so does one NATS server.
	srv.Shutdown(0)
	clock.add(ttl / 2)

	var got *session.Session
	for {
		got, resumed, err = mb.Open(ctx, string(s.ID))
		if err == nil {
			break
		}
		select { // the NATS cluster may still be electing leaders
		case <-ctx.Done():
			t.Fatalf("resume on edge B: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if !resumed || got.ID != s.ID {
		t.Fatalf("resume on edge B: resumed %v id %q, want %q", resumed, got.ID, s.ID)
	}
	want := map[media.CameraID]session.Sub{
		"cam1": {Rendition: media.RenditionGrid, Epoch: 2, LastSeq: 50},
		"cam2": {Rendition: media.RenditionFull, Epoch: 1, LastSeq: 7},
	}
	if len(got.Subscriptions) != len(want) {
		t.Fatalf("subscriptions %v, want %v", got.Subscriptions, want)
	}
	for cam, w := range want {
		if got.Subscriptions[cam] != w {
			t.Fatalf("subscription %s = %+v, want %+v", cam, got.Subscriptions[cam], w)
		}
	}

	// Edge A restarts. A session moving between edges is read from the
	// store each time, never from an edge's memory of it.
	if err := mb.Disconnect(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	ma = session.New(NewSessionStore(a), ttl, clock.now, session.WithSharedStore())
	hop := func(m *session.Manager, change func()) *session.Session {
		t.Helper()
		got, resumed, err := m.Open(ctx, string(s.ID))
		if err != nil || !resumed {
			t.Fatalf("resume: %v, resumed %v", err, resumed)
		}
		if change != nil {
			change()
		}
		if err := m.Disconnect(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		return got
	}
	hop(ma, nil)
	hop(mb, func() {
		if err := mb.Unsubscribe(ctx, s.ID, "cam2"); err != nil {
			t.Fatal(err)
		}
	})
	if got := hop(ma, nil); len(got.Subscriptions) != 1 {
		t.Fatalf("resume on edge A after edge B unsubscribed cam2: %v, want cam1 only", got.Subscriptions)
	}
	// Disconnected, it expires TTL later like a SQLite session.
	if n, err := mb.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep before expiry removed %d (%v)", n, err)
	}
	clock.add(ttl)
	if n, err := mb.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep after expiry removed %d (%v), want 1", n, err)
	}
	if _, resumed, err := ma.Open(ctx, string(s.ID)); err != nil || resumed {
		t.Fatalf("expired session resumed (%v)", err)
	}
}

// A flush writes each live session once (delivered frames and last seen
// together), from the record the edge last wrote; a change another edge
// made meanwhile is read again, never overwritten.
func TestFlushWritesOnceAndKeepsOtherEdgesChanges(t *testing.T) {
	srv := natstest.Single(t)
	a, b := connect(t, srv.URLs(), "edge-a"), connect(t, srv.URLs(), "edge-b")
	putCameras(t, a, "cam1", "cam2")
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	ma := session.New(NewSessionStore(a), time.Minute, clock.now, session.WithSharedStore())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, _, err := ma.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := ma.Subscribe(ctx, s.ID, "cam1", ""); err != nil {
		t.Fatal(err)
	}
	k := sessionKey(sha256.Sum256([]byte(s.ID)))
	rev := func() uint64 {
		t.Helper()
		e, err := a.Sessions.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		return e.Revision()
	}
	ma.Delivered(s.ID, "cam1", 1, 10)
	before := rev()
	if err := ma.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rev(); got != before+1 {
		t.Fatalf("a flush of one session wrote %d times, want 1", got-before)
	}
	// Edge B adds a subscription behind edge A's back: A's remembered
	// record is stale now.
	if err := NewSessionStore(b).PutSubscription(ctx, sha256.Sum256([]byte(s.ID)), store.Subscription{Camera: "cam2", Rendition: media.RenditionGrid}); err != nil {
		t.Fatal(err)
	}
	clock.add(time.Second)
	ma.Delivered(s.ID, "cam1", 1, 20)
	if err := ma.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rec, err := NewSessionStore(b).LoadSession(ctx, sha256.Sum256([]byte(s.ID)))
	if err != nil {
		t.Fatal(err)
	}
	subs := map[media.CameraID]store.Subscription{}
	for _, sub := range rec.Subscriptions {
		subs[sub.Camera] = sub
	}
	if len(subs) != 2 || subs["cam1"].LastSeq != 20 || subs["cam2"].Rendition != media.RenditionGrid {
		t.Fatalf("after the second flush: %+v, want cam1 at seq 20 and edge B's cam2", rec.Subscriptions)
	}
	if !rec.LastSeen.Equal(clock.now()) || !rec.ExpiresAt.IsZero() {
		t.Fatalf("last seen %v expires %v, want %v and none", rec.LastSeen, rec.ExpiresAt, clock.now())
	}
}
