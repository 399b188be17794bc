package isolate

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
)

// The scale op (opScale):
//
//	request: quality (1 byte) | width (uint16) | JPEG (rest)
//	reply:   work (uint64 ns) | width | height | decoded width |
//	         decoded height (uint16 each) | JPEG (rest, starts FF D8)
const (
	scaleHeaderLen = 1 + 2
	scaledFixedLen = workLen + 4*2
)

// checkScale checks what a scale request would carry.
func checkScale(jpeg []byte, width int) error {
	if width <= 0 || width > 0xFFFF {
		return fmt.Errorf("scale: width %d out of range", width)
	}
	if len(jpeg) > maxScaleRequest-scaleHeaderLen {
		return fmt.Errorf("scale: JPEG of %d bytes is too large", len(jpeg))
	}
	return nil
}

// scaleRequest appends a scale request's payload to b[:0]; checkScale
// has accepted jpeg and width.
func scaleRequest(b []byte, jpeg []byte, width, quality int) []byte {
	b = append(b[:0], byte(media.JPEGQuality(quality)))
	b = binary.BigEndian.AppendUint16(b, uint16(width))
	return append(b, jpeg...)
}

// parseScaleRequest is the inverse of scaleRequest; jpeg aliases payload.
func parseScaleRequest(payload []byte) (jpeg []byte, width, quality int, err error) {
	if len(payload) < scaleHeaderLen {
		return nil, 0, 0, fmt.Errorf("scale request of %d bytes", len(payload))
	}
	return payload[scaleHeaderLen:], int(binary.BigEndian.Uint16(payload[1:])), int(payload[0]), nil
}

// scaleReply is a scale reply's payload.
func scaleReply(s decoder.ScaledJPEG) ([]byte, error) {
	for _, v := range []int{s.Width, s.Height, s.DecodedWidth, s.DecodedHeight} {
		if v < 0 || v > 0xFFFF {
			return nil, fmt.Errorf("scaled size %d out of range", v)
		}
	}
	b := make([]byte, 0, scaledFixedLen+len(s.JPEG))
	b = binary.BigEndian.AppendUint64(b, uint64(max(s.Work, 0)))
	for _, v := range []int{s.Width, s.Height, s.DecodedWidth, s.DecodedHeight} {
		b = binary.BigEndian.AppendUint16(b, uint16(v))
	}
	return append(b, s.JPEG...), nil
}

// parseScaleReply is the inverse of scaleReply; the JPEG aliases b.
func parseScaleReply(b []byte) (decoder.ScaledJPEG, error) {
	if len(b) < scaledFixedLen+2 || b[scaledFixedLen] != 0xFF || b[scaledFixedLen+1] != 0xD8 {
		return decoder.ScaledJPEG{}, fmt.Errorf("scale reply of %d bytes: %w", len(b), errMalformed)
	}
	u := func(i int) int { return int(binary.BigEndian.Uint16(b[workLen+2*i:])) }
	return decoder.ScaledJPEG{
		JPEG:  b[scaledFixedLen:],
		Width: u(0), Height: u(1), DecodedWidth: u(2), DecodedHeight: u(3),
		Work: time.Duration(binary.BigEndian.Uint64(b)),
	}, nil
}
