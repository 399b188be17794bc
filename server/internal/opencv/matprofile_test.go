//go:build matprofile

package opencv

import (
	"bytes"
	"testing"

	"gocv.io/x/gocv"

	"github.com/livemon/livemon/server/internal/decoder"
)

// TestNoMatLeak runs with -tags matprofile, which makes gocv count live
// Mats: after many open/grab/encode/close cycles, and a probe and a
// written video, none may be left.
func TestNoMatLeak(t *testing.T) {
	path := writeVideo(t, VideoSpec{VideoID: 3, Frames: 8, Width: 160, Height: 120, Quality: 60})
	if _, err := Probe(t.Context(), path, Limits{}); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	for i := range 1000 {
		src, err := Opener{}.Open(path)
		if err != nil {
			t.Fatalf("cycle %d: Open: %v", i, err)
		}
		if err := src.SeekFrame(int64(i % 8)); err != nil {
			t.Fatalf("cycle %d: SeekFrame: %v", i, err)
		}
		if err := src.Grab(); err != nil {
			t.Fatalf("cycle %d: Grab: %v", i, err)
		}
		if _, err := src.Encode(70); err != nil {
			t.Fatalf("cycle %d: Encode: %v", i, err)
		}
		if _, err := src.(decoder.SizedEncoder).EncodeSizes(70, []int{0, 80}); err != nil {
			t.Fatalf("cycle %d: EncodeSizes: %v", i, err)
		}
		if err := src.Close(); err != nil {
			t.Fatalf("cycle %d: Close: %v", i, err)
		}
	}
	// 10 000 decode-and-encode cycles on one open source.
	src, err := Opener{}.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10000 {
		if err := src.Grab(); err != nil {
			if err := src.SeekFrame(0); err != nil {
				t.Fatalf("cycle %d: rewind: %v", i, err)
			}
			if err := src.Grab(); err != nil {
				t.Fatalf("cycle %d: Grab after rewind: %v", i, err)
			}
		}
		if _, err := src.Encode(70); err != nil {
			t.Fatalf("cycle %d: Encode: %v", i, err)
		}
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	// ScaleJPEG: reduced decodes with and without a resize, and a refusal.
	for i, in := range [][]byte{cameraJPEG(t, 320, 180), cameraJPEG(t, 640, 360), []byte("\xff\xd8 not a picture")} {
		for range 300 {
			if _, err := ScaleJPEG(in, 160, 70); (err != nil) != (i == 2) {
				t.Fatalf("ScaleJPEG %d: %v", i, err)
			}
		}
	}
	if n := gocv.MatProfile.Count(); n != 0 {
		var b bytes.Buffer
		gocv.MatProfile.WriteTo(&b, 1)
		t.Fatalf("%d Mats leaked:\n%s", n, b.String())
	}
}
