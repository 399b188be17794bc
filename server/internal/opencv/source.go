package opencv

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"math"

	"gocv.io/x/gocv"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
)

// Opener opens video files with OpenCV. The zero value is ready to use.
type Opener struct{}

var _ decoder.Opener = Opener{}

// Open opens path for decoding. The error says what failed without naming
// the path.
func (Opener) Open(path string) (decoder.Source, error) {
	if err := sniff(path); err != nil {
		return nil, err
	}
	c, ok := openCapture(path)
	if !ok {
		return nil, errNotVideo()
	}
	s := newSource(c)
	s.info = captureInfo(c)
	return s, nil
}

// source is a decoder.Source over one capture. Owned by one goroutine.
type source struct {
	cap     *capture
	frame   gocv.Mat // reused for every decoded frame
	small   gocv.Mat // reused for every scaled frame
	half    gocv.Mat // reused: the frame halved, on the way to small
	info    media.VideoInfo
	grabbed bool // a frame has been grabbed since open or the last seek
	decoded bool // frame holds the grabbed frame's pixels
	live    bool // a network stream: no seeking, a failed grab is not the end
}

var _ decoder.SizedEncoder = (*source)(nil)

// newSource returns a source over c with its Mats allocated.
func newSource(c *capture) *source {
	return &source{cap: c, frame: gocv.NewMat(), small: gocv.NewMat(), half: gocv.NewMat()}
}

func (s *source) Info() media.VideoInfo { return s.info }

// Grab advances to the next frame without decoding it to pixels. It
// returns io.EOF when there is no next frame.
func (s *source) Grab() error {
	ok, err := s.cap.grab()
	if err != nil {
		s.grabbed = false
		return fmt.Errorf("grab frame: %w", err)
	}
	s.decoded = false
	if !ok {
		s.grabbed = false
		if s.live {
			return media.Errorf(media.KindUnusable, "no frames from the camera")
		}
		return io.EOF
	}
	s.grabbed = true
	return nil
}

// decode decodes the frame last grabbed into s.frame, once per grab.
func (s *source) decode() error {
	if !s.grabbed {
		return errors.New("encode frame: no frame grabbed")
	}
	if s.decoded {
		return nil
	}
	ok, err := s.cap.retrieve(&s.frame)
	if err != nil {
		return fmt.Errorf("decode frame: %w", err)
	}
	if !ok || s.frame.Empty() {
		return errors.New("decode frame: no picture")
	}
	s.decoded = true
	return nil
}

// Encode decodes the frame last grabbed and returns it as JPEG.
func (s *source) Encode(quality int) ([]byte, error) {
	if err := s.decode(); err != nil {
		return nil, err
	}
	return encodeJPEG(s.frame, quality)
}

// EncodeSizes decodes the frame last grabbed once and encodes it at each
// width (decoder.SizedEncoder): 0 is the full picture, n > 0 the picture
// scaled down with area interpolation to media.ScaledSize.
func (s *source) EncodeSizes(quality int, widths []int) ([][]byte, error) {
	if err := s.decode(); err != nil {
		return nil, err
	}
	return encodeSizes(s.frame, &s.small, &s.half, quality, widths)
}

// GrabEncodeSizes grabs the next frame and encodes it at widths.
func (s *source) GrabEncodeSizes(quality int, widths, _ []int) ([][]byte, error) {
	if err := s.Grab(); err != nil {
		return nil, err
	}
	return s.EncodeSizes(quality, widths)
}

// encodeSizes encodes m at each width, scaling into small (reused) with
// area interpolation; a width m already fits is its full size.
func encodeSizes(m gocv.Mat, small, half *gocv.Mat, quality int, widths []int) ([][]byte, error) {
	out := make([][]byte, 0, len(widths))
	for _, w := range widths {
		src := m
		if nw, nh := media.ScaledSize(m.Cols(), m.Rows(), w); nw != m.Cols() {
			scaleArea(m, small, half, nw, nh)
			if small.Empty() {
				return nil, errors.New("scale frame: no picture")
			}
			src = *small
		}
		b, err := encodeJPEG(src, quality)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func encodeJPEG(m gocv.Mat, quality int) ([]byte, error) {
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, m, []int{gocv.IMWriteJpegQuality, media.JPEGQuality(quality)})
	if err != nil {
		return nil, fmt.Errorf("encode jpeg: %w", err)
	}
	defer buf.Close()
	if buf.Len() == 0 {
		return nil, errors.New("encode jpeg: empty output")
	}
	return bytes.Clone(buf.GetBytes()), nil
}

// SeekFrame positions the capture so the next Grab returns frame n. It fails,
// leaving the position unspecified, when the backend cannot seek there
// exactly.
func (s *source) SeekFrame(n int64) error {
	s.grabbed, s.decoded = false, false
	if s.live {
		return fmt.Errorf("seek to frame %d: a live stream cannot seek", n)
	}
	if n < 0 || (s.info.Frames > 0 && n >= s.info.Frames) {
		return fmt.Errorf("seek to frame %d: out of range", n)
	}
	ok, err := s.cap.set(gocv.VideoCapturePosFrames, float64(n))
	if err != nil {
		return fmt.Errorf("seek to frame %d: %w", n, err)
	}
	if !ok {
		return fmt.Errorf("seek to frame %d: not supported", n)
	}
	if got := s.cap.get(gocv.VideoCapturePosFrames); got != float64(n) {
		return fmt.Errorf("seek to frame %d: landed on %v", n, got)
	}
	return nil
}

// Close releases the capture and the Mat. It is safe to call twice.
func (s *source) Close() error {
	s.cap.close()
	for _, m := range []*gocv.Mat{&s.frame, &s.small, &s.half} {
		if m.Ptr() != nil {
			if err := m.Close(); err != nil {
				return fmt.Errorf("close frame buffer: %w", err)
			}
		}
	}
	return nil
}

// captureInfo reads what the container says; values may be 0 or NaN.
func captureInfo(c *capture) media.VideoInfo {
	info := media.VideoInfo{
		Width:  finiteInt(c.get(gocv.VideoCaptureFrameWidth)),
		Height: finiteInt(c.get(gocv.VideoCaptureFrameHeight)),
		FPS:    c.get(gocv.VideoCaptureFPS),
		Frames: int64(finiteInt(c.get(gocv.VideoCaptureFrameCount))),
		Codec:  fourCC(c.get(gocv.VideoCaptureFOURCC)),
	}
	if info.Frames < 0 {
		info.Frames = 0
	}
	if info.Frames > 0 && info.FPS > 0 && !math.IsInf(info.FPS, 0) {
		info.Duration = durationOf(info.Frames, info.FPS)
	}
	return info
}

func finiteInt(v float64) int {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > math.MaxInt32 {
		return 0
	}
	return int(v)
}

// fourCC turns OpenCV's numeric FOURCC property into its text, keeping
// only printable characters.
func fourCC(v float64) string {
	if math.IsNaN(v) || v <= 0 || v > math.MaxUint32 {
		return ""
	}
	n := uint32(v)
	b := make([]byte, 0, 4)
	for i := range 4 {
		c := byte(n >> (8 * i))
		if c >= 0x20 && c < 0x7f {
			b = append(b, c)
		}
	}
	return string(bytes.TrimSpace(b))
}

// scaleArea scales m down to w x h with area interpolation into dst. Area
// interpolation by a whole factor is a plain box average, several times
// cheaper than by a fractional one; so while the picture is at least twice
// as large as wanted, it is first halved (into half, reused), and only the
// last, smaller step takes the fractional path. The result is the area
// average of the same pixels, up to rounding.
func scaleArea(m gocv.Mat, dst, half *gocv.Mat, w, h int) {
	src := m
	for src.Cols() >= 2*w && src.Rows() >= 2*h {
		gocv.Resize(src, half, image.Pt(src.Cols()/2, src.Rows()/2), 0, 0, gocv.InterpolationArea)
		src = *half
	}
	gocv.Resize(src, dst, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
}
