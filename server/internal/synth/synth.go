// Package synth is a synthetic video source for tests that must not need
// OpenCV: a "video file" is a one-line text spec, and its frames are small
// JPEGs drawn in pure Go that carry a marker (internal/marker) with the
// video id and the frame index.
//
//	SYNTH video=2 frames=90 fps=30 width=96 height=64
//
// Opener and Prober are safe for concurrent use; a Source belongs to one
// goroutine, as decoder.Source requires.
package synth

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os"
	"strings"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/marker"
	"github.com/livemon/livemon/server/internal/media"
)

// Spec describes a synthetic video.
type Spec struct {
	Video  int
	Frames int64
	FPS    float64
	Width  int
	Height int
	// Noise fills frames with pseudo-random pixels, so JPEGs are large.
	Noise bool
}

// String renders the spec as file content.
func (s Spec) String() string {
	noise := 0
	if s.Noise {
		noise = 1
	}
	return fmt.Sprintf("SYNTH video=%d frames=%d fps=%g width=%d height=%d noise=%d\n", s.Video, s.Frames, s.FPS, s.Width, s.Height, noise)
}

// Write writes the spec as a file.
func (s Spec) Write(path string) error { return os.WriteFile(path, []byte(s.String()), 0o644) }

// Parse reads a spec.
func Parse(data []byte) (Spec, error) {
	line := strings.TrimSpace(string(data))
	if !strings.HasPrefix(line, "SYNTH ") {
		return Spec{}, media.Errorf(media.KindUnsupported, "the file is not a video")
	}
	s := Spec{Video: 1, Frames: 30, FPS: 30, Width: 96, Height: 64}
	for _, f := range strings.Fields(line)[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return Spec{}, media.Errorf(media.KindUnusable, "bad synthetic spec field %q", f)
		}
		var err error
		switch k {
		case "video":
			_, err = fmt.Sscan(v, &s.Video)
		case "frames":
			_, err = fmt.Sscan(v, &s.Frames)
		case "fps":
			_, err = fmt.Sscan(v, &s.FPS)
		case "width":
			_, err = fmt.Sscan(v, &s.Width)
		case "height":
			_, err = fmt.Sscan(v, &s.Height)
		case "noise":
			s.Noise = v == "1"
		}
		if err != nil {
			return Spec{}, media.Errorf(media.KindUnusable, "bad synthetic spec field %q", f)
		}
	}
	if s.Frames <= 0 || s.FPS <= 0 || s.Width < 24 || s.Height < 16 {
		return Spec{}, media.Errorf(media.KindUnusable, "the video has no playable frames")
	}
	return s, nil
}

func (s Spec) info() media.VideoInfo {
	return media.VideoInfo{
		Width: s.Width, Height: s.Height, FPS: s.FPS, Frames: s.Frames,
		Duration: time.Duration(float64(s.Frames) / s.FPS * float64(time.Second)), Codec: "SYNT",
	}
}

func readSpec(path string) (Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return Spec{}, fmt.Errorf("open synthetic video: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return Spec{}, fmt.Errorf("read synthetic video: %w", err)
	}
	return Parse(data)
}

// Prober probes synthetic videos.
type Prober struct{}

// Probe implements camera.Prober.
func (Prober) Probe(ctx context.Context, path string) (media.VideoInfo, error) {
	s, err := readSpec(path)
	if err != nil {
		return media.VideoInfo{}, err
	}
	return s.info(), nil
}

// Opener opens synthetic videos.
type Opener struct{}

// Open implements decoder.Opener.
func (Opener) Open(path string) (decoder.Source, error) {
	s, err := readSpec(path)
	if err != nil {
		return nil, err
	}
	return &Source{spec: s, next: 0, cur: -1}, nil
}

// Source is an open synthetic video.
type Source struct {
	spec Spec
	next int64 // index the next Grab returns
	cur  int64 // index of the last grabbed frame
	img  *image.RGBA
	buf  bytes.Buffer
}

// Info implements decoder.Source.
func (s *Source) Info() media.VideoInfo { return s.spec.info() }

// Grab implements decoder.Source.
func (s *Source) Grab() error {
	if s.next >= s.spec.Frames {
		return io.EOF
	}
	s.cur = s.next
	s.next++
	return nil
}

// Encode implements decoder.Source.
func (s *Source) Encode(quality int) ([]byte, error) {
	if err := s.draw(); err != nil {
		return nil, err
	}
	return s.encode(s.img, quality)
}

var _ decoder.SizedEncoder = (*Source)(nil)

// EncodeSizes implements decoder.SizedEncoder: the frame is drawn once and
// scaled down by averaging (a box filter, like OpenCV's area
// interpolation) to media.ScaledSize.
func (s *Source) EncodeSizes(quality int, widths []int) ([][]byte, error) {
	if err := s.draw(); err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(widths))
	for _, w := range widths {
		img := s.img
		if nw, nh := media.ScaledSize(s.spec.Width, s.spec.Height, w); nw != s.spec.Width {
			img = boxScale(s.img, nw, nh)
		}
		b, err := s.encode(img, quality)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// GrabEncodeSizes implements decoder.SizedEncoder.
func (s *Source) GrabEncodeSizes(quality int, widths, _ []int) ([][]byte, error) {
	if err := s.Grab(); err != nil {
		return nil, err
	}
	return s.EncodeSizes(quality, widths)
}

func (s *Source) encode(img image.Image, quality int) ([]byte, error) {
	s.buf.Reset()
	if err := jpeg.Encode(&s.buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("encode synthetic frame: %w", err)
	}
	return bytes.Clone(s.buf.Bytes()), nil
}

// boxScale averages src down to w x h.
func boxScale(src *image.RGBA, w, h int) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	for y := range h {
		y0, y1 := y*sh/h, max((y+1)*sh/h, y*sh/h+1)
		for x := range w {
			x0, x1 := x*sw/w, max((x+1)*sw/w, x*sw/w+1)
			var sum [3]int
			n := 0
			for sy := y0; sy < y1; sy++ {
				row := src.Pix[sy*src.Stride:]
				for sx := x0; sx < x1; sx++ {
					p := row[sx*4:]
					sum[0] += int(p[0])
					sum[1] += int(p[1])
					sum[2] += int(p[2])
					n++
				}
			}
			d := dst.Pix[y*dst.Stride+x*4:]
			d[0], d[1], d[2], d[3] = uint8(sum[0]/n), uint8(sum[1]/n), uint8(sum[2]/n), 255
		}
	}
	return dst
}

// draw paints the frame last grabbed into s.img.
func (s *Source) draw() error {
	if s.cur < 0 {
		return fmt.Errorf("encode before grab")
	}
	if s.img == nil {
		s.img = image.NewRGBA(image.Rect(0, 0, s.spec.Width, s.spec.Height))
	}
	shade := uint8(40 + s.cur%100)
	x := uint32(s.cur)*2654435761 + 1
	for i := 0; i < len(s.img.Pix); i += 4 {
		s.img.Pix[i], s.img.Pix[i+1], s.img.Pix[i+2], s.img.Pix[i+3] = shade, 60, 90, 255
		if s.spec.Noise {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			s.img.Pix[i], s.img.Pix[i+1], s.img.Pix[i+2] = uint8(x), uint8(x>>8), uint8(x>>16)
		}
	}
	marker.Draw(s.img, s.spec.Video, int(s.cur))
	return nil
}

// SeekFrame implements decoder.Source.
func (s *Source) SeekFrame(n int64) error {
	if n < 0 || n >= s.spec.Frames {
		return fmt.Errorf("seek to %d: out of range", n)
	}
	s.next, s.cur = n, -1
	return nil
}

// Close implements decoder.Source.
func (s *Source) Close() error { return nil }

// ReadMarker decodes a JPEG and reads its marker.
func ReadMarker(jpg []byte) (video, frame int, ok bool) {
	img, err := jpeg.Decode(bytes.NewReader(jpg))
	if err != nil {
		return 0, 0, false
	}
	return marker.Read(img)
}
