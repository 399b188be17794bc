package opencv

import (
	"bytes"
	"errors"
	"image/jpeg"
	"io"
	"syscall"
	"testing"
	"time"

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

// BenchmarkRenditions720p measures one 1280x720 frame's grab, decode and
// encode at full size alone, and at full size plus the grid rendition
// (scaled to 480 px wide, area interpolation, encoded) from the same
// decode: the difference is what the grid costs next to full.
func BenchmarkRenditions720p(b *testing.B) {
	for _, c := range []struct {
		name   string
		widths []int
	}{{"full", []int{0}}, {"full+grid", []int{0, 480}}, {"grid", []int{480}}} {
		b.Run(c.name, func(b *testing.B) {
			src := openSource(b, writeVideo(b, hd)).(decoder.SizedEncoder)
			b.ResetTimer()
			cpu0 := processCPU(b)
			for b.Loop() {
				_, err := src.GrabEncodeSizes(80, c.widths, nil)
				if errors.Is(err, io.EOF) {
					if err := src.SeekFrame(0); err != nil {
						b.Fatal(err)
					}
					_, err = src.GrabEncodeSizes(80, c.widths, nil)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			// CPU time (all of OpenCV's threads) per frame: on a shared
			// machine it varies far less than the wall time.
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the process's user and system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
