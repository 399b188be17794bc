package mjpeg

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// testJPEG encodes a w x h picture that differs with seed.
func testJPEG(t testing.TB, w, h, seed int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(x*7 + seed), uint8(y*5 + seed*3), uint8(x ^ y ^ seed), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 75}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func stripDHT(t testing.TB, j []byte) []byte {
	t.Helper()
	out := StripHuffman(j)
	if bytes.Contains(out, []byte{0xFF, markerDHT}) || len(out) >= len(j) {
		t.Fatal("StripHuffman left a DHT segment")
	}
	return out
}

// withAPP1Thumbnail inserts an APP1 segment that carries a whole JPEG (as
// EXIF thumbnails do), whose EOI must not end the outer JPEG.
func withAPP1Thumbnail(t testing.TB, j, thumb []byte) []byte {
	t.Helper()
	body := append([]byte("Exif\x00\x00"), thumb...)
	n := len(body) + 2
	seg := append([]byte{0xFF, 0xE1, byte(n >> 8), byte(n)}, body...)
	out := bytes.Clone(j[:2])
	out = append(out, seg...)
	return append(out, j[2:]...)
}

// part writes one multipart part: boundary line, headers, body, CRLF.
type part struct {
	body   []byte
	length int // Content-Length header; 0 leaves it out
}

func stream(boundary, eol string, parts []part) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		b.WriteString(boundary + eol + "Content-Type: image/jpeg" + eol)
		if p.length > 0 {
			fmt.Fprintf(&b, "Content-Length: %d%s", p.length, eol)
		}
		b.WriteString(eol)
		b.Write(p.body)
		b.WriteString(eol)
	}
	return b.Bytes()
}

func readAll(t *testing.T, r *Reader) ([][]byte, error) {
	t.Helper()
	var frames [][]byte
	for range 100 {
		f, err := r.Next()
		if err != nil {
			return frames, err
		}
		frames = append(frames, f)
	}
	t.Fatal("more than 100 frames")
	return nil, nil
}

func TestReaderParts(t *testing.T) {
	a, b, c := testJPEG(t, 64, 48, 1), testJPEG(t, 64, 48, 2), testJPEG(t, 32, 32, 3)
	thumbed := withAPP1Thumbnail(t, b, c)
	const ct = "multipart/x-mixed-replace; boundary=frame"
	exact := []part{{a, len(a)}, {b, len(b)}, {c, len(c)}}
	noLength := []part{{a, 0}, {b, 0}, {c, 0}}
	tests := []struct {
		name        string
		contentType string
		body        []byte
		want        [][]byte
	}{
		{"CRLF with Content-Length", ct, stream("--frame", "\r\n", exact), [][]byte{a, b, c}},
		{"CRLF without Content-Length", ct, stream("--frame", "\r\n", noLength), [][]byte{a, b, c}},
		{"LF with Content-Length", ct, stream("--frame", "\n", exact), [][]byte{a, b, c}},
		{"LF without Content-Length", ct, stream("--frame", "\n", noLength), [][]byte{a, b, c}},
		{"boundary without dashes", ct, stream("frame", "\r\n", exact), [][]byte{a, b, c}},
		{"boundary parameter with dashes", "multipart/x-mixed-replace;boundary=--frame", stream("--frame", "\r\n", noLength), [][]byte{a, b, c}},
		{"boundary parameter missing", "multipart/x-mixed-replace", stream("--myboundary", "\r\n", exact), [][]byte{a, b, c}},
		{"boundary parameter wrong", ct, stream("--other", "\r\n", noLength), [][]byte{a, b, c}},
		{"no Content-Type", "", stream("--frame", "\r\n", exact), [][]byte{a, b, c}},
		{"Content-Length too short", ct, stream("--frame", "\r\n", []part{{a, len(a) - 100}, {b, 10}, {c, len(c)}}), [][]byte{a, b, c}},
		{"Content-Length too long", ct, stream("--frame", "\r\n", []part{{a, len(a) + 100}, {b, len(b) + len(c) + 200}, {c, len(c) + 1}}), [][]byte{a, b, c}},
		{"Content-Length counts the CRLF", ct, stream("--frame", "\r\n", []part{{append(bytes.Clone(a), "\r\n"...), len(a) + 2}, {b, len(b)}}), [][]byte{a, b}},
		{"junk before the first boundary", ct, append([]byte("HTTP junk\r\n\xff\x00\xff\xd8garbage\x00\r\n"), stream("--frame", "\r\n", exact)...), [][]byte{a, b, c}},
		{"long binary junk line", ct, append(bytes.Repeat([]byte{0xAB}, 10000), stream("--frame", "\r\n", noLength)...), [][]byte{a, b, c}},
		{"closing boundary", ct, append(stream("--frame", "\r\n", exact), "--frame--\r\n"...), [][]byte{a, b, c}},
		{"EXIF thumbnail with its own EOI", ct, stream("--frame", "\r\n", []part{{thumbed, 0}, {a, 0}}), [][]byte{thumbed, a}},
		{"plain JPEG body", "image/jpeg", a, [][]byte{a}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, oneByte := range []bool{false, true} {
				var src io.Reader = bytes.NewReader(tt.body)
				if oneByte {
					src = iotest.OneByteReader(src)
				}
				got, err := readAll(t, NewReader(src, tt.contentType))
				if !errors.Is(err, io.EOF) {
					t.Errorf("oneByte=%v: end: %v, want io.EOF", oneByte, err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("oneByte=%v: %d frames, want %d", oneByte, len(got), len(tt.want))
				}
				for i := range got {
					if !bytes.Equal(got[i], tt.want[i]) {
						t.Errorf("oneByte=%v: frame %d: %d bytes differ from the %d sent", oneByte, i, len(got[i]), len(tt.want[i]))
					}
				}
			}
		})
	}
}

func TestReaderFramesAreOwned(t *testing.T) {
	a, b := testJPEG(t, 16, 16, 1), testJPEG(t, 16, 16, 2)
	r := NewReader(bytes.NewReader(stream("--x", "\r\n", []part{{a, 0}, {b, 0}})), "")
	first, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	keep := bytes.Clone(first)
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, keep) {
		t.Fatal("the first frame changed when the second was read")
	}
}

// A damaged JPEG whose structure cannot be followed is still found by an
// honest Content-Length that ends in EOI.
func TestReaderDamagedWithLength(t *testing.T) {
	a := testJPEG(t, 16, 16, 1)
	damaged := append([]byte{0xFF, 0xD8, 0x12, 0x34}, a[2:]...)
	body := stream("--x", "\r\n", []part{{damaged, len(damaged)}, {a, 0}})
	got, err := readAll(t, NewReader(bytes.NewReader(body), ""))
	if !errors.Is(err, io.EOF) || len(got) != 2 || !bytes.Equal(got[0], damaged) || !bytes.Equal(got[1], a) {
		t.Fatalf("got %d frames, err %v; want the damaged part and the next", len(got), err)
	}
}

func TestReaderAVI1(t *testing.T) {
	full := testJPEG(t, 64, 48, 5)
	avi1 := stripDHT(t, full)
	if bytes.Contains(avi1, []byte{0xFF, markerDHT}) {
		t.Fatal("test setup: DHT left in the AVI1 frame")
	}
	if _, err := jpeg.Decode(bytes.NewReader(avi1)); err == nil {
		t.Fatal("test setup: Go decodes a JPEG without DHT, the test proves nothing")
	}
	r := NewReader(bytes.NewReader(stream("--x", "\r\n", []part{{avi1, len(avi1)}})), "multipart/x-mixed-replace; boundary=x")
	got, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(got))
	if err != nil {
		t.Fatalf("AVI1 frame with tables added: %v", err)
	}
	want, err := jpeg.Decode(bytes.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	// Go's encoder uses the K.3 tables, so the pictures are the same.
	if !bytes.Equal(img.(*image.YCbCr).Y, want.(*image.YCbCr).Y) {
		t.Fatal("AVI1 frame decodes to another picture than the original")
	}
}

func TestFixHuffmanKeepsTables(t *testing.T) {
	full := testJPEG(t, 16, 16, 1)
	if got := FixHuffman(full); &got[0] != &full[0] || len(got) != len(full) {
		t.Fatal("FixHuffman changed a JPEG that has tables")
	}
	for _, junk := range [][]byte{nil, {0xFF}, {0xFF, 0xD8}, []byte("not a jpeg"), {0xFF, 0xD8, 0xFF, 0xDB, 0xFF}} {
		if got := FixHuffman(junk); !bytes.Equal(got, junk) {
			t.Errorf("FixHuffman(%q) = %q, want it unchanged", junk, got)
		}
	}
}

func TestSize(t *testing.T) {
	for _, tt := range []struct{ w, h int }{{64, 48}, {333, 211}, {1, 1}} {
		w, h, err := Size(testJPEG(t, tt.w, tt.h, 0))
		if err != nil || w != tt.w || h != tt.h {
			t.Errorf("Size = %d x %d, %v; want %d x %d", w, h, err, tt.w, tt.h)
		}
	}
	full := testJPEG(t, 40, 30, 0)
	if w, h, err := Size(stripDHT(t, full)); err != nil || w != 40 || h != 30 {
		t.Errorf("Size(AVI1) = %d x %d, %v", w, h, err)
	}
	for _, bad := range [][]byte{nil, []byte("GIF89a"), {0xFF, 0xD8}, {0xFF, 0xD8, 0xFF, 0xC0, 0x00}, full[:20]} {
		if _, _, err := Size(bad); err == nil {
			t.Errorf("Size(%q): no error", bad)
		}
	}
}

// endless yields prefix, then fill bytes forever.
type endless struct {
	prefix []byte
	fill   byte
	n      int // bytes served
}

func (e *endless) Read(p []byte) (int, error) {
	if e.n < len(e.prefix) {
		k := copy(p, e.prefix[e.n:])
		e.n += k
		return k, nil
	}
	for i := range p {
		p[i] = e.fill
	}
	e.n += len(p)
	return len(p), nil
}

func TestReaderBounded(t *testing.T) {
	t.Run("part without end", func(t *testing.T) {
		// SOI, a scan header, then entropy data that never ends.
		a := testJPEG(t, 16, 16, 1)
		sos := bytes.Index(a, []byte{0xFF, markerSOS})
		src := &endless{prefix: append([]byte("--x\r\n\r\n"), a[:sos+14]...), fill: 0x55}
		_, err := NewReader(src, "").Next()
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
		if src.n > MaxPartSize+2*initialBuffer {
			t.Errorf("read %d bytes before giving up", src.n)
		}
	})
	t.Run("declared too large", func(t *testing.T) {
		body := fmt.Sprintf("--x\r\nContent-Length: %d\r\n\r\n\xff\xd8\xff", MaxPartSize+1)
		_, err := NewReader(strings.NewReader(body), "").Next()
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
	t.Run("junk forever", func(t *testing.T) {
		src := &endless{fill: 'j'}
		r := NewReader(src, "")
		_, err := r.Next()
		if !errors.Is(err, ErrNoJPEG) {
			t.Fatalf("err = %v, want ErrNoJPEG", err)
		}
		if len(r.buf) > 2*initialBuffer {
			t.Errorf("buffer grew to %d bytes on junk", len(r.buf))
		}
		if _, err2 := r.Next(); !errors.Is(err2, ErrNoJPEG) {
			t.Errorf("second Next: %v, want the same error", err2)
		}
	})
}

func TestReaderEOFMidPart(t *testing.T) {
	a := testJPEG(t, 32, 32, 1)
	body := stream("--x", "\r\n", []part{{a, len(a)}, {a[:len(a)/2], len(a)}})
	body = body[:len(body)-2] // no CRLF after the cut part
	got, err := readAll(t, NewReader(bytes.NewReader(body), ""))
	if len(got) != 1 || !bytes.Equal(got[0], a) {
		t.Fatalf("got %d frames before the cut, want the whole first one", len(got))
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestReaderReadError(t *testing.T) {
	a := testJPEG(t, 16, 16, 1)
	boom := errors.New("connection reset")
	src := io.MultiReader(bytes.NewReader(stream("--x", "\r\n", []part{{a, 0}})), bytes.NewReader(a[:30]), iotest.ErrReader(boom))
	got, err := readAll(t, NewReader(src, ""))
	if len(got) != 1 || !errors.Is(err, boom) {
		t.Fatalf("got %d frames, err %v; want 1 and the read error", len(got), err)
	}
}

// BenchmarkReader: a 720p-sized stream without Content-Length, so every
// byte goes through the structure scan.
func BenchmarkReader(b *testing.B) {
	j := testJPEG(b, 1280, 720, 1)
	body := stream("--x", "\r\n", []part{{j, 0}, {j, 0}, {j, 0}, {j, 0}})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(bytes.NewReader(body), "")
		for range 4 {
			if _, err := r.Next(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
