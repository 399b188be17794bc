package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const ttl = 10 * time.Minute

type env struct {
	dir   string
	st    *store.Store
	clock *clock
	m     *Manager
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), clock: &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	e.open(t)
	for _, cam := range []media.CameraID{"a", "b"} {
		if _, err := e.st.CreateCamera(context.Background(), store.Camera{ID: cam}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// open opens the store and a new Manager, as a server start does.
func (e *env) open(t *testing.T) {
	t.Helper()
	st, err := store.Open(context.Background(), e.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	e.m = New(st, ttl, e.clock.Now)
}

func kind(err error) media.Kind {
	var me *media.Error
	if errors.As(err, &me) {
		return me.Kind
	}
	return -1
}

func mustOpen(t *testing.T, m *Manager, raw string) (*Session, bool) {
	t.Helper()
	s, resumed, err := m.Open(context.Background(), raw)
	if err != nil {
		t.Fatalf("Open(%q): %v", raw, err)
	}
	if _, err := ParseID(string(s.ID)); err != nil {
		t.Fatalf("Open returned malformed id %q", s.ID)
	}
	return s, resumed
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	known, _ := mustOpen(t, e.m, "")
	if err := e.m.Disconnect(ctx, known.ID); err != nil {
		t.Fatal(err)
	}
	unknown := NewID()

	tests := []struct {
		name        string
		raw         string
		wantResumed bool
		wantSameID  bool
		wantErr     bool
	}{
		{"empty starts new", "", false, false, false},
		{"known resumes", string(known.ID), true, true, false},
		{"unknown gets fresh id", string(unknown), false, false, false},
		{"uppercase is malformed", "ABCDEF0123456789ABCDEF0123456789", false, false, true},
		{"short is malformed", "abc", false, false, true},
		{"non-hex is malformed", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", false, false, true},
		{"too long is malformed", string(known.ID) + "0", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, resumed, err := e.m.Open(ctx, tt.raw)
			if tt.wantErr {
				if kind(err) != media.KindInvalid || err.Error() != "malformed session id" {
					t.Fatalf("err = %v, want KindInvalid malformed session id", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer e.m.Disconnect(ctx, s.ID)
			if resumed != tt.wantResumed {
				t.Errorf("resumed = %v, want %v", resumed, tt.wantResumed)
			}
			if (string(s.ID) == tt.raw) != tt.wantSameID {
				t.Errorf("id %q for raw %q: same=%v, want %v", s.ID, tt.raw, string(s.ID) == tt.raw, tt.wantSameID)
			}
			if s.Subscriptions == nil {
				t.Error("nil Subscriptions map")
			}
		})
	}
}

func TestResumeSubscriptions(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s, _ := mustOpen(t, e.m, "")
	for _, cam := range []media.CameraID{"a", "b", "a"} { // twice is fine
		if err := e.m.Subscribe(ctx, s.ID, cam, ""); err != nil {
			t.Fatal(err)
		}
	}
	e.m.Delivered(s.ID, "a", 3, 120)
	e.m.Delivered(s.ID, "a", 3, 100) // older: ignored
	e.m.Delivered(s.ID, "b", 1, 7)
	e.m.Delivered(s.ID, "b", 2, 1) // new epoch wins
	if err := e.m.Unsubscribe(ctx, s.ID, "b"); err != nil {
		t.Fatal(err)
	}
	e.m.Delivered(s.ID, "b", 2, 5) // not subscribed: ignored
	if err := e.m.Subscribe(ctx, s.ID, "b", ""); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Disconnect(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.m.Count(); n != 0 {
		t.Errorf("Count after disconnect = %d", n)
	}

	e.clock.Advance(ttl - time.Second)
	r, resumed := mustOpen(t, e.m, string(s.ID))
	if !resumed || r.ID != s.ID {
		t.Fatalf("resumed=%v id=%s, want resumed %s", resumed, r.ID, s.ID)
	}
	want := map[media.CameraID]Sub{"a": {Rendition: media.RenditionFull, Epoch: 3, LastSeq: 120}, "b": {Rendition: media.RenditionFull}}
	if fmt.Sprint(r.Subscriptions) != fmt.Sprint(want) {
		t.Errorf("subscriptions = %v, want %v", r.Subscriptions, want)
	}
	if n := e.m.Count(); n != 1 {
		t.Errorf("Count = %d, want 1", n)
	}
}

// A session whose last connection left within TTL resumes from memory,
// without the store (a burst of reconnects does not queue on SQLite), and
// the next Flush marks it connected in the store again.
func TestResumeFromMemory(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s, _ := mustOpen(t, e.m, "")
	if err := e.m.Subscribe(ctx, s.ID, "a", ""); err != nil {
		t.Fatal(err)
	}
	e.m.Delivered(s.ID, "a", 2, 40)
	if err := e.m.Disconnect(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	rec, err := e.st.LoadSession(ctx, s.ID.key())
	if err != nil || rec.ExpiresAt.IsZero() {
		t.Fatalf("after disconnect the store has %+v, %v; want an expiry", rec, err)
	}

	// With the store gone, resuming still works.
	other := &env{dir: t.TempDir(), clock: e.clock}
	other.open(t)
	e.m.st = other.st // a store that has never heard of the session
	r, resumed := mustOpen(t, e.m, string(s.ID))
	if !resumed || fmt.Sprint(r.Subscriptions) != fmt.Sprint(map[media.CameraID]Sub{"a": {Rendition: media.RenditionFull, Epoch: 2, LastSeq: 40}}) {
		t.Fatalf("resume from memory: resumed=%v subs=%v", resumed, r.Subscriptions)
	}
	e.m.st = e.st

	if err := e.m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if rec, err := e.st.LoadSession(ctx, s.ID.key()); err != nil || !rec.ExpiresAt.IsZero() {
		t.Fatalf("after Flush the store has %+v, %v; want the session connected", rec, err)
	}
	// Once only: a second connection shares the live session.
	if _, resumed := mustOpen(t, e.m, string(s.ID)); !resumed || e.m.Count() != 1 {
		t.Fatalf("second connection: resumed=%v count=%d", resumed, e.m.Count())
	}
}

// Dormant sessions past their TTL are dropped from memory by Sweep.
func TestSweepDropsDormant(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s, _ := mustOpen(t, e.m, "")
	if err := e.m.Disconnect(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if len(e.m.dormant) != 1 {
		t.Fatalf("%d dormant sessions, want 1", len(e.m.dormant))
	}
	e.clock.Advance(ttl)
	if _, err := e.m.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if len(e.m.dormant) != 0 {
		t.Fatalf("%d dormant sessions after Sweep, want 0", len(e.m.dormant))
	}
}

func TestResumeAfterServerRestart(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s, _ := mustOpen(t, e.m, "")
	if err := e.m.Subscribe(ctx, s.ID, "a", ""); err != nil {
		t.Fatal(err)
	}
	e.m.Delivered(s.ID, "a", 1, 640)
	if err := e.m.Disconnect(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	e.open(t)
	e.clock.Advance(time.Minute)

	r, resumed := mustOpen(t, e.m, string(s.ID))
	if !resumed || r.Subscriptions["a"] != (Sub{Rendition: media.RenditionFull, Epoch: 1, LastSeq: 640}) || len(r.Subscriptions) != 1 {
		t.Errorf("after restart: resumed=%v subs=%v", resumed, r.Subscriptions)
	}
}

func TestCrashedConnectionExpires(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s, _ := mustOpen(t, e.m, "")
	// The server dies without Disconnect: the row stays "connected".
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	e.open(t)

	e.clock.Advance(ttl / 2)
	if _, resumed := mustOpen(t, e.m, string(s.ID)); !resumed {
		t.Fatal("session left connected by a crash should resume within the TTL")
	}

	e2 := newEnv(t)
	s2, _ := mustOpen(t, e2.m, "")
	e2.st.Close()
	e2.open(t)
	e2.clock.Advance(ttl + time.Second)
	if n, err := e2.m.Sweep(ctx); err != nil || n != 1 {
		t.Errorf("Sweep = %d, %v; want 1", n, err)
	}
	if _, resumed := mustOpen(t, e2.m, string(s2.ID)); resumed {
		t.Error("crash leftover resumed after TTL")
	}
}

func TestExpiryAndSweep(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	gone, _ := mustOpen(t, e.m, "")
	held, _ := mustOpen(t, e.m, "")
	if err := e.m.Subscribe(ctx, gone.ID, "a", ""); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Disconnect(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(ttl / 2)
	if n, err := e.m.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("Sweep before TTL = %d, %v", n, err)
	}
	e.clock.Advance(ttl)
	if n, err := e.m.Sweep(ctx); err != nil || n != 1 {
		t.Errorf("Sweep after TTL = %d, %v; want 1", n, err)
	}
	if _, err := e.st.LoadSession(ctx, gone.ID.key()); kind(err) != media.KindNotFound {
		t.Errorf("swept session still stored: %v", err)
	}
	// A held session never expires, however long it is connected.
	e.clock.Advance(10 * ttl)
	if n, err := e.m.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("Sweep removed a connected session: %d, %v", n, err)
	}
	if err := e.m.Subscribe(ctx, held.ID, "a", ""); err != nil {
		t.Errorf("Subscribe on held session: %v", err)
	}
}

func TestExpiredIsNotResumed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s, _ := mustOpen(t, e.m, "")
	if err := e.m.Subscribe(ctx, s.ID, "a", ""); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Disconnect(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(ttl) // exactly at expiry
	r, resumed := mustOpen(t, e.m, string(s.ID))
	if resumed || r.ID == s.ID || len(r.Subscriptions) != 0 {
		t.Errorf("expired session: resumed=%v id=%s subs=%v", resumed, r.ID, r.Subscriptions)
	}
	if _, err := e.st.LoadSession(ctx, s.ID.key()); kind(err) != media.KindNotFound {
		t.Errorf("expired session still stored: %v", err)
	}
}

func TestDeliveredPersistence(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s, _ := mustOpen(t, e.m, "")
	if err := e.m.Subscribe(ctx, s.ID, "a", ""); err != nil {
		t.Fatal(err)
	}
	stored := func() store.Subscription {
		t.Helper()
		rec, err := e.st.LoadSession(ctx, s.ID.key())
		if err != nil || len(rec.Subscriptions) != 1 {
			t.Fatalf("LoadSession = %+v, %v", rec, err)
		}
		return rec.Subscriptions[0]
	}
	e.m.Delivered(s.ID, "a", 2, 10)
	if got := stored(); got.LastSeq != 0 {
		t.Errorf("Delivered wrote to the store: %+v", got)
	}
	if err := e.m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := stored(); got.Epoch != 2 || got.LastSeq != 10 {
		t.Errorf("after Flush: %+v", got)
	}
	e.m.Delivered(s.ID, "a", 2, 11)
	if err := e.m.Disconnect(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if got := stored(); got.LastSeq != 11 {
		t.Errorf("after Disconnect: %+v", got)
	}
	rec, _ := e.st.LoadSession(ctx, s.ID.key())
	if want := e.clock.Now().Add(ttl); !rec.ExpiresAt.Equal(want) {
		t.Errorf("expires %v, want %v", rec.ExpiresAt, want)
	}
}

func TestSharedSession(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s, _ := mustOpen(t, e.m, "")
	if err := e.m.Subscribe(ctx, s.ID, "a", ""); err != nil {
		t.Fatal(err)
	}
	// A reload: the new tab's socket opens before the old one closes.
	r, resumed := mustOpen(t, e.m, string(s.ID))
	if !resumed || len(r.Subscriptions) != 1 {
		t.Fatalf("second connection: resumed=%v subs=%v", resumed, r.Subscriptions)
	}
	if err := e.m.Disconnect(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.m.Count(); n != 1 {
		t.Errorf("Count = %d, want 1 while a connection holds it", n)
	}
	e.clock.Advance(2 * ttl)
	if n, _ := e.m.Sweep(ctx); n != 0 {
		t.Errorf("Sweep removed a held session")
	}
	if err := e.m.Disconnect(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Disconnect(ctx, s.ID); kind(err) != media.KindNotFound {
		t.Errorf("extra Disconnect = %v, want KindNotFound", err)
	}
}

func TestSubscribeErrors(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s, _ := mustOpen(t, e.m, "")
	tests := []struct {
		name string
		err  error
	}{
		{"unknown camera", e.m.Subscribe(ctx, s.ID, "ghost", "")},
		{"session not open", e.m.Subscribe(ctx, NewID(), "a", "")},
		{"unsubscribe session not open", e.m.Unsubscribe(ctx, NewID(), "a")},
	}
	for _, tt := range tests {
		if kind(tt.err) != media.KindNotFound {
			t.Errorf("%s: %v, want KindNotFound", tt.name, tt.err)
		}
	}
	if err := e.m.Subscribe(ctx, s.ID, "ghost", ""); err == nil || err.Error() != `subscribe: camera "ghost" does not exist` {
		t.Errorf("message: %v", err)
	}
}

func TestForgetCamera(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s, _ := mustOpen(t, e.m, "")
	off, _ := mustOpen(t, e.m, "")
	for _, id := range []ID{s.ID, off.ID} {
		for _, cam := range []media.CameraID{"a", "b"} {
			if err := e.m.Subscribe(ctx, id, cam, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.m.Disconnect(ctx, off.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.DeleteCamera(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := e.m.ForgetCamera(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	e.m.Delivered(s.ID, "a", 1, 1)
	if err := e.m.Disconnect(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []ID{s.ID, off.ID} {
		r, resumed := mustOpen(t, e.m, string(id))
		if !resumed || len(r.Subscriptions) != 1 {
			t.Errorf("session %s: resumed=%v subs=%v, want only b", id, resumed, r.Subscriptions)
		}
		if _, ok := r.Subscriptions["b"]; !ok {
			t.Errorf("session %s lost b: %v", id, r.Subscriptions)
		}
	}
}

func TestIDs(t *testing.T) {
	seen := map[ID]bool{}
	for range 1000 {
		id := NewID()
		if got, err := ParseID(string(id)); err != nil || got != id {
			t.Fatalf("NewID %q does not parse: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, _, err := e.m.Open(ctx, "")
			if err != nil {
				errs <- err
				return
			}
			if err := e.m.Subscribe(ctx, s.ID, "a", ""); err != nil {
				errs <- err
			}
			for seq := range uint64(200) {
				e.m.Delivered(s.ID, "a", 1, seq)
				if seq%50 == 0 {
					if err := e.m.Flush(ctx); err != nil {
						errs <- err
					}
					if _, err := e.m.Sweep(ctx); err != nil {
						errs <- err
					}
				}
			}
			if err := e.m.Disconnect(ctx, s.ID); err != nil {
				errs <- err
			}
			r, resumed, err := e.m.Open(ctx, string(s.ID))
			if err != nil || !resumed || r.Subscriptions["a"].LastSeq != 199 {
				errs <- fmt.Errorf("resume %s: resumed=%v subs=%v err=%v", s.ID, resumed, r, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := e.m.Count(); n != 8 {
		t.Errorf("Count = %d, want 8", n)
	}
}

// A subscription's rendition survives a resume from memory and one from
// the store (a server restart); subscribing again switches it and keeps
// the last delivered frame.
func TestResumeKeepsRendition(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s, _ := mustOpen(t, e.m, "")
	for _, sub := range []struct {
		cam media.CameraID
		r   media.Rendition
	}{{"a", media.RenditionGrid}, {"b", ""}} {
		if err := e.m.Subscribe(ctx, s.ID, sub.cam, sub.r); err != nil {
			t.Fatal(err)
		}
	}
	e.m.Delivered(s.ID, "a", 2, 40)
	if err := e.m.Disconnect(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	want := map[media.CameraID]Sub{"a": {Rendition: media.RenditionGrid, Epoch: 2, LastSeq: 40}, "b": {Rendition: media.RenditionFull}}
	r, resumed := mustOpen(t, e.m, string(s.ID))
	if !resumed || fmt.Sprint(r.Subscriptions) != fmt.Sprint(want) {
		t.Fatalf("resume from memory: %v, want %v", r.Subscriptions, want)
	}
	// Switch a to full: the position stays.
	if err := e.m.Subscribe(ctx, s.ID, "a", media.RenditionFull); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Subscribe(ctx, s.ID, "b", media.RenditionGrid); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Disconnect(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	// A restarted server has only the store.
	fresh := New(e.st, ttl, e.clock.Now)
	r, resumed, err := fresh.Open(ctx, string(s.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Disconnect(ctx, r.ID)
	want = map[media.CameraID]Sub{"a": {Rendition: media.RenditionFull, Epoch: 2, LastSeq: 40}, "b": {Rendition: media.RenditionGrid}}
	if !resumed || fmt.Sprint(r.Subscriptions) != fmt.Sprint(want) {
		t.Fatalf("resume from the store: %v, want %v", r.Subscriptions, want)
	}
}
