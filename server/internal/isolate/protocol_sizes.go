package isolate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/livemon/livemon/server/internal/media"
)

// maxSizes is the most sizes one encode or frame request may ask for.
const maxSizes = 4

// sizes is what an encode or frame request asks for: a JPEG quality and
// one JPEG per width (0: the full picture; n > 0: scaled down to at most
// n pixels wide, see decoder.SizedEncoder).
type sizes struct {
	q      byte
	widths []int
}

// newSizes checks widths: 1 to maxSizes of them, each 0 to 65535.
func newSizes(quality int, widths []int) (sizes, error) {
	if len(widths) == 0 || len(widths) > maxSizes {
		return sizes{}, fmt.Errorf("encode: %d sizes asked for, want 1 to %d", len(widths), maxSizes)
	}
	for _, w := range widths {
		if w < 0 || w > 0xFFFF {
			return sizes{}, fmt.Errorf("encode: width %d out of range", w)
		}
	}
	return sizes{q: byte(media.JPEGQuality(quality)), widths: slices.Clone(widths)}, nil
}

// payload is the request payload: quality (1 byte) | widths (uint16 each).
func (k sizes) payload() []byte {
	b := make([]byte, 1, 1+2*len(k.widths))
	b[0] = k.q
	for _, w := range k.widths {
		b = binary.BigEndian.AppendUint16(b, uint16(w))
	}
	return b
}

// parseSizes reads a request payload. A payload of the quality alone is
// the full picture, answered as one JPEG without a length (legacy form).
func parseSizes(p []byte) (k sizes, legacy bool, err error) {
	if len(p) == 1 {
		return sizes{q: p[0], widths: []int{0}}, true, nil
	}
	if len(p) < 3 || (len(p)-1)%2 != 0 || (len(p)-1)/2 > maxSizes {
		return sizes{}, false, fmt.Errorf("encode request of %d bytes", len(p))
	}
	k.q = p[0]
	for i := 1; i < len(p); i += 2 {
		k.widths = append(k.widths, int(binary.BigEndian.Uint16(p[i:])))
	}
	return k, false, nil
}

// pick returns the JPEGs for want out of got, which has k's sizes, or
// false if k lacks one of them or has another quality.
func (k sizes) pick(got [][]byte, want sizes) ([][]byte, bool) {
	if k.q != want.q || len(got) != len(k.widths) {
		return nil, false
	}
	out := make([][]byte, 0, len(want.widths))
	for _, w := range want.widths {
		i := slices.Index(k.widths, w)
		if i < 0 {
			return nil, false
		}
		out = append(out, got[i])
	}
	return out, true
}

// appendJPEGs appends each JPEG as length (uint32) | JPEG.
func appendJPEGs(b []byte, jpegs [][]byte) []byte {
	for _, j := range jpegs {
		b = binary.BigEndian.AppendUint32(b, uint32(len(j)))
		b = append(b, j...)
	}
	return b
}

// splitJPEGs is the inverse of appendJPEGs for exactly n JPEGs, each of
// which must start FF D8; the JPEGs alias b.
func splitJPEGs(b []byte, n int) ([][]byte, error) {
	out := make([][]byte, 0, n)
	for range n {
		if len(b) < 4 {
			return nil, fmt.Errorf("encode reply cut short: %w", errMalformed)
		}
		l := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(l) > uint64(len(b)) || l < 2 || b[0] != 0xFF || b[1] != 0xD8 {
			return nil, fmt.Errorf("encode reply part of %d bytes is not a JPEG: %w", l, errMalformed)
		}
		out = append(out, b[:l:l])
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("encode reply has %d bytes too many: %w", len(b), errMalformed)
	}
	return out, nil
}

// errCannotScale: the child's source cannot make scaled sizes.
var errCannotScale = errors.New("this video source cannot encode scaled sizes")
