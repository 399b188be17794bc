package camera

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
	"github.com/livemon/livemon/server/internal/synth"
)

// A camera released by one node and adopted by another keeps playing the
// same run: same epoch, same video and upload id, seqs above the released
// ones and the file position where the first node left it. The first node
// forgets it without deleting it.
func TestReleaseAdoptContinuesRun(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	a := startHarness(t, Config{}, Deps{})
	b := startHarness(t, Config{}, Deps{})
	ctx := context.Background()
	u := a.mustUpload("cam", 1)
	if _, err := a.m.Update(ctx, "cam", Settings{Name: ptr("Hall"), Speed: ptr(2.0), Grid: &media.Grid{Width: 160}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.m.Restart(ctx, "cam"); err != nil { // epoch 2: adopting must not reset it
		t.Fatal(err)
	}
	events := a.events()
	vw := a.watch("cam")
	var last *media.Frame
	for range 20 {
		last, _ = vw.next()
	}

	r, err := a.m.Release(ctx, "cam")
	if err != nil {
		t.Fatal(err)
	}
	if r.Camera.Epoch != 2 || r.Camera.Seq < last.Seq || !r.Camera.Running || r.Video == nil || r.Video.ID != u.ID {
		t.Fatalf("released record %+v video %+v: want epoch 2, seq >= %d, running, upload %s", r.Camera, r.Video, last.Seq, u.ID)
	}
	if !vw.ended() {
		t.Fatal("a viewer on the releasing node was not ended")
	}
	if _, err := a.m.Get("cam"); !media.IsKind(err, media.KindNotFound) {
		t.Fatalf("the releasing node still has the camera: %v", err)
	}
	if f := a.files(); len(f) != 0 {
		t.Fatalf("the releasing node kept files: %v", f)
	}
	if got := a.forgot.calls(); len(got) != 0 {
		t.Fatalf("a release made forgetters forget %v", got)
	}
	for _, ev := range events() {
		if ev.Kind == EventDeleted {
			t.Fatal("a release published EventDeleted")
		}
	}

	v, err := b.m.Adopt(ctx, r, b.temp(video(1)))
	if err != nil {
		t.Fatal(err)
	}
	if v.Epoch != 2 || v.Name != "Hall" || v.Speed != 2 || v.GridOwn.Width != 160 || v.Video == nil || v.Video.Upload != u.ID {
		t.Fatalf("adopted view %+v", v)
	}
	f, n := b.watch("cam").next()
	_, frame, _ := synth.ReadMarker(f.JPEG)
	if n != 1 || f.Epoch != 2 || f.Seq <= r.Camera.Seq {
		t.Fatalf("first adopted frame: video %d epoch %d seq %d, want video 1 epoch 2 seq > %d", n, f.Epoch, f.Seq, r.Camera.Seq)
	}
	// Within a third of a second (10 frames at 30 fps, played at 2x) of
	// the released position; the synthetic video has 90 frames and loops.
	if d := (int64(frame) - r.Camera.Frame + 90) % 90; d > 20 {
		t.Fatalf("first adopted frame is file frame %d, released at %d", frame, r.Camera.Frame)
	}
	if rec, err := b.st.Camera(ctx, "cam"); err != nil || rec.Epoch != 2 {
		t.Fatalf("adopting node stored %+v, %v", rec, err)
	}
}

// Adopt refuses what it cannot run as recorded and leaves nothing behind;
// a stored row of the id left from an earlier life is replaced; a live
// source keeps its epoch.
func TestAdoptRefusals(t *testing.T) {
	h := newHarness(t, Config{MaxCameras: 2})
	ctx := context.Background()
	info := video(1)
	rec := Record{
		Camera: store.Camera{ID: "cam", Name: "Cam", Loop: true, Speed: 1, Epoch: 7, Seq: 300, Frame: 12},
		Video: &store.Upload{ID: store.NewUploadID(), File: "x.avi", OriginalName: "clip.avi", Size: int64(len(info.String())),
			Info: media.VideoInfo{Width: 96, Height: 64, FPS: 30, Frames: 90}},
	}
	bad := rec
	bad.Video = &store.Upload{ID: rec.Video.ID, File: "x.avi", Size: 3}
	_, err := h.m.Adopt(ctx, bad, h.temp(info))
	wantKind(t, err, media.KindInvalid)
	_, err = h.m.Adopt(ctx, rec, nil)
	wantKind(t, err, media.KindInvalid)
	if f := h.files(); len(f) != 0 {
		t.Fatalf("refused adoptions left files: %v", f)
	}
	if _, err := h.m.Get("cam"); !media.IsKind(err, media.KindNotFound) {
		t.Fatal("a refused adoption created the camera")
	}

	// A stale row from an earlier life of this node, unknown to the manager.
	if _, err := h.st.CreateCamera(ctx, store.Camera{ID: "cam", Name: "Old"}); err != nil {
		t.Fatal(err)
	}
	v, err := h.m.Adopt(ctx, rec, h.temp(info))
	if err != nil {
		t.Fatal(err)
	}
	if v.Epoch != 7 || v.Name != "Cam" || v.State != media.StateStopped || v.Position != 0.4 {
		t.Fatalf("adopted a stopped camera: %+v", v)
	}
	_, err = h.m.Adopt(ctx, rec, h.temp(info))
	wantKind(t, err, media.KindConflict)

	live := Record{Camera: store.Camera{ID: "live", Name: "Live", Speed: 1, Epoch: 4, Seq: 50,
		SourceURL: "http://127.0.0.1:1/mjpeg"}}
	v, err = h.m.Adopt(ctx, live, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Epoch != 4 || v.Source.Kind == media.SourceFile || v.Video != nil {
		t.Fatalf("adopted live camera: %+v", v)
	}
	over := live
	over.Camera.ID = "third"
	_, err = h.m.Adopt(ctx, over, nil)
	wantKind(t, err, media.KindCameraLimit)
}

// The checkpoint observer hears the position the store was given, every
// interval while a camera plays and once more when it stops.
func TestCheckpointObserver(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	observe := func(every time.Duration) (*harness, func() []Checkpoint) {
		var mu sync.Mutex
		var got []Checkpoint
		h := startHarness(t, Config{CheckpointEvery: every}, Deps{OnCheckpoint: func(cp Checkpoint) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, cp)
		}})
		return h, func() []Checkpoint {
			mu.Lock()
			defer mu.Unlock()
			return append([]Checkpoint(nil), got...)
		}
	}
	ticking, seen := observe(50 * time.Millisecond)
	u := ticking.mustUpload("cam", 1)
	ticking.watch("cam")
	eventually(t, "checkpoints with a growing seq", func() bool {
		cps := seen()
		return len(cps) >= 2 && cps[len(cps)-1].Seq > cps[0].Seq && cps[len(cps)-1].Position > 0
	})
	for _, cp := range seen() {
		if cp.Camera != "cam" || cp.Epoch != u.Camera.Epoch {
			t.Fatalf("checkpoint %+v, want camera cam epoch %d", cp, u.Camera.Epoch)
		}
	}

	// No periodic checkpoint here: the one observed is the stop's.
	stopping, seen := observe(time.Hour)
	stopping.mustUpload("cam", 1)
	vw := stopping.watch("cam")
	for range 5 {
		vw.next()
	}
	v, err := stopping.m.Stop(context.Background(), "cam")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := stopping.st.Camera(context.Background(), "cam")
	if err != nil {
		t.Fatal(err)
	}
	cps := seen()
	if len(cps) != 1 || cps[0].Seq != rec.Seq || cps[0].Frame != rec.Frame || cps[0].Seq != v.Seq || cps[0].Epoch != rec.Epoch {
		t.Fatalf("observed %+v on stop; stored seq %d frame %d, view seq %d", cps, rec.Seq, rec.Frame, v.Seq)
	}
}
