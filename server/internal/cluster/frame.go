package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// Frame wire format, on FrameSubject and in LatestSubject replies. All
// integers are big-endian:
//
//	offset size field
//	0      1    version (1)
//	1      8    epoch
//	9      8    seq
//	17     8    pts, nanoseconds (int64, >= 0)
//	25     8    captured, Unix nanoseconds (int64)
//	33     4    width
//	37     4    height
//	41     ...  JPEG bytes (at least one)
//
// The camera and rendition travel in the subject, not in the payload.
const (
	frameVersion    = 1
	FrameHeaderSize = 41
	// MaxFrameDimension bounds width and height, as a sanity check on input.
	MaxFrameDimension = 1 << 16
)

// ErrBadFrame is wrapped by every DecodeFrame error.
var ErrBadFrame = errors.New("bad cluster frame")

// EncodeFrame returns f's wire form: header and JPEG in one new slice.
func EncodeFrame(f *media.Frame) []byte {
	b := make([]byte, FrameHeaderSize+len(f.JPEG))
	b[0] = frameVersion
	binary.BigEndian.PutUint64(b[1:], f.Epoch)
	binary.BigEndian.PutUint64(b[9:], f.Seq)
	binary.BigEndian.PutUint64(b[17:], uint64(f.PTS))
	binary.BigEndian.PutUint64(b[25:], uint64(f.Captured.UnixNano()))
	binary.BigEndian.PutUint32(b[33:], uint32(f.Width))
	binary.BigEndian.PutUint32(b[37:], uint32(f.Height))
	copy(b[FrameHeaderSize:], f.JPEG)
	return b
}

// DecodeFrame reads a frame of (cam, r) from its wire form. The frame's
// JPEG aliases b: the caller must not change b afterwards.
func DecodeFrame(cam media.CameraID, r media.Rendition, b []byte) (*media.Frame, error) {
	if len(b) <= FrameHeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, want more than %d", ErrBadFrame, len(b), FrameHeaderSize)
	}
	if b[0] != frameVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadFrame, b[0], frameVersion)
	}
	pts := int64(binary.BigEndian.Uint64(b[17:]))
	w := binary.BigEndian.Uint32(b[33:])
	h := binary.BigEndian.Uint32(b[37:])
	if pts < 0 {
		return nil, fmt.Errorf("%w: negative pts", ErrBadFrame)
	}
	if w > MaxFrameDimension || h > MaxFrameDimension {
		return nil, fmt.Errorf("%w: size %dx%d", ErrBadFrame, w, h)
	}
	return &media.Frame{
		Camera:    cam,
		Rendition: r.OrFull(),
		Epoch:     binary.BigEndian.Uint64(b[1:]),
		Seq:       binary.BigEndian.Uint64(b[9:]),
		PTS:       time.Duration(pts),
		Captured:  time.Unix(0, int64(binary.BigEndian.Uint64(b[25:]))),
		Width:     int(w),
		Height:    int(h),
		JPEG:      b[FrameHeaderSize:],
	}, nil
}
