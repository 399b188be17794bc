package opencv

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"

	"gocv.io/x/gocv"

	"github.com/livemon/livemon/server/internal/marker"
	"github.com/livemon/livemon/server/internal/media"
)

// VideoSpec describes a generated test video.
type VideoSpec struct {
	VideoID int // 0-255, carried in every frame's marker
	Frames  int
	Width   int
	Height  int
	FPS     float64 // 0 means media.FallbackFPS
	// Quality, if set (1-100), is applied to every frame as a JPEG
	// round trip before it is written, to imitate a compressed source.
	Quality int
	// Noise adds a fixed, seeded per-pixel noise layer so frames compress
	// like camera footage (a 1280x720 frame re-encoded at quality 80 is
	// about 100-150 KB), for benchmarks.
	Noise bool
	Label string // text drawn as "<Label> #<frame>"; default "video <id>"
}

// WriteVideo writes an MJPG AVI at path following spec. Every frame shows
// a moving colour gradient and bar, a large "<Label> #<frame>" caption and
// a marker (see package marker) with spec.VideoID and the frame index.
func WriteVideo(path string, spec VideoSpec) error {
	if spec.Width < marker.Cells || spec.Height < marker.RowDivisor || spec.Frames <= 0 {
		return fmt.Errorf("write test video: bad spec %dx%d, %d frames", spec.Width, spec.Height, spec.Frames)
	}
	if spec.FPS <= 0 {
		spec.FPS = media.FallbackFPS
	}
	if spec.Label == "" {
		spec.Label = fmt.Sprintf("video %d", spec.VideoID)
	}
	w, err := gocv.VideoWriterFile(path, "MJPG", spec.FPS, spec.Width, spec.Height, true)
	if err != nil {
		return fmt.Errorf("write test video: open writer: %w", err)
	}
	if !w.IsOpened() {
		w.Close()
		return errors.New("write test video: writer did not open")
	}
	p := newPainter(spec)
	for i := range spec.Frames {
		if err := p.writeFrame(w, i); err != nil {
			w.Close()
			return fmt.Errorf("write test video: frame %d: %w", i, err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write test video: close: %w", err)
	}
	return nil
}

type painter struct {
	spec  VideoSpec
	img   *image.RGBA
	noise []int8 // one value per RGBA byte; nil without Noise
}

func newPainter(spec VideoSpec) *painter {
	p := &painter{spec: spec, img: image.NewRGBA(image.Rect(0, 0, spec.Width, spec.Height))}
	if spec.Noise {
		rng := rand.New(rand.NewPCG(uint64(spec.VideoID), 0x6c6976656d6f6e))
		p.noise = make([]int8, len(p.img.Pix))
		for i := range p.noise {
			p.noise[i] = int8(rng.IntN(37) - 18)
		}
	}
	return p
}

func (p *painter) writeFrame(w *gocv.VideoWriter, i int) error {
	p.paint(i)
	marker.Draw(p.img, p.spec.VideoID, i)
	m, err := gocv.ImageToMatRGB(p.img) // BGR Mat
	if err != nil {
		return fmt.Errorf("convert frame: %w", err)
	}
	defer m.Close()
	p.caption(&m, i)
	if q := p.spec.Quality; q > 0 {
		if err := degrade(&m, q); err != nil {
			return err
		}
	}
	if err := w.Write(m); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// paint draws frame i's moving background: a diagonal colour gradient that
// shifts with i and a light vertical bar crossing the picture every 64
// frames.
func (p *painter) paint(i int) {
	wd, ht := p.spec.Width, p.spec.Height
	shift := i * 4
	bar := (i % 64) * wd / 64
	barW := max(wd/32, 2)
	for y := range ht {
		row := p.img.Pix[y*p.img.Stride : y*p.img.Stride+4*wd]
		for x := range wd {
			r := uint8((x*255/wd + shift) & 0xFF)
			g := uint8((y*255/ht + shift/2) & 0xFF)
			b := uint8(((x+y)*128/(wd+ht) + 64 + shift) & 0xFF)
			if x >= bar && x < bar+barW {
				r, g, b = 230, 230, 230
			}
			px := row[4*x : 4*x+4 : 4*x+4]
			if p.noise != nil {
				n := p.noise[y*p.img.Stride+4*x : y*p.img.Stride+4*x+3]
				r, g, b = addClamp(r, n[0]), addClamp(g, n[1]), addClamp(b, n[2])
			}
			px[0], px[1], px[2], px[3] = r, g, b, 255
		}
	}
}

func addClamp(v uint8, d int8) uint8 {
	return uint8(min(max(int(v)+int(d), 0), 255))
}

// caption writes "<Label> #<i>" centred in the picture below the marker,
// white with a black outline.
func (p *painter) caption(m *gocv.Mat, i int) {
	text := fmt.Sprintf("%s #%d", p.spec.Label, i)
	const font = gocv.FontHersheySimplex
	wd, ht := p.spec.Width, p.spec.Height
	size := gocv.GetTextSize(text, font, 1, 2)
	scale := 0.7 * float64(wd) / float64(max(size.X, 1))
	scale = min(scale, 0.25*float64(ht)/float64(max(size.Y, 1)))
	thick := max(int(scale*2), 1)
	size = gocv.GetTextSize(text, font, scale, thick)
	// Centre in the area below the marker (which covers the top quarter).
	org := image.Pt((wd-size.X)/2, ht/4+(3*ht/4+size.Y)/2)
	gocv.PutText(m, text, org, font, scale, color.RGBA{0, 0, 0, 255}, thick*3)
	gocv.PutText(m, text, org, font, scale, color.RGBA{255, 255, 255, 255}, thick)
}

// degrade replaces m by its JPEG round trip at quality q.
func degrade(m *gocv.Mat, q int) error {
	b, err := encodeJPEG(*m, q)
	if err != nil {
		return err
	}
	d, err := gocv.IMDecode(b, gocv.IMReadColor)
	if err != nil {
		return fmt.Errorf("decode degraded frame: %w", err)
	}
	defer d.Close()
	d.CopyTo(m)
	return nil
}
