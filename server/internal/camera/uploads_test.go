package camera

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// An upload to a camera that does not exist creates it: invisible while
// the upload is checked, then a running camera with the video.
func TestUploadCreatesCamera(t *testing.T) {
	h := newHarness(t, Config{})
	h.prober.shut()
	res := make(chan error, 1)
	go func() {
		_, err := h.upload("cam", 1)
		res <- err
	}()
	h.prober.arrived(t, 1)
	if _, err := h.m.Get("cam"); !media.IsKind(err, media.KindNotFound) {
		t.Fatalf("camera visible while its first upload is checked: %v", err)
	}
	if n := len(h.m.List()); n != 0 {
		t.Fatalf("List has %d cameras during the upload, want 0", n)
	}
	h.prober.open()
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	v, err := h.m.Get("cam")
	if err != nil {
		t.Fatal(err)
	}
	if v.Epoch != 1 || v.Video == nil || v.Name != "cam" || !v.Loop || v.Speed != 1 {
		t.Fatalf("created camera = %+v, want epoch 1 with a video, default settings", v)
	}
	if _, n := h.watch("cam").next(); n != 1 {
		t.Fatalf("plays video %d, want 1", n)
	}
}

// A failed upload that was creating a camera leaves no camera and no
// reservation behind: the id can be created afterwards.
func TestFailedUploadLeavesNoCamera(t *testing.T) {
	h := newHarness(t, Config{MaxCameras: 1})
	tf, err := h.st.CreateTemp()
	if err != nil {
		t.Fatal(err)
	}
	tf.Write([]byte("not a video"))
	if _, err := h.m.PublishUpload(context.Background(), "cam", tf, "x.avi"); err == nil {
		t.Fatal("a file that is not a video was accepted")
	}
	if _, err := h.m.Get("cam"); !media.IsKind(err, media.KindNotFound) {
		t.Fatalf("failed upload left a camera: %v", err)
	}
	if _, err := h.m.Create(context.Background(), "other", Settings{}); err != nil {
		t.Fatalf("the failed upload still holds a camera slot: %v", err)
	}
	if f := h.files(); len(f) != 0 {
		t.Fatalf("files left: %v", f)
	}
}

// Two uploads to a new camera, checked at the same time: both publish, one
// after the other; the camera ends on the second one's video with one
// decoder, and only its file is kept.
func TestUploadsRace(t *testing.T) {
	h := newHarness(t, Config{})
	h.prober.shut()
	type result struct {
		u   Upload
		err error
	}
	res := make(chan result, 2)
	for _, n := range []int{1, 2} {
		go func() {
			u, err := h.m.PublishUpload(context.Background(), "cam", h.temp(video(n)), "clip.avi")
			res <- result{u, err}
		}()
	}
	h.prober.arrived(t, 2)
	h.prober.open()
	var epochs []uint64
	for range 2 {
		r := <-res
		if r.err != nil {
			t.Fatal(r.err)
		}
		epochs = append(epochs, r.u.Camera.Epoch)
	}
	slices.Sort(epochs)
	if !slices.Equal(epochs, []uint64{1, 2}) {
		t.Fatalf("upload epochs %v, want 1 and 2 (one after the other)", epochs)
	}
	v, err := h.m.Get("cam")
	if err != nil {
		t.Fatal(err)
	}
	if v.Epoch != 2 {
		t.Fatalf("camera epoch %d, want 2", v.Epoch)
	}
	if f := h.files(); len(f) != 1 || f[0] != "videos/"+v.Video.Upload+".avi" {
		t.Fatalf("files %v, want only the current video %s", f, v.Video.Upload)
	}
	// One decoder: every frame from here on is of the last run's video.
	want := 0
	vw := h.watch("cam")
	for range 20 {
		f, n := vw.next()
		if f.Epoch != 2 {
			t.Fatalf("frame of epoch %d, want 2", f.Epoch)
		}
		if want == 0 {
			want = n
		}
		if n != want {
			t.Fatalf("frames of videos %d and %d: two decoders run", want, n)
		}
	}
}

// A new upload replaces the run at once: when PublishUpload returns, no
// viewer can get a frame of the old run, waiting in its mailbox or as the
// camera's latest frame. (The new decoder is held at its open, so only old
// frames could be there.)
func TestUploadReplacesRun(t *testing.T) {
	h := newHarness(t, Config{})
	h.mustUpload("cam", 1)
	vw := h.watch("cam")
	if _, n := vw.next(); n != 1 {
		t.Fatalf("video %d, want 1", n)
	}
	eventually(t, "a frame waiting for the viewer", func() bool { return len(vw.sub.Ready()) > 0 })
	h.opener.shut()
	u := h.mustUpload("cam", 2)
	if f := h.hub.Latest("cam"); f != nil {
		t.Fatalf("hub's latest frame after the upload is of epoch %d, want none until the new run's first", f.Epoch)
	}
	if f, ok := vw.sub.Next(); ok {
		t.Fatalf("a frame of epoch %d still waits for the viewer after the upload", f.Epoch)
	}
	late := h.watch("cam")
	h.opener.open()
	for _, v := range []*viewer{vw, late} {
		f, n := v.next()
		if n != 2 || f.Epoch != u.Camera.Epoch {
			t.Fatalf("first frame after the upload: video %d epoch %d, want video 2 epoch %d", n, f.Epoch, u.Camera.Epoch)
		}
	}
}

// Uploads to one camera publish one at a time: while one holds the
// camera's operation lock (here: held at its event), another upload,
// already checked, does not publish.
func TestUploadsSerialised(t *testing.T) {
	h := newHarness(t, Config{})
	ctx := context.Background()
	h.mustUpload("cam", 1)
	h.m.events.mu.Lock() // the next upload stops at its epoch event
	locked := true
	defer func() {
		if locked {
			h.m.events.mu.Unlock()
		}
	}()
	res := make(chan error, 2)
	go func() {
		_, err := h.upload("cam", 2)
		res <- err
	}()
	epoch := func() uint64 {
		rec, _ := h.st.Camera(ctx, "cam")
		return rec.Epoch
	}
	eventually(t, "the first upload to publish", func() bool { return epoch() == 2 })
	go func() {
		_, err := h.upload("cam", 3)
		res <- err
	}()
	// A negative check, bounded: the second upload must not publish while
	// the first holds the camera.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.After(500 * time.Millisecond); ; {
		if epoch() != 2 {
			t.Fatal("a second upload published while the first held the camera's operation lock")
		}
		select {
		case <-tick.C:
			continue
		case <-deadline:
		}
		break
	}
	h.m.events.mu.Unlock()
	locked = false
	for range 2 {
		if err := <-res; err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := h.m.Get("cam"); v.Epoch != 3 {
		t.Fatalf("epoch %d, want 3", v.Epoch)
	}
	vw := h.watch("cam")
	for range 10 {
		if f, n := vw.next(); n != 3 || f.Epoch != 3 {
			t.Fatalf("frame of video %d epoch %d, want only video 3 epoch 3", n, f.Epoch)
		}
	}
}

// A camera deleted while an upload to it is checked stays deleted: the
// upload is refused and leaves no file, no record and no decoder.
func TestDeleteWhileProbing(t *testing.T) {
	h := newHarness(t, Config{})
	h.mustUpload("cam", 1)
	h.prober.shut()
	res := make(chan error, 1)
	go func() {
		_, err := h.upload("cam", 2)
		res <- err
	}()
	h.prober.arrived(t, 1)
	if err := h.m.Delete(context.Background(), "cam"); err != nil {
		t.Fatalf("delete while an upload is checked: %v", err)
	}
	h.prober.open()
	wantKind(t, <-res, media.KindNotFound)
	if _, err := h.m.Get("cam"); !media.IsKind(err, media.KindNotFound) {
		t.Fatalf("deleted camera is back: %v", err)
	}
	if _, err := h.st.Camera(context.Background(), "cam"); !media.IsKind(err, media.KindNotFound) {
		t.Fatalf("deleted camera is stored again: %v", err)
	}
	if e := h.entry("cam"); e != nil {
		t.Fatalf("the manager still holds an entry for the deleted camera (phase %d)", e.phase)
	}
	if f := h.files(); len(f) != 0 {
		t.Fatalf("files left: %v", f)
	}
}

// --max-cameras counts cameras being created by uploads: two uploads that
// each create a camera, checked while one slot is free, cannot both.
func TestMaxCamerasCountsUploads(t *testing.T) {
	h := newHarness(t, Config{MaxCameras: 1})
	h.prober.shut()
	res := make(chan error, 2)
	for _, id := range []media.CameraID{"a", "b"} {
		go func() {
			_, err := h.upload(id, 1)
			res <- err
		}()
	}
	h.prober.arrived(t, 2)
	h.prober.open()
	var ok, limited int
	for range 2 {
		switch err := <-res; {
		case err == nil:
			ok++
		case media.IsKind(err, media.KindCameraLimit):
			limited++
		default:
			t.Fatal(err)
		}
	}
	if ok != 1 || limited != 1 {
		t.Fatalf("%d uploads created a camera and %d hit the limit, want 1 and 1", ok, limited)
	}
	if n := len(h.m.List()); n != 1 {
		t.Fatalf("%d cameras, want 1", n)
	}
	// The cap refuses a new camera before its upload is even checked, and
	// never an upload to an existing camera.
	before := h.prober.count()
	_, err := h.upload("c", 1)
	wantKind(t, err, media.KindCameraLimit)
	if h.prober.count() != before {
		t.Fatal("an upload over the camera cap was probed")
	}
	id := h.m.List()[0].ID
	if _, err := h.upload(id, 2); err != nil {
		t.Fatalf("upload to an existing camera at the cap: %v", err)
	}
}
