package mjpeg

import (
	"bytes"
	"errors"
)

// JPEG markers this package looks at (ITU T.81 table B.1).
const (
	markerSOI = 0xD8
	markerEOI = 0xD9
	markerSOS = 0xDA
	markerDHT = 0xC4
	markerTEM = 0x01
)

var soi = []byte{0xFF, markerSOI}

// standalone reports whether marker m has no length field: TEM and RST0-7
// (SOI and EOI are handled by the callers).
func standalone(m byte) bool { return m == markerTEM || m >= 0xD0 && m <= 0xD7 }

// isSOF reports whether m starts a frame header (SOF0-15 without DHT,
// JPG and DAC).
func isSOF(m byte) bool {
	return m >= 0xC0 && m <= 0xCF && m != markerDHT && m != 0xC8 && m != 0xCC
}

// segments walks the marker segments of jpeg from SOI up to and including
// SOS, calling fn with each marker and the offset of its 0xFF byte. fn
// returns false to stop. It returns an error when the headers are
// malformed or end before SOS.
func segments(jpeg []byte, fn func(m byte, at int) bool) error {
	if !bytes.HasPrefix(jpeg, soi) {
		return errors.New("not a JPEG: no SOI marker")
	}
	p := 2
	for {
		if p+1 >= len(jpeg) {
			return errors.New("JPEG headers end before SOS")
		}
		if jpeg[p] != 0xFF {
			return errors.New("JPEG headers: marker expected")
		}
		m := jpeg[p+1]
		switch {
		case m == 0xFF: // fill byte
			p++
			continue
		case m == 0x00 || m == markerSOI || m == markerEOI:
			return errors.New("JPEG headers end before SOS")
		}
		if !fn(m, p) {
			return nil
		}
		if standalone(m) {
			p += 2
			continue
		}
		if p+4 > len(jpeg) {
			return errors.New("JPEG headers end before SOS")
		}
		n := int(jpeg[p+2])<<8 | int(jpeg[p+3])
		if n < 2 {
			return errors.New("JPEG headers: bad segment length")
		}
		if m == markerSOS {
			return nil
		}
		p += 2 + n
	}
}

// Size reads width and height from the JPEG's SOF marker.
func Size(jpeg []byte) (w, h int, err error) {
	found := false
	serr := segments(jpeg, func(m byte, at int) bool {
		if !isSOF(m) {
			return true
		}
		// FF Cn, length(2), precision(1), height(2), width(2).
		if at+9 <= len(jpeg) {
			h = int(jpeg[at+5])<<8 | int(jpeg[at+6])
			w = int(jpeg[at+7])<<8 | int(jpeg[at+8])
			found = true
		}
		return false
	})
	if !found {
		if serr == nil {
			serr = errors.New("JPEG has no SOF marker")
		}
		return 0, 0, serr
	}
	if w == 0 || h == 0 {
		return 0, 0, errors.New("JPEG frame header has zero width or height")
	}
	return w, h, nil
}

// FixHuffman returns jpeg with the standard DHT tables (ITU T.81 K.3)
// inserted when it has none; else jpeg itself. USB cameras stream "AVI1"
// frames (Motion-JPEG as in AVI files) that leave the tables out; browsers
// and Go's image/jpeg need them. A JPEG whose headers cannot be walked is
// returned unchanged.
func FixHuffman(jpeg []byte) []byte {
	sos := -1
	if err := segments(jpeg, func(m byte, at int) bool {
		switch m {
		case markerDHT:
			return false
		case markerSOS:
			sos = at
			return false
		}
		return true
	}); err != nil || sos < 0 {
		return jpeg
	}
	out := make([]byte, 0, len(jpeg)+len(standardDHT))
	out = append(out, jpeg[:sos]...)
	out = append(out, standardDHT...)
	return append(out, jpeg[sos:]...)
}

// scan is the incremental search for the end of a JPEG that starts with
// SOI at offset 0 of a growing buffer. It walks the header segments by
// their lengths (an EXIF thumbnail's own EOI is skipped with its APP1
// segment) and the entropy-coded data by markers.
type scan struct {
	pos     int  // next offset to look at
	entropy bool // inside entropy-coded data (after SOS)
}

type scanResult int

const (
	scanMore    scanResult = iota // the JPEG goes on past the buffer
	scanDone                      // the JPEG ends at the returned offset
	scanInvalid                   // not a JPEG after all
)

// next continues the scan over b (the whole buffer from SOI) and returns
// the JPEG's length when it is complete.
func (s *scan) next(b []byte) (int, scanResult) {
	if s.pos == 0 {
		s.pos = len(soi)
	}
	for {
		if s.pos >= len(b) {
			return 0, scanMore
		}
		if s.entropy {
			i := bytes.IndexByte(b[s.pos:], 0xFF)
			if i < 0 {
				s.pos = len(b)
				return 0, scanMore
			}
			p := s.pos + i
			if p+1 >= len(b) {
				s.pos = p
				return 0, scanMore
			}
			switch m := b[p+1]; {
			case m == markerEOI:
				return p + 2, scanDone
			case m == 0xFF: // fill byte before a marker
				s.pos = p + 1
			case m == 0x00 || standalone(m) || m == markerSOI:
				// Stuffed 0xFF, restart marker, or corrupt data: go on.
				s.pos = p + 2
			default:
				// A segment between scans (progressive JPEG: DHT, SOS...).
				s.pos = p
				s.entropy = false
			}
			continue
		}
		p := s.pos
		if b[p] != 0xFF {
			return 0, scanInvalid
		}
		if p+1 >= len(b) {
			return 0, scanMore
		}
		m := b[p+1]
		switch {
		case m == 0xFF:
			s.pos = p + 1
			continue
		case m == markerEOI:
			return p + 2, scanDone
		case m == 0x00 || m == markerSOI:
			return 0, scanInvalid
		case standalone(m):
			s.pos = p + 2
			continue
		}
		if p+4 > len(b) {
			return 0, scanMore
		}
		n := int(b[p+2])<<8 | int(b[p+3])
		if n < 2 {
			return 0, scanInvalid
		}
		s.pos = p + 2 + n
		if m == markerSOS {
			s.entropy = true
		}
	}
}

// StripHuffman returns jpeg without its DHT segments: the "AVI1" form that
// USB cameras send, for test cameras and tests. FixHuffman undoes it for
// JPEGs made with the standard tables (as Go's image/jpeg makes them). A
// JPEG whose headers cannot be walked is returned unchanged.
func StripHuffman(jpeg []byte) []byte {
	out := make([]byte, 0, len(jpeg))
	from := 0 // start of the bytes not yet copied
	if err := segments(jpeg, func(m byte, at int) bool {
		if m == markerDHT && at+4 <= len(jpeg) {
			end := at + 2 + (int(jpeg[at+2])<<8 | int(jpeg[at+3]))
			if end > len(jpeg) {
				return false
			}
			out = append(out, jpeg[from:at]...)
			from = end
		}
		return m != markerSOS
	}); err != nil {
		return jpeg
	}
	return append(out, jpeg[from:]...)
}
