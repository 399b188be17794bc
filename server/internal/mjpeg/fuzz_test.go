package mjpeg

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzReader feeds arbitrary bodies and Content-Types to the Reader: it
// must not panic, must end, must only return whole JPEGs and must not
// grow its buffer past its bound. Seeds are in testdata/fuzz/FuzzReader.
func FuzzReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		// The header walkers must cope with anything too.
		_, _, _ = Size(body)
		_ = FixHuffman(StripHuffman(body))
		r := NewReader(bytes.NewReader(body), contentType)
		for range len(body) + 2 {
			frame, err := r.Next()
			if err != nil {
				if again, err2 := r.Next(); again != nil || !errors.Is(err2, err) {
					t.Fatalf("error not sticky: %v then %v", err, err2)
				}
				return
			}
			if !bytes.HasPrefix(frame, soi) || !bytes.HasSuffix(frame, []byte{0xFF, markerEOI}) {
				t.Fatalf("frame is not SOI..EOI: %q", frame)
			}
			if len(frame) > len(body)+len(standardDHT) {
				t.Fatalf("frame of %d bytes from a %d byte body", len(frame), len(body))
			}
			if len(r.buf) > MaxPartSize+initialBuffer {
				t.Fatalf("buffer grew to %d bytes", len(r.buf))
			}
			_, _, _ = Size(frame)
		}
		t.Fatalf("Next did not end on a %d byte body", len(body))
	})
}
