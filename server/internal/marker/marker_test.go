package marker

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math/rand/v2"
	"testing"
)

// scene returns a w x h picture with busy content below the marker rows.
func scene(w, h, video, frame int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(x + frame), uint8(y * 3), uint8(x ^ y), 255})
		}
	}
	Draw(img, video, frame)
	return img
}

func jpegRoundTrip(t testing.TB, img image.Image, quality int) image.Image {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatalf("encode: %v", err)
	}
	out, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return out
}

// scale resizes src to w x h by nearest-neighbour sampling followed by a
// 3x3 box blur, roughly what a browser's scaling does to block edges.
func scale(src image.Image, w, h int) image.Image {
	sb := src.Bounds()
	nn := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			nn.Set(x, y, src.At(sb.Min.X+x*sb.Dx()/w, sb.Min.Y+y*sb.Dy()/h))
		}
	}
	out := image.NewRGBA(nn.Bounds())
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var r, g, b, n int
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					if p := (image.Point{x + dx, y + dy}); p.In(nn.Rect) {
						c := nn.RGBAAt(p.X, p.Y)
						r, g, b, n = r+int(c.R), g+int(c.G), b+int(c.B), n+1
					}
				}
			}
			out.SetRGBA(x, y, color.RGBA{uint8(r / n), uint8(g / n), uint8(b / n), 255})
		}
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name         string
		w, h         int
		video, frame int
		wantFrame    int
	}{
		{"720p", 1280, 720, 7, 1234, 1234},
		{"qvga", 320, 240, 1, 0, 0},
		{"odd size", 333, 211, 255, 65535, 65535},
		{"small", 96, 64, 200, 4242, 4242},
		{"frame wraps", 640, 360, 3, 65536 + 17, 17},
		{"alternating bits", 640, 480, 0xAA, 0x5555, 0x5555},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := scene(tt.w, tt.h, tt.video, tt.frame)
			for _, q := range []int{100, 50, 20} {
				v, f, ok := Read(jpegRoundTrip(t, img, q))
				if !ok || v != tt.video || f != tt.wantFrame {
					t.Errorf("quality %d: Read = (%d, %d, %v), want (%d, %d, true)", q, v, f, ok, tt.video, tt.wantFrame)
				}
			}
		})
	}
}

func TestScaled(t *testing.T) {
	img := scene(640, 360, 42, 31337)
	for _, size := range []image.Point{{320, 180}, {427, 240}, {960, 540}, {1280, 720}, {160, 90}} {
		got := jpegRoundTrip(t, scale(jpegRoundTrip(t, img, 50), size.X, size.Y), 50)
		v, f, ok := Read(got)
		if !ok || v != 42 || f != 31337 {
			t.Errorf("scaled to %v: Read = (%d, %d, %v), want (42, 31337, true)", size, v, f, ok)
		}
	}
}

func TestOffsetBounds(t *testing.T) {
	// A sub-image keeps its parent's coordinates; Read must use the
	// sub-image's own origin.
	big := image.NewRGBA(image.Rect(0, 0, 800, 600))
	draw.Draw(big, big.Bounds(), image.NewUniform(color.RGBA{0, 128, 0, 255}), image.Point{}, draw.Src)
	sub := big.SubImage(image.Rect(100, 50, 740, 530)).(*image.RGBA)
	Draw(sub, 9, 999)
	if v, f, ok := Read(sub); !ok || v != 9 || f != 999 {
		t.Fatalf("Read(sub) = (%d, %d, %v), want (9, 999, true)", v, f, ok)
	}
	if _, _, ok := Read(big); ok {
		t.Fatal("Read(parent) found a marker that is not at its top")
	}
}

func TestGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(rng.IntN(256))
	}
	uniform := func(c color.RGBA) image.Image {
		img := image.NewRGBA(image.Rect(0, 0, 320, 240))
		draw.Draw(img, img.Bounds(), image.NewUniform(c), image.Point{}, draw.Src)
		return img
	}
	// Row 1 drawn, row 2 overwritten with row 1: fails the complement check.
	noComplement := scene(320, 240, 5, 5)
	draw.Draw(noComplement, image.Rect(0, 30, 320, 60), noComplement, image.Point{0, 0}, draw.Src)

	tests := map[string]image.Image{
		"noise":         noise,
		"black":         uniform(color.RGBA{0, 0, 0, 255}),
		"white":         uniform(color.RGBA{255, 255, 255, 255}),
		"grey":          uniform(color.RGBA{128, 128, 128, 255}),
		"no complement": noComplement,
		"tiny":          image.NewRGBA(image.Rect(0, 0, 10, 4)),
		"empty":         image.NewRGBA(image.Rectangle{}),
	}
	for name, img := range tests {
		t.Run(name, func(t *testing.T) {
			if v, f, ok := Read(img); ok {
				t.Fatalf("Read = (%d, %d, true), want ok=false", v, f)
			}
		})
	}
}

func TestDrawDoesNotTouchContent(t *testing.T) {
	img := scene(200, 160, 1, 1)
	before := scene(200, 160, 1, 1) // same content, same marker
	Draw(img, 2, 2)
	// Rows from 2H/8 down are content and must be unchanged.
	for y := 40; y < 160; y++ {
		for x := 0; x < 200; x++ {
			if img.RGBAAt(x, y) != before.RGBAAt(x, y) {
				t.Fatalf("pixel (%d,%d) changed", x, y)
			}
		}
	}
}

func BenchmarkRead(b *testing.B) {
	img := jpegRoundTrip(b, scene(1280, 720, 1, 2), 80)
	for b.Loop() {
		Read(img)
	}
}
