package opencv

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"testing"

	"gocv.io/x/gocv"

	"github.com/livemon/livemon/server/internal/fakecam"
	"github.com/livemon/livemon/server/internal/marker"
	"github.com/livemon/livemon/server/internal/media"
)

// cameraJPEG is a fake camera's w x h frame at quality 99 (the live
// bench's camera), marker video 9.
func cameraJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	_, b, err := fakecam.New(fakecam.Config{Width: w, Height: h, Quality: 99, VideoID: 9, FPS: 30}).Frame()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A camera's JPEG is decoded at the largest reduction that still covers
// the grid size, then scaled to exactly media.ScaledSize and encoded; the
// picture (its marker) survives.
func TestScaleJPEGReducedDecode(t *testing.T) {
	for _, c := range []struct {
		w, h, width   int
		decW, decH    int // the reduced decode's size
		outW, outH    int
		passedThrough bool
	}{
		{w: 1280, h: 720, width: 480, decW: 640, decH: 360, outW: 480, outH: 270},
		{w: 1920, h: 1080, width: 480, decW: 480, decH: 270, outW: 480, outH: 270},
		{w: 1920, h: 1080, width: 200, decW: 240, decH: 135, outW: 200, outH: 113},
		{w: 1280, h: 720, width: 1000, decW: 1280, decH: 720, outW: 1000, outH: 563},
		{w: 640, h: 360, width: 480, decW: 640, decH: 360, outW: 480, outH: 270},
		{w: 400, h: 224, width: 480, outW: 400, outH: 224, passedThrough: true},
	} {
		in := cameraJPEG(t, c.w, c.h)
		s, err := ScaleJPEG(in, c.width, 80)
		if err != nil {
			t.Fatalf("%dx%d to %d: %v", c.w, c.h, c.width, err)
		}
		if s.DecodedWidth != c.decW || s.DecodedHeight != c.decH || s.Width != c.outW || s.Height != c.outH {
			t.Fatalf("%dx%d to %d: decoded %dx%d, out %dx%d; want decoded %dx%d, out %dx%d",
				c.w, c.h, c.width, s.DecodedWidth, s.DecodedHeight, s.Width, s.Height, c.decW, c.decH, c.outW, c.outH)
		}
		if c.passedThrough != bytes.Equal(s.JPEG, in) {
			t.Fatalf("%dx%d to %d: passed through %v", c.w, c.h, c.width, !c.passedThrough)
		}
		img, err := jpeg.Decode(bytes.NewReader(s.JPEG))
		if err != nil {
			t.Fatal(err)
		}
		if sz := img.Bounds().Size(); sz != image.Pt(c.outW, c.outH) {
			t.Fatalf("%dx%d to %d: JPEG of %v", c.w, c.h, c.width, sz)
		}
		if v, _, ok := marker.Read(img); !ok || v != 9 {
			t.Fatalf("%dx%d to %d: marker %d %v", c.w, c.h, c.width, v, ok)
		}
	}
}

func TestReduction(t *testing.T) {
	for _, c := range []struct{ w, h, tw, th, want int }{
		{1280, 720, 480, 270, 2},
		{1920, 1080, 480, 270, 4},
		{3840, 2160, 480, 270, 8},
		{1281, 721, 161, 91, 8}, // ceil(1281/8) = 161, ceil(721/8) = 91
		{1279, 719, 160, 90, 8},
		{1279, 719, 161, 90, 4}, // ceil(1279/8) = 160 < 161
		{500, 500, 480, 480, 1},
	} {
		if got := Reduction(c.w, c.h, c.tw, c.th); got != c.want {
			t.Errorf("Reduction(%d, %d, %d, %d) = %d, want %d", c.w, c.h, c.tw, c.th, got, c.want)
		}
	}
}

// Bytes that are not a JPEG, or a JPEG whose data is garbage, give an
// unusable error, never a crash.
func TestScaleJPEGRejects(t *testing.T) {
	good := cameraJPEG(t, 1280, 720)
	broken := bytes.Clone(good)
	for i := len(broken) / 3; i < len(broken)-2; i++ {
		broken[i] = 0xFF // markers everywhere after the header
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"not jpeg":  []byte("hello, camera"),
		"header":    good[:600],
		"scrambled": broken,
	} {
		_, err := ScaleJPEG(b, 480, 80)
		if (name == "scrambled" || name == "header") && err == nil {
			continue // libjpeg decodes what it can (gray after the damage); no crash
		}
		var me *media.Error
		if !errors.As(err, &me) || me.Kind != media.KindUnusable {
			t.Errorf("%s: %v, want an unusable error", name, err)
		}
	}
}

// BenchmarkScaleJPEG720p measures one grid frame of a 720p camera JPEG
// (quality 99, as the live bench's camera sends): "reduced" is ScaleJPEG
// (1/2-size libjpeg decode, area scale to 480x270, encode), "full" a full
// decode, the same scale (halving first, as the decoder does) and encode.
func BenchmarkScaleJPEG720p(b *testing.B) {
	in := cameraJPEG(b, 1280, 720)
	b.Run("reduced", func(b *testing.B) {
		cpu0 := processCPU(b)
		for b.Loop() {
			if _, err := ScaleJPEG(in, media.DefaultGridWidth, 80); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
	})
	b.Run("full", func(b *testing.B) {
		small, half := gocv.NewMat(), gocv.NewMat()
		defer small.Close()
		defer half.Close()
		cpu0 := processCPU(b)
		for b.Loop() {
			m, err := gocv.IMDecode(in, gocv.IMReadColor)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := encodeSizes(m, &small, &half, 80, []int{media.DefaultGridWidth}); err != nil {
				b.Fatal(err)
			}
			m.Close()
		}
		b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
	})
}
