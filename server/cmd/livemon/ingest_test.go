package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/jpeg"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/livemon/livemon/server/internal/cluster"
	"github.com/livemon/livemon/server/internal/cluster/natstest"
	"github.com/livemon/livemon/server/internal/marker"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/opencv"
)

// An ingest node end to end, with the real decoder: a camera created
// through the cluster API by uploading a video plays on it; the frames of
// a wanted rendition arrive on NATS once; stopping the node hands the
// camera back (lease released, record kept with its epoch).
func TestRunIngest(t *testing.T) {
	srv := natstest.Single(t)
	addr := freeAddr(t)
	cfg, err := parseConfig([]string{"--addr", addr, "--data", t.TempDir()}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runIngest(ctx, cfg, srv.URLs(), slog.New(slog.NewTextHandler(logs, nil)), logs)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("runIngest: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("runIngest did not stop\n%s", logs)
		}
	}
	t.Cleanup(stop)

	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	client, err := cluster.Connect(cctx, cluster.Options{URLs: srv.URLs(), Name: "test-edge", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	waitHealthy(t, 20*time.Second, addr, done, logs)

	path := filepath.Join(t.TempDir(), "clip.avi")
	if err := opencv.WriteVideo(path, opencv.VideoSpec{VideoID: 7, Frames: 60, Width: 160, Height: 96, FPS: 30}); err != nil {
		t.Fatal(err)
	}
	video, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Videos.Put(cctx, jetstream.ObjectMeta{Name: "obj-1"}, bytes.NewReader(video)); err != nil {
		t.Fatal(err)
	}
	msg, err := client.NATS().Request(cluster.SubjectAPICreate, mustMarshal(t, cluster.CreateRequest{ID: "cam",
		Upload: &cluster.UploadRequest{Object: "obj-1", OriginalName: "clip.avi"}}), cluster.UploadTimeout)
	if err != nil {
		t.Fatalf("create: %v\n%s", err, logs)
	}
	var reply cluster.Reply
	if err := json.Unmarshal(msg.Data, &reply); err != nil || reply.Error != nil || reply.Upload == nil {
		t.Fatalf("create reply %s (%v)", msg.Data, err)
	}
	epoch := reply.Upload.Camera.Epoch

	// An edge's interest makes the owner publish; the frames carry the
	// video's marker.
	frames, err := client.NATS().SubscribeSync(cluster.FrameSubject("cam", media.RenditionFull))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for got := 0; got < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("%d frames on NATS in 10 s\n%s", got, logs)
		}
		_ = client.NATS().Publish(cluster.WantSubject("cam", media.RenditionFull), nil)
		m, err := frames.NextMsg(time.Second)
		if err != nil {
			continue
		}
		f, err := cluster.DecodeFrame("cam", media.RenditionFull, m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if f.Epoch != epoch {
			t.Fatalf("frame of epoch %d, want %d", f.Epoch, epoch)
		}
		img, err := jpeg.Decode(bytes.NewReader(f.JPEG))
		if err != nil {
			t.Fatal(err)
		}
		if v, _, ok := marker.Read(img); !ok || v != 7 {
			t.Fatalf("frame marker: video %d (%v), want 7", v, ok)
		}
		got++
	}
	_ = frames.Unsubscribe()

	stop()
	if _, err := client.Owners.Get(cctx, "cam"); err == nil {
		t.Fatal("the stopped ingest kept its lease")
	}
	e, err := client.Cameras.Get(cctx, "cam")
	if err != nil {
		t.Fatal(err)
	}
	var rec cluster.CameraRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil || rec.Epoch != epoch || rec.Seq == 0 || !rec.Running {
		t.Fatalf("record after hand-back: %+v (%v)", rec, err)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
