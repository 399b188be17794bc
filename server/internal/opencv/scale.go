package opencv

import (
	"errors"
	"image"
	"time"

	"gocv.io/x/gocv"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/mjpeg"
)

// reductions are OpenCV's reduced read modes, largest first: libjpeg
// decodes straight to 1/n of the size (scaled IDCT), skipping most of a
// full decode's work.
var reductions = []readMode{
	{8, gocv.IMReadReducedColor8},
	{4, gocv.IMReadReducedColor4},
	{2, gocv.IMReadReducedColor2},
	{1, gocv.IMReadColor},
}

// Reduction returns the largest libjpeg reduction n (8, 4, 2 or 1) whose
// decode of a w x h JPEG, ceil(w/n) x ceil(h/n), still covers tw x th.
func Reduction(w, h, tw, th int) int {
	return reduction(w, h, tw, th).n
}

// readMode is a reduction and the read flag that decodes at it.
type readMode struct {
	n    int
	flag gocv.IMReadFlag
}

func reduction(w, h, tw, th int) readMode {
	for _, r := range reductions {
		if ceilDiv(w, r.n) >= tw && ceilDiv(h, r.n) >= th {
			return r
		}
	}
	return reductions[len(reductions)-1]
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// ScaleJPEG makes the grid-sized JPEG of a camera's JPEG: it decodes it
// with the largest reduced read mode (IMREAD_REDUCED_COLOR_2/4/8) whose
// picture is still at least media.ScaledSize(w, h, width), scales that to
// exactly that size with area interpolation and encodes it at quality.
// EXIF orientation is ignored (the full rendition passes the bytes through
// unrotated too). A JPEG already at most width wide comes back as it is,
// undecoded. A JPEG that cannot be decoded is a *media.Error of kind
// unusable. Each call works on its own Mats: any goroutine may call it.
func ScaleJPEG(jpeg []byte, width, quality int) (decoder.ScaledJPEG, error) {
	began := time.Now()
	w, h, err := mjpeg.Size(jpeg)
	if err != nil {
		return decoder.ScaledJPEG{}, errNotJPEG()
	}
	tw, th := media.ScaledSize(w, h, width)
	if tw == w && th == h {
		return decoder.ScaledJPEG{JPEG: jpeg, Width: w, Height: h, Work: time.Since(began)}, nil
	}
	r := reduction(w, h, tw, th)
	m, err := gocv.IMDecode(jpeg, r.flag|gocv.IMReadIgnoreOrientation)
	if err != nil {
		return decoder.ScaledJPEG{}, errNotJPEG()
	}
	defer m.Close()
	if m.Empty() {
		return decoder.ScaledJPEG{}, errNotJPEG()
	}
	out := decoder.ScaledJPEG{Width: tw, Height: th, DecodedWidth: m.Cols(), DecodedHeight: m.Rows()}
	src := m
	if m.Cols() != tw || m.Rows() != th {
		small := gocv.NewMat()
		defer small.Close()
		gocv.Resize(m, &small, image.Pt(tw, th), 0, 0, gocv.InterpolationArea)
		if small.Empty() {
			return decoder.ScaledJPEG{}, errors.New("scale frame: no picture")
		}
		src = small
	}
	if out.JPEG, err = encodeJPEG(src, quality); err != nil {
		return decoder.ScaledJPEG{}, err
	}
	out.Work = time.Since(began)
	return out, nil
}

// ScaleJPEG is the package function, so the Opener a decode child serves
// with scales JPEGs too (package isolate's JPEG scaler op).
func (Opener) ScaleJPEG(jpeg []byte, width, quality int) (decoder.ScaledJPEG, error) {
	return ScaleJPEG(jpeg, width, quality)
}

func errNotJPEG() error {
	return media.Errorf(media.KindUnusable, "the camera's frame is not a JPEG that can be decoded")
}
