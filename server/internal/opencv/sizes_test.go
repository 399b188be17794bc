package opencv

import (
	"bytes"
	"image/jpeg"
	"testing"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/marker"
)

// A frame is decoded once and encoded at each size asked: the full
// picture, and scaled down with its aspect kept, never enlarged.
func TestEncodeSizes(t *testing.T) {
	src := openSource(t, writeVideo(t, VideoSpec{VideoID: 4, Frames: 4, Width: 640, Height: 360, FPS: 25}))
	se := src.(decoder.SizedEncoder)
	for frame := range 2 {
		b, err := se.GrabEncodeSizes(80, []int{0, 480, 160, 1000}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := [][2]int{{640, 360}, {480, 270}, {160, 90}, {640, 360}}
		for i, jp := range b {
			img, err := jpeg.Decode(bytes.NewReader(jp))
			if err != nil {
				t.Fatal(err)
			}
			if s := img.Bounds().Size(); s.X != want[i][0] || s.Y != want[i][1] {
				t.Fatalf("size %d: %v, want %v", i, s, want[i])
			}
			if v, f, ok := marker.Read(img); !ok || v != 4 || f != frame {
				t.Fatalf("size %d of frame %d: marker %d/%d %v", i, frame, v, f, ok)
			}
		}
	}
	// Encode again after EncodeSizes: the same frame, not decoded again.
	b, err := se.EncodeSizes(80, []int{320})
	if err != nil || len(b) != 1 {
		t.Fatal(err)
	}
	img, _ := jpeg.Decode(bytes.NewReader(b[0]))
	if _, f, ok := marker.Read(img); !ok || f != 1 || img.Bounds().Dx() != 320 {
		t.Fatalf("re-encode: frame %d %v, width %d", f, ok, img.Bounds().Dx())
	}
}
