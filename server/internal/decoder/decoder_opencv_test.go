package decoder_test

import (
	"bytes"
	"image/jpeg"
	"path/filepath"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/marker"
	"github.com/livemon/livemon/server/internal/opencv"
)

// TestRealVideo plays a generated video through OpenCV and the hub for 2s
// of real time and checks, from the markers in the pixels, that the file
// frames advance at the video's rate.
func TestRealVideo(t *testing.T) {
	if testing.Short() {
		t.Skip("plays a real video for 2s")
	}
	path := filepath.Join(t.TempDir(), "v.avi")
	spec := opencv.VideoSpec{VideoID: 9, Frames: 40, Width: 320, Height: 240, FPS: 25, Label: "integration"}
	if err := opencv.WriteVideo(path, spec); err != nil {
		t.Fatal(err)
	}
	h := hub.New()
	sub := h.Subscribe("real", hub.SubscribeOptions{Transport: "test"})
	defer sub.Close()

	d := decoder.Start(t.Context(), decoder.Config{Camera: "real", Path: path, Epoch: 1, Loop: true, Speed: 1, Quality: 70},
		decoder.Deps{Opener: opencv.Opener{}, Publisher: h, Watcher: h})
	defer d.Stop()

	type seen struct {
		seq   uint64
		frame int
		at    time.Time
	}
	var got []seen
	// Until 50 frames (2 s of video) arrived; the bound is generous so a
	// loaded machine (frames skipped, seq gaps) does not fail the test.
	deadline := time.After(10 * time.Second)
collect:
	for len(got) < 50 {
		select {
		case <-deadline:
			break collect
		case <-sub.Ready():
			f, ok := sub.Next()
			if !ok {
				continue
			}
			img, err := jpeg.Decode(bytes.NewReader(f.JPEG))
			if err != nil {
				t.Fatalf("frame seq %d: %v", f.Seq, err)
			}
			v, n, ok := marker.Read(img)
			if !ok || v != 9 {
				t.Fatalf("frame seq %d: marker (%d, %d, %v)", f.Seq, v, n, ok)
			}
			if len(got) > 0 && f.Seq <= got[len(got)-1].seq {
				t.Fatalf("seq %d after %d", f.Seq, got[len(got)-1].seq)
			}
			got = append(got, seen{f.Seq, n, f.Captured})
		}
	}
	if len(got) < 40 {
		t.Fatalf("received %d frames in 10s, want 50", len(got))
	}
	for _, s := range got {
		// The file loops every 40 frames; seq counts timeline frames.
		if want := int(s.seq-1) % 40; s.frame != want {
			t.Fatalf("seq %d shows file frame %d, want %d", s.seq, s.frame, want)
		}
	}
	// At the frames' publication times, not their receipt here, which a
	// loaded machine delays unevenly.
	first, last := got[0], got[len(got)-1]
	rate := float64(last.seq-first.seq) / last.at.Sub(first.at).Seconds()
	if rate < 22.5 || rate > 27.5 {
		t.Fatalf("timeline advanced at %.1f frames/s, want 25", rate)
	}
	t.Logf("%d frames, %.2f frames/s, status %+v", len(got), rate, d.Status())
}
