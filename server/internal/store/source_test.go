package store

import (
	"context"
	"testing"
)

// A live source is a new run, survives a reopen, and an upload switches
// the camera back to its file.
func TestCameraSource(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	const url = "http://u:pw@127.0.0.1:1/mjpeg"
	c, err := s.CreateCamera(ctx, Camera{ID: "live", SourceURL: url})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Running || c.SourceURL != url {
		t.Fatalf("created %+v, want running with the source", c)
	}
	if err := s.Checkpoint(ctx, "live", c.Epoch, 40, 0); err != nil {
		t.Fatal(err)
	}
	c2, err := s.SetCameraSource(ctx, "live", "http://127.0.0.1:2/snap.jpg", "")
	if err != nil {
		t.Fatal(err)
	}
	if c2.Epoch != c.Epoch+1 || c2.Seq != 0 || !c2.Running {
		t.Fatalf("after SetCameraSource %+v, want epoch %d seq 0 running", c2, c.Epoch+1)
	}
	// UpdateCamera never touches the source.
	if _, err := s.UpdateCamera(ctx, "live", func(c *Camera) error { c.SourceURL = ""; c.Name = "n"; return nil }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, dir)
	got, err := s.Camera(ctx, "live")
	if err != nil {
		t.Fatal(err)
	}
	if got.SourceURL != "http://127.0.0.1:2/snap.jpg" || got.Name != "n" {
		t.Fatalf("reopened %+v", got)
	}
	res := publish(t, s, "live", "video")
	if res.Camera.SourceURL != "" || res.Camera.Epoch != c2.Epoch+1 {
		t.Fatalf("after upload %+v, want the file source and a new epoch", res.Camera)
	}
}
