package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func kindOf(err error) (media.Kind, bool) {
	var me *media.Error
	if errors.As(err, &me) {
		return me.Kind, true
	}
	return 0, false
}

func wantKind(t *testing.T, err error, k media.Kind) {
	t.Helper()
	got, ok := kindOf(err)
	if !ok || got != k {
		t.Fatalf("error %v: kind %v (media error %v), want %v", err, got, ok, k)
	}
}

// dirNames lists a data subdirectory.
func dirNames(t *testing.T, s *Store, sub string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.Dir(), sub))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// temp writes data into a new temp file.
func temp(t *testing.T, s *Store, data string) *TempFile {
	t.Helper()
	tf, err := s.CreateTemp()
	if err != nil {
		t.Fatalf("CreateTemp: %v", err)
	}
	if _, err := tf.Write([]byte(data)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return tf
}

func publish(t *testing.T, s *Store, cam media.CameraID, data string) PublishResult {
	t.Helper()
	tf := temp(t, s, data)
	res, err := s.PublishUpload(context.Background(), tf, Upload{Camera: cam, OriginalName: "clip.MP4",
		Info: media.VideoInfo{Width: 64, Height: 48, FPS: 25, Frames: 50, Duration: 2 * time.Second, Codec: "mjpg"}}, ".MP4")
	if err != nil {
		t.Fatalf("PublishUpload: %v", err)
	}
	return res
}

func TestOpenCreatesLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	s := openTest(t, dir)
	for _, name := range []string{"videos", "tmp", "livemon.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s missing: %v", name, err)
		}
	}
	if !filepath.IsAbs(s.Dir()) {
		t.Errorf("Dir() = %q, want absolute", s.Dir())
	}
	if err := s.Ready(context.Background()); err != nil {
		t.Errorf("Ready: %v", err)
	}
	if got := dirNames(t, s, "tmp"); len(got) != 0 {
		t.Errorf("Ready left files in tmp: %v", got)
	}
}

func TestReadyFailsWhenClosed(t *testing.T) {
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Ready(context.Background()); err == nil {
		t.Fatal("Ready after Close: want error")
	}
}

func TestCameraCRUD(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	if _, err := s.CreateCamera(ctx, Camera{ID: "a", Name: "A", Loop: true, Speed: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateCamera(ctx, Camera{ID: "b"}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		do   func() error
		kind media.Kind
	}{
		{"create existing", func() error { _, err := s.CreateCamera(ctx, Camera{ID: "a"}); return err }, media.KindConflict},
		{"create invalid id", func() error { _, err := s.CreateCamera(ctx, Camera{ID: "../x"}); return err }, media.KindInvalid},
		{"get missing", func() error { _, err := s.Camera(ctx, "nope"); return err }, media.KindNotFound},
		{"update missing", func() error {
			_, err := s.UpdateCamera(ctx, "nope", func(*Camera) error { return nil })
			return err
		}, media.KindNotFound},
		{"start without video", func() error {
			_, err := s.UpdateCamera(ctx, "a", func(c *Camera) error { c.Running = true; return nil })
			return err
		}, media.KindConflict},
		{"restart without video", func() error { _, err := s.RestartCamera(ctx, "a"); return err }, media.KindConflict},
		{"delete missing", func() error { _, err := s.DeleteCamera(ctx, "nope"); return err }, media.KindNotFound},
		{"checkpoint missing", func() error { return s.Checkpoint(ctx, "nope", 1, 1, 1) }, media.KindNotFound},
		{"upload missing", func() error { _, err := s.Upload(ctx, "u_0000000000000000"); return err }, media.KindNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantKind(t, tt.do(), tt.kind) })
	}

	if _, err := s.Camera(ctx, "nope"); err == nil || err.Error() != `camera "nope" does not exist` {
		t.Errorf("not found message = %v", err)
	}

	a, err := s.Camera(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "A" || !a.Loop || a.Speed != 2 || a.Running || a.Epoch != 0 || a.UploadID != "" || a.CreatedAt.IsZero() {
		t.Errorf("camera a = %+v", a)
	}
	b, _ := s.Camera(ctx, "b")
	if b.Name != "b" || b.Speed != 1 {
		t.Errorf("defaults: camera b = %+v", b)
	}

	sentinel := errors.New("nope")
	if _, err := s.UpdateCamera(ctx, "a", func(c *Camera) error { c.Name = "changed"; return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("UpdateCamera fn error = %v, want sentinel", err)
	}
	upd, err := s.UpdateCamera(ctx, "a", func(c *Camera) error {
		c.Name, c.Loop, c.Speed = "A2", false, 0.5
		c.ID, c.UploadID = "hijack", "u_0000000000000000" // ignored
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Camera(ctx, "a")
	if got.Name != "A2" || got.Loop || got.Speed != 0.5 || got.ID != "a" || got.UploadID != "" || upd.Name != "A2" {
		t.Errorf("after update = %+v (returned %+v)", got, upd)
	}

	cams, err := s.Cameras(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cams) != 2 || cams[0].ID != "a" || cams[1].ID != "b" {
		t.Errorf("Cameras = %+v, want a, b", cams)
	}
	if _, err := s.DeleteCamera(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Camera(ctx, "b"); err == nil {
		t.Error("b still exists after delete")
	}
}

func TestPublishUpload(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())

	tf := temp(t, s, "first video")
	if !strings.HasPrefix(tf.Path(), s.Dir()) || tf.Size() != int64(len("first video")) {
		t.Fatalf("temp Path %q Size %d", tf.Path(), tf.Size())
	}
	if data, err := os.ReadFile(tf.Path()); err != nil || string(data) != "first video" {
		t.Fatalf("temp file via Path: %q %v", data, err)
	}
	r1, err := s.PublishUpload(ctx, tf, Upload{Camera: "cam1", OriginalName: `C:\fakepath\My Clip.MP4`}, ".MP4")
	if err != nil {
		t.Fatal(err)
	}
	tf.Abort() // no-op after publish
	u := r1.Upload
	if !uploadIDPattern.MatchString(u.ID) || u.File != u.ID+".mp4" || u.OriginalName != "My Clip.MP4" || u.Size != 11 {
		t.Errorf("upload = %+v", u)
	}
	if r1.Previous != nil {
		t.Errorf("Previous = %+v, want nil", r1.Previous)
	}
	c := r1.Camera
	if c.ID != "cam1" || c.Name != "cam1" || !c.Loop || c.Speed != 1 || !c.Running || c.Epoch != 1 || c.UploadID != u.ID {
		t.Errorf("camera = %+v", c)
	}
	if got := dirNames(t, s, "videos"); !slices.Equal(got, []string{u.File}) {
		t.Errorf("videos/ = %v", got)
	}
	if got := dirNames(t, s, "tmp"); len(got) != 0 {
		t.Errorf("tmp/ = %v", got)
	}
	if data, err := os.ReadFile(s.VideoPath(u)); err != nil || string(data) != "first video" {
		t.Errorf("video content %q, %v", data, err)
	}
	if got, err := s.Upload(ctx, u.ID); err != nil || got.File != u.File || got.Camera != "cam1" {
		t.Errorf("Upload = %+v, %v", got, err)
	}

	// Checkpoint, then replace the video: new epoch, position reset.
	if err := s.Checkpoint(ctx, "cam1", 1, 100, 40); err != nil {
		t.Fatal(err)
	}
	r2 := publish(t, s, "cam1", "second video")
	if r2.Previous == nil || r2.Previous.ID != u.ID {
		t.Fatalf("Previous = %+v, want %s", r2.Previous, u.ID)
	}
	if c := r2.Camera; c.Epoch != 2 || c.Seq != 0 || c.Frame != 0 || !c.Running || c.UploadID != r2.Upload.ID {
		t.Errorf("camera after replace = %+v", c)
	}
	if r2.Upload.Info.Duration != 2*time.Second || r2.Upload.Info.Codec != "mjpg" {
		t.Errorf("info = %+v", r2.Upload.Info)
	}
	wantKind(t, s.DeleteUpload(ctx, r2.Upload.ID), media.KindConflict)
	if err := s.DeleteUpload(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, s, "videos"); !slices.Equal(got, []string{r2.Upload.File}) {
		t.Errorf("videos/ after DeleteUpload = %v", got)
	}
	wantKind(t, s.DeleteUpload(ctx, u.ID), media.KindNotFound)
}

func TestDeleteUploadFileAlreadyGone(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	r1 := publish(t, s, "c", "one")
	publish(t, s, "c", "two")
	if err := os.Remove(s.VideoPath(r1.Upload)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUpload(ctx, r1.Upload.ID); err != nil {
		t.Fatalf("DeleteUpload with file gone: %v", err)
	}
}

func TestPublishUploadRollback(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, s *Store)
		u     Upload
		kind  media.Kind
	}{
		{
			name: "camera update fails",
			setup: func(t *testing.T, s *Store) {
				_, err := s.db.Exec(`CREATE TRIGGER fail_update BEFORE UPDATE ON cameras BEGIN SELECT RAISE(ABORT, 'injected'); END`)
				if err != nil {
					t.Fatal(err)
				}
			},
			u:    Upload{Camera: "cam"},
			kind: media.KindInternal,
		},
		{
			name: "upload insert fails",
			setup: func(t *testing.T, s *Store) {
				_, err := s.db.Exec(`CREATE TRIGGER fail_insert BEFORE INSERT ON uploads BEGIN SELECT RAISE(ABORT, 'injected'); END`)
				if err != nil {
					t.Fatal(err)
				}
			},
			u:    Upload{Camera: "cam"},
			kind: media.KindInternal,
		},
		{name: "invalid camera id", u: Upload{Camera: "no/slash"}, kind: media.KindInvalid},
		{name: "malformed upload id", u: Upload{ID: "../../etc", Camera: "cam"}, kind: media.KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, t.TempDir())
			before := publish(t, s, "cam", "old")
			if tt.setup != nil {
				tt.setup(t, s)
			}
			tf := temp(t, s, "new")
			_, err := s.PublishUpload(ctx, tf, tt.u, ".avi")
			if err == nil {
				t.Fatal("PublishUpload: want error")
			}
			if k, _ := kindOf(err); k != tt.kind {
				t.Errorf("kind %v, want %v (%v)", k, tt.kind, err)
			}
			if got := dirNames(t, s, "videos"); !slices.Equal(got, []string{before.Upload.File}) {
				t.Errorf("videos/ = %v, want only %s", got, before.Upload.File)
			}
			if got := dirNames(t, s, "tmp"); len(got) != 0 {
				t.Errorf("tmp/ = %v, want empty", got)
			}
			c, err := s.Camera(ctx, "cam")
			if err != nil {
				t.Fatal(err)
			}
			if c.Epoch != before.Camera.Epoch || c.UploadID != before.Upload.ID {
				t.Errorf("camera changed: %+v", c)
			}
			ups, err := s.Uploads(ctx, "cam")
			if err != nil || len(ups) != 1 {
				t.Errorf("uploads = %+v, %v", ups, err)
			}
		})
	}
}

func TestSanitizeExt(t *testing.T) {
	tests := map[string]string{
		".mp4": ".mp4", "MP4": ".mp4", ".M.K.V": ".mkv", "": ".bin", ".": ".bin",
		".toolong": ".bin", "./../": ".bin", ".wébm": ".wbm", ".a/b": ".ab", ".m2ts": ".m2ts",
	}
	for in, want := range tests {
		if got := SanitizeExt(in); got != want {
			t.Errorf("SanitizeExt(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSanitizeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"clip.mp4", "clip.mp4"},
		{"../../etc/passwd", "passwd"},
		{`C:\fakepath\video.avi`, "video.avi"},
		{"..", "video"},
		{"", "video"},
		{"a..b...mp4", "a.b.mp4"},
		{"bad\x00name\n.mp4", "badname.mp4"},
		{"\u202egnp.exe", "gnp.exe"},
		{"  spaced  ", "spaced"},
		{"bad\xffutf8.mp4", "badutf8.mp4"},
		{"영상.mp4", "영상.mp4"},
		{strings.Repeat("가", 200), strings.Repeat("가", 128)},
	}
	for _, tt := range tests {
		if got := SanitizeName(tt.in); got != tt.want {
			t.Errorf("SanitizeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCheckpoint(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	publish(t, s, "cam", "v") // epoch 1
	if err := s.Checkpoint(ctx, "cam", 1, 50, 20); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		epoch, seq uint64
		frame      int64
		wantSeq    uint64
		wantFrame  int64
	}{
		{"current epoch advances", 1, 60, 30, 60, 30},
		{"stale epoch ignored", 0, 999, 999, 60, 30},
		{"future epoch ignored", 2, 999, 999, 60, 30},
		{"older seq ignored", 1, 10, 5, 60, 30},
		{"loop wraps frame", 1, 70, 2, 70, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Checkpoint(ctx, "cam", tt.epoch, tt.seq, tt.frame); err != nil {
				t.Fatal(err)
			}
			c, _ := s.Camera(ctx, "cam")
			if c.Seq != tt.wantSeq || c.Frame != tt.wantFrame {
				t.Errorf("seq %d frame %d, want %d %d", c.Seq, c.Frame, tt.wantSeq, tt.wantFrame)
			}
		})
	}
}

func TestRestartCamera(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	publish(t, s, "cam", "v")
	if err := s.Checkpoint(ctx, "cam", 1, 50, 20); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateCamera(ctx, "cam", func(c *Camera) error { c.Running = false; return nil }); err != nil {
		t.Fatal(err)
	}
	c, err := s.RestartCamera(ctx, "cam")
	if err != nil {
		t.Fatal(err)
	}
	if c.Epoch != 2 || c.Seq != 0 || c.Frame != 0 || !c.Running {
		t.Errorf("after restart = %+v", c)
	}
	// The old run's decoder can no longer checkpoint.
	if err := s.Checkpoint(ctx, "cam", 1, 80, 30); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Camera(ctx, "cam"); c.Seq != 0 {
		t.Errorf("stale checkpoint written: %+v", c)
	}
}

func TestDeleteCamera(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	r1 := publish(t, s, "cam", "one")
	r2 := publish(t, s, "cam", "two") // r1 stays until DeleteUpload
	other := publish(t, s, "other", "three")
	key := SessionKey{1}
	if err := s.CreateSession(ctx, key, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, cam := range []media.CameraID{"cam", "other"} {
		if err := s.PutSubscription(ctx, key, Subscription{Camera: cam}); err != nil {
			t.Fatal(err)
		}
	}

	removed, err := s.DeleteCamera(ctx, "cam")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range removed {
		ids = append(ids, u.ID)
	}
	if !slices.Equal(ids, []string{r1.Upload.ID, r2.Upload.ID}) {
		t.Errorf("removed %v, want %s %s", ids, r1.Upload.ID, r2.Upload.ID)
	}
	if got := dirNames(t, s, "videos"); !slices.Equal(got, []string{other.Upload.File}) {
		t.Errorf("videos/ = %v", got)
	}
	wantKind(t, func() error { _, err := s.Upload(ctx, r2.Upload.ID); return err }(), media.KindNotFound)
	rec, err := s.LoadSession(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Subscriptions) != 1 || rec.Subscriptions[0].Camera != "other" {
		t.Errorf("subscriptions = %+v, want only other", rec.Subscriptions)
	}
}

// A camera created again with a deleted camera's id continues its epochs,
// through CreateCamera and through an upload that creates it, also after
// a reopen.
func TestEpochFloorAfterDelete(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	publish(t, s, "cam", "one")
	old := publish(t, s, "cam", "two").Camera.Epoch // 2
	if _, err := s.DeleteCamera(ctx, "cam"); err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateCamera(ctx, Camera{ID: "cam"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Epoch != old {
		t.Fatalf("re-created camera epoch %d, want the floor %d", c.Epoch, old)
	}
	if got := publish(t, s, "cam", "three").Camera.Epoch; got != old+1 {
		t.Fatalf("upload to re-created camera: epoch %d, want %d", got, old+1)
	}
	if _, err := s.DeleteCamera(ctx, "cam"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, dir)
	if got := publish(t, s, "cam", "four").Camera.Epoch; got != old+2 {
		t.Fatalf("upload creating the camera after a reopen: epoch %d, want %d", got, old+2)
	}
	if c, err := s.CreateCamera(ctx, Camera{ID: "fresh"}); err != nil || c.Epoch != 0 {
		t.Fatalf("new id: epoch %d, err %v; want 0", c.Epoch, err)
	}
}

// A floor raised from outside (a cluster's) is where a camera created
// with the id starts; raising it lower keeps the higher one.
func TestRaiseEpochFloor(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	for _, e := range []uint64{7, 3} {
		if err := s.RaiseEpochFloor(ctx, "cam", e); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := s.CreateCamera(ctx, Camera{ID: "cam"}); err != nil || c.Epoch != 7 {
		t.Fatalf("camera created above a raised floor: epoch %d, err %v; want 7", c.Epoch, err)
	}
	if err := s.RaiseEpochFloor(ctx, "bad id", 1); err == nil {
		t.Fatal("a floor for an invalid id was accepted")
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateCamera(ctx, Camera{ID: "plain", Name: "Plain"}); err != nil {
		t.Fatal(err)
	}
	r := publish(t, s, "cam", "video")
	if err := s.Checkpoint(ctx, "cam", 1, 42, 7); err != nil {
		t.Fatal(err)
	}
	key := SessionKey{9}
	if err := s.CreateSession(ctx, key, time.Unix(100, 0)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSubscription(ctx, key, Subscription{Camera: "cam", Epoch: 1, LastSeq: 5}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openTest(t, dir)
	c, err := s2.Camera(ctx, "cam")
	if err != nil {
		t.Fatal(err)
	}
	if c.Epoch != 1 || c.Seq != 42 || c.Frame != 7 || c.UploadID != r.Upload.ID || !c.Running {
		t.Errorf("camera after reopen = %+v", c)
	}
	if _, err := s2.Camera(ctx, "plain"); err != nil {
		t.Error(err)
	}
	u, err := s2.Upload(ctx, r.Upload.ID)
	if err != nil || u.Info != r.Upload.Info || u.OriginalName != "clip.MP4" {
		t.Errorf("upload after reopen = %+v, %v", u, err)
	}
	if data, err := os.ReadFile(s2.VideoPath(u)); err != nil || string(data) != "video" {
		t.Errorf("video after reopen %q %v", data, err)
	}
	rec, err := s2.LoadSession(ctx, key)
	if err != nil || len(rec.Subscriptions) != 1 || rec.Subscriptions[0].LastSeq != 5 || !rec.CreatedAt.Equal(time.Unix(100, 0)) {
		t.Errorf("session after reopen = %+v, %v", rec, err)
	}
}

func TestOpenRemovesLeftovers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	old := publish(t, s, "cam", "old")
	cur := publish(t, s, "cam", "current") // old is no longer referenced by the camera
	tf := temp(t, s, "half an upload")     // never published
	_ = tf
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "videos", "u_ffffffffffffffff.mp4"), []byte("stray"), 0o600); err != nil {
		t.Fatal(err)
	}

	s2 := openTest(t, dir)
	if got := dirNames(t, s2, "tmp"); len(got) != 0 {
		t.Errorf("tmp/ = %v, want empty", got)
	}
	if got := dirNames(t, s2, "videos"); !slices.Equal(got, []string{cur.Upload.File}) {
		t.Errorf("videos/ = %v, want only %s", got, cur.Upload.File)
	}
	wantKind(t, func() error { _, err := s2.Upload(ctx, old.Upload.ID); return err }(), media.KindNotFound)
	if _, err := s2.Upload(ctx, cur.Upload.ID); err != nil {
		t.Errorf("current upload lost: %v", err)
	}
}

// enospcWriter fails like a full disk.
type enospcWriter struct{}

func (enospcWriter) Write([]byte) (int, error) {
	return 0, &fs.PathError{Op: "write", Path: "/secret/data/tmp/x.part", Err: syscall.ENOSPC}
}

func TestDiskFullWrite(t *testing.T) {
	s := openTest(t, t.TempDir())
	tf, err := s.CreateTemp()
	if err != nil {
		t.Fatal(err)
	}
	tf.w = enospcWriter{}
	_, err = tf.Write([]byte("data"))
	wantKind(t, err, media.KindDiskFull)
	var me *media.Error
	errors.As(err, &me)
	if me.Message != "not enough disk space for the upload" || strings.Contains(me.Message, "/") {
		t.Errorf("message %q", me.Message)
	}
	tf.Abort()
	tf.Abort()
	if got := dirNames(t, s, "tmp"); len(got) != 0 {
		t.Errorf("tmp/ after Abort = %v", got)
	}
}

func TestMapDiskFull(t *testing.T) {
	tests := []struct {
		err  error
		full bool
	}{
		{fmt.Errorf("sync: %w", syscall.ENOSPC), true},
		{&os.LinkError{Op: "rename", Err: syscall.ENOSPC}, true},
		{errDiskFull(syscall.ENOSPC), true},
		{errors.New("other"), false},
		{syscall.EACCES, false},
	}
	for _, tt := range tests {
		got, ok := kindOf(mapDiskFull(tt.err))
		if (ok && got == media.KindDiskFull) != tt.full {
			t.Errorf("mapDiskFull(%v) = %v", tt.err, mapDiskFull(tt.err))
		}
	}
}

// TestDiskFullTmpfs fills a real 1 MiB tmpfs. It needs permission to mount.
func TestDiskFullTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tf, err := s.CreateTemp()
	if err != nil {
		t.Fatal(err)
	}
	defer tf.Abort()
	chunk := make([]byte, 64<<10)
	for range 64 { // 4 MiB > 1 MiB
		if _, err = tf.Write(chunk); err != nil {
			break
		}
	}
	wantKind(t, err, media.KindDiskFull)
}

func TestConcurrentPublish(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	const n = 20
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		results []PublishResult
		errs    []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tf, err := s.CreateTemp()
			if err == nil {
				_, err = tf.Write([]byte(fmt.Sprintf("video %d", i)))
			}
			var res PublishResult
			if err == nil {
				res, err = s.PublishUpload(ctx, tf, Upload{Camera: "cam", OriginalName: fmt.Sprintf("v%d.mp4", i)}, ".mp4")
			}
			if err == nil && res.Previous != nil {
				// As the camera manager does once the old decoder stopped.
				err = s.DeleteUpload(ctx, res.Previous.ID)
			}
			mu.Lock()
			defer mu.Unlock()
			results = append(results, res)
			errs = append(errs, err)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	epochs := map[uint64]bool{}
	prevs := 0
	for _, r := range results {
		epochs[r.Camera.Epoch] = true
		if r.Previous != nil {
			prevs++
		}
	}
	if len(epochs) != n || prevs != n-1 {
		t.Errorf("%d distinct epochs, %d previous uploads; want %d, %d", len(epochs), prevs, n, n-1)
	}
	c, err := s.Camera(ctx, "cam")
	if err != nil {
		t.Fatal(err)
	}
	if c.Epoch != n {
		t.Errorf("epoch %d, want %d", c.Epoch, n)
	}
	ups, err := s.Uploads(ctx, "cam")
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 || ups[0].ID != c.UploadID {
		t.Fatalf("uploads %+v, want only the current %s", ups, c.UploadID)
	}
	if got := dirNames(t, s, "videos"); !slices.Equal(got, []string{ups[0].File}) {
		t.Errorf("videos/ = %v, want %s", got, ups[0].File)
	}
	if got := dirNames(t, s, "tmp"); len(got) != 0 {
		t.Errorf("tmp/ = %v", got)
	}
}

func TestSessionStorage(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	if _, err := s.CreateCamera(ctx, Camera{ID: "cam"}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1000, 0)
	live, expired, stale, fresh := SessionKey{1}, SessionKey{2}, SessionKey{3}, SessionKey{4}
	for _, k := range []SessionKey{live, expired, stale, fresh} {
		if err := s.CreateSession(ctx, k, t0); err != nil {
			t.Fatal(err)
		}
	}
	wantKind(t, s.PutSubscription(ctx, live, Subscription{Camera: "ghost"}), media.KindNotFound)
	wantKind(t, s.PutSubscription(ctx, SessionKey{99}, Subscription{Camera: "cam"}), media.KindNotFound)
	wantKind(t, s.TouchSession(ctx, SessionKey{99}, t0, time.Time{}), media.KindNotFound)
	wantKind(t, func() error { _, err := s.LoadSession(ctx, SessionKey{99}); return err }(), media.KindNotFound)
	if err := s.PutSubscription(ctx, expired, Subscription{Camera: "cam", Epoch: 1, LastSeq: 3}); err != nil {
		t.Fatal(err)
	}
	if rec, _ := s.LoadSession(ctx, expired); rec.Subscriptions[0].Rendition != media.RenditionFull {
		t.Errorf("a subscription without a rendition: %+v, want full", rec.Subscriptions)
	}
	if err := s.PutSubscription(ctx, expired, Subscription{Camera: "cam", Rendition: media.RenditionGrid, Epoch: 9, LastSeq: 9}); err != nil {
		t.Fatal(err)
	}
	if rec, _ := s.LoadSession(ctx, expired); rec.Subscriptions[0].LastSeq != 3 || rec.Subscriptions[0].Rendition != media.RenditionGrid {
		t.Errorf("PutSubscription again: %+v, want the last frame kept and the rendition grid", rec.Subscriptions)
	}
	if err := s.SaveDelivered(ctx, expired, []Subscription{{Camera: "cam", Epoch: 2, LastSeq: 7}, {Camera: "gone", Epoch: 1, LastSeq: 1}}); err != nil {
		t.Fatal(err)
	}
	rec, err := s.LoadSession(ctx, expired)
	if err != nil || len(rec.Subscriptions) != 1 || rec.Subscriptions[0] != (Subscription{Camera: "cam", Rendition: media.RenditionGrid, Epoch: 2, LastSeq: 7}) {
		t.Errorf("after SaveDelivered %+v %v", rec, err)
	}

	now := t0.Add(time.Hour)
	if err := s.TouchSession(ctx, expired, t0, now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchSession(ctx, fresh, now, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// live and stale are both marked connected since t0; only live is held.
	n, err := s.DeleteExpiredSessions(ctx, now, now.Add(-10*time.Minute), func(k SessionKey) bool { return k == live })
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("removed %d, want 2 (expired, stale)", n)
	}
	for k, want := range map[SessionKey]bool{live: true, fresh: true, expired: false, stale: false} {
		_, err := s.LoadSession(ctx, k)
		if (err == nil) != want {
			t.Errorf("session %x exists=%v, want %v", k[0], err == nil, want)
		}
	}
	var subs int
	if err := s.db.QueryRow(`SELECT count(*) FROM subscriptions`).Scan(&subs); err != nil || subs != 0 {
		t.Errorf("%d subscriptions left, %v", subs, err)
	}
}

// A camera's own grid rendition is stored and survives a reopen.
func TestCameraGridStored(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	if _, err := s.CreateCamera(ctx, Camera{ID: "g"}); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Camera(ctx, "g"); c.Grid != (media.Grid{}) {
		t.Fatalf("new camera grid %+v, want zero (the server's)", c.Grid)
	}
	want := media.Grid{Width: 320, FPS: 5}
	if _, err := s.UpdateCamera(ctx, "g", func(c *Camera) error { c.Grid = want; return nil }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, dir)
	if c, err := s.Camera(ctx, "g"); err != nil || c.Grid != want {
		t.Fatalf("after reopen grid %+v, %v; want %+v", c.Grid, err, want)
	}
}
