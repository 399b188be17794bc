package camera

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

func ptr[T any](v T) *T { return &v }

// Restart starts a new run: the epoch grows, the old run's frames are
// gone, and the new run plays from the start.
func TestRestartBumpsEpoch(t *testing.T) {
	h := newHarness(t, Config{})
	u := h.mustUpload("cam", 1)
	vw := h.watch("cam")
	for range 5 {
		vw.next()
	}
	v, err := h.m.Restart(context.Background(), "cam")
	if err != nil {
		t.Fatal(err)
	}
	if v.Epoch != u.Camera.Epoch+1 {
		t.Fatalf("epoch after restart %d, want %d", v.Epoch, u.Camera.Epoch+1)
	}
	f, _ := vw.next()
	if f.Epoch != v.Epoch || f.Seq > 5 {
		t.Fatalf("first frame after restart: epoch %d seq %d, want epoch %d from the start", f.Epoch, f.Seq, v.Epoch)
	}
	if rec, _ := h.st.Camera(context.Background(), "cam"); rec.Epoch != v.Epoch {
		t.Fatalf("stored epoch %d, want %d", rec.Epoch, v.Epoch)
	}
}

// Speed, loop and name change live: same decoder, same epoch, no reopen,
// seq keeps growing, and only settings events.
func TestSettingsNeverRestart(t *testing.T) {
	h := newHarness(t, Config{})
	u := h.mustUpload("cam", 1)
	events := h.events()
	vw := h.watch("cam")
	first, _ := vw.next()
	dec, opens := h.decoder("cam"), h.opener.opens()
	for _, s := range []Settings{
		{Speed: ptr(2.0)},
		{Loop: ptr(false)},
		{Speed: ptr(0.5), Loop: ptr(true), Name: ptr("Hall")},
	} {
		v, err := h.m.Update(context.Background(), "cam", s)
		if err != nil {
			t.Fatal(err)
		}
		if v.Epoch != u.Camera.Epoch {
			t.Fatalf("epoch %d after a settings change, want %d", v.Epoch, u.Camera.Epoch)
		}
	}
	f, _ := vw.next()
	if f.Epoch != first.Epoch || f.Seq <= first.Seq {
		t.Fatalf("frame after settings: epoch %d seq %d, want epoch %d, seq > %d", f.Epoch, f.Seq, first.Epoch, first.Seq)
	}
	if h.decoder("cam") != dec || h.opener.opens() != opens {
		t.Fatal("a settings change restarted the decoder")
	}
	v, _ := h.m.Get("cam")
	if v.Speed != 0.5 || !v.Loop || v.Name != "Hall" {
		t.Fatalf("settings not applied: %+v", v)
	}
	eventually(t, "three settings events", func() bool {
		n := 0
		for _, ev := range events() {
			if ev.Kind == EventSettings {
				n++
			}
		}
		return n == 3
	})
	for _, ev := range events() {
		if ev.Kind == EventEpoch {
			t.Fatalf("a settings change sent an epoch event: %+v", ev)
		}
	}
}

// Stop while the decoder reports a state change: the change that was on
// its way (running, from an open that completed as the stop came) must
// not outlive the stop, and nothing deadlocks.
func TestStopWhileStatusInFlight(t *testing.T) {
	h := newHarness(t, Config{})
	h.opener.shut()
	h.mustUpload("cam", 1)
	h.opener.arrived(t, 1) // the decoder is opening its file
	events := h.events()
	stopped := make(chan error, 1)
	go func() {
		_, err := h.m.Stop(context.Background(), "cam")
		stopped <- err
	}()
	// The open completes when Stop cancels the decoder, which then reports
	// running while Stop waits for it.
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("Stop did not return: the status callback and Stop deadlock")
	}
	if h.opener.opens() != 1 {
		t.Fatalf("%d opens, want the one that raced with Stop", h.opener.opens())
	}
	v, err := h.m.Get("cam")
	if err != nil {
		t.Fatal(err)
	}
	if v.State != media.StateStopped {
		t.Fatalf("state %s after Stop, want stopped", v.State)
	}
	eventually(t, "the stop event", func() bool {
		evs := events()
		return len(evs) > 0 && evs[len(evs)-1].View.State == media.StateStopped
	})
	evs := events()
	for i, ev := range evs {
		if ev.View.State == media.StateStopped {
			for _, later := range evs[i+1:] {
				if later.View.State != media.StateStopped {
					t.Fatalf("event %s/%s after the stop event", later.Kind, later.View.State)
				}
			}
			break
		}
	}
	if rec, _ := h.st.Camera(context.Background(), "cam"); rec.Running {
		t.Fatal("stored as running after Stop")
	}
}

// Delete ends the camera's viewers and is heard once by every Forgetter;
// the id is free afterwards.
func TestDeleteForgets(t *testing.T) {
	h := newHarness(t, Config{})
	h.mustUpload("cam", 1)
	vw := h.watch("cam")
	vw.next()
	if err := h.m.Delete(context.Background(), "cam"); err != nil {
		t.Fatal(err)
	}
	if !vw.ended() {
		t.Fatal("the viewer's subscription did not end")
	}
	if _, ok := h.hub.Stats("cam"); ok {
		t.Fatal("the hub still has the deleted camera's topic")
	}
	if got := h.forgot.calls(); !slices.Equal(got, []media.CameraID{"cam"}) {
		t.Fatalf("forgetters heard %v, want [cam]", got)
	}
	if h.decoder("cam") != nil || h.entry("cam") != nil {
		t.Fatal("the manager still holds the deleted camera")
	}
	wantKind(t, h.m.Delete(context.Background(), "cam"), media.KindNotFound)
	if got := h.forgot.calls(); len(got) != 1 {
		t.Fatalf("a failed delete was heard: %v", got)
	}
	if f := h.files(); len(f) != 0 {
		t.Fatalf("files left: %v", f)
	}
}

// Delete, then create the same id again while a viewer watches it: the
// viewer's old subscription ends; watching the id again shows the new
// camera's video, and its epoch is above every epoch the old one had.
func TestDeleteRecreateSameID(t *testing.T) {
	h := newHarness(t, Config{})
	h.mustUpload("cam", 1)
	if _, err := h.m.Restart(context.Background(), "cam"); err != nil {
		t.Fatal(err)
	}
	vw := h.watch("cam")
	old, n := vw.next()
	if n != 1 || old.Epoch != 2 {
		t.Fatalf("before delete: video %d epoch %d, want 1 and 2", n, old.Epoch)
	}
	if err := h.m.Delete(context.Background(), "cam"); err != nil {
		t.Fatal(err)
	}
	if !vw.ended() {
		t.Fatal("the viewer's subscription did not end with the camera")
	}
	c, err := h.m.Create(context.Background(), "cam", Settings{Name: ptr("Again")})
	if err != nil {
		t.Fatal(err)
	}
	if c.Epoch < old.Epoch {
		t.Fatalf("re-created camera starts at epoch %d, below the old camera's %d", c.Epoch, old.Epoch)
	}
	again := h.watch("cam")
	u := h.mustUpload("cam", 2)
	if u.Camera.Epoch <= old.Epoch {
		t.Fatalf("new camera's run has epoch %d, want above %d", u.Camera.Epoch, old.Epoch)
	}
	f, n := again.next()
	if n != 2 || f.Epoch != u.Camera.Epoch {
		t.Fatalf("viewer of the re-created camera got video %d epoch %d, want video 2 epoch %d", n, f.Epoch, u.Camera.Epoch)
	}
	if v, _ := h.m.Get("cam"); v.Name != "Again" {
		t.Fatalf("name %q, want the new camera's", v.Name)
	}
}

// --max-cameras: Create beyond the cap is a camera_limit error; deleting a
// camera frees its slot.
func TestMaxCamerasCreate(t *testing.T) {
	h := newHarness(t, Config{MaxCameras: 2})
	ctx := context.Background()
	for _, id := range []media.CameraID{"a", "b"} {
		if _, err := h.m.Create(ctx, id, Settings{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := h.m.Create(ctx, "c", Settings{})
	wantKind(t, err, media.KindCameraLimit)
	if _, err := h.m.Get("c"); !media.IsKind(err, media.KindNotFound) {
		t.Fatal("a camera over the cap was created")
	}
	if err := h.m.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.m.Create(ctx, "c", Settings{}); err != nil {
		t.Fatalf("create after a delete freed a slot: %v", err)
	}
	_, err = h.m.Create(ctx, "b", Settings{})
	wantKind(t, err, media.KindConflict)
}
