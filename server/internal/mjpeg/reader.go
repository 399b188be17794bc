// Package mjpeg reads Motion-JPEG as cameras serve it: the JPEG parts of a
// multipart/x-mixed-replace HTTP body, passed through as they arrive
// (never decoded or re-encoded), plus the few JPEG header facts a live
// source needs (FixHuffman, Size).
//
// The package is stateless format code (go2rtc's pkg/mjpeg); connecting to
// cameras, reconnecting and publishing belong to the live source runner.
//
// Real cameras are sloppy, so the Reader finds each JPEG by its own
// structure (SOI, marker segments, entropy-coded data, EOI) and treats the
// multipart framing as hints: Content-Length may be missing or wrong,
// there may be junk before the first boundary, boundaries may lack their
// leading dashes or not match the Content-Type's boundary parameter, lines
// may end in CRLF or LF. A Content-Length is used only when the JPEG's
// structure is damaged but the declared part ends in EOI.
//
// Concurrency: a Reader is used by one goroutine; FixHuffman and Size are
// pure functions.
package mjpeg

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"
)

// MaxPartSize bounds one part (one JPEG) and the junk the Reader skips
// between JPEGs, so a broken or hostile camera cannot make it allocate
// without bound.
const MaxPartSize = 16 << 20

var (
	// ErrTooLarge: a part exceeds MaxPartSize.
	ErrTooLarge = fmt.Errorf("MJPEG part larger than %d MiB", MaxPartSize>>20)
	// ErrNoJPEG: MaxPartSize bytes went by without a JPEG in them.
	ErrNoJPEG = errors.New("not a JPEG or MJPEG answer")
)

const (
	initialBuffer = 64 << 10
	// maxLine: a "header line" longer than this is binary junk; only its
	// tail is kept while looking for the next JPEG.
	maxLine = 4 << 10
	// maxEmptyReads guards against readers that return 0, nil forever.
	maxEmptyReads = 100
)

// Reader reads the JPEG parts of a multipart/x-mixed-replace body.
type Reader struct {
	r        io.Reader
	boundary string // from the Content-Type, without leading dashes; may be ""

	buf        []byte
	start, end int // unread bytes are buf[start:end]
	eof        bool
	err        error // sticky

	length  int // Content-Length of the current part, -1 when unknown
	skipped int // junk bytes skipped since the last JPEG
}

// NewReader reads the JPEG parts of a multipart/x-mixed-replace body.
// contentType is the response's Content-Type (its boundary parameter may
// be missing or wrong: cope). A body that is one plain JPEG reads as one
// part.
func NewReader(r io.Reader, contentType string) *Reader {
	var boundary string
	if _, params, err := mime.ParseMediaType(contentType); err == nil {
		boundary = strings.TrimPrefix(params["boundary"], "--")
	}
	return &Reader{r: r, boundary: boundary, length: -1}
}

// Next returns the next complete JPEG (SOI..EOI), Huffman tables added
// when missing (AVI1), owned by the caller. Apart from the added tables
// the bytes are the camera's. At the end of the body it returns io.EOF;
// a body that ends inside a JPEG gives io.ErrUnexpectedEOF. Errors are
// sticky: after one, every call returns it.
func (r *Reader) Next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	jpeg, err := r.next()
	if err != nil {
		r.err = err
		return nil, err
	}
	return FixHuffman(jpeg), nil
}

func (r *Reader) next() ([]byte, error) {
	for {
		if err := r.skipToSOI(); err != nil {
			return nil, err
		}
		jpeg, ok, err := r.readJPEG()
		if err != nil {
			return nil, err
		}
		if ok {
			r.skipped = 0
			r.length = -1
			return jpeg, nil
		}
		// A false SOI in junk: step over it and look again.
		r.start++
		r.skipped++
		r.length = -1
	}
}

// skipToSOI consumes the bytes before the next SOI marker, reading the
// multipart header lines among them for a Content-Length.
func (r *Reader) skipToSOI() error {
	for {
		data := r.buf[r.start:r.end]
		if i := bytes.Index(data, soi); i >= 0 {
			r.headerLines(data[:i])
			return r.skip(i)
		}
		if r.eof {
			// Trailing text (the closing boundary, CRLFs) is no JPEG.
			r.start = r.end
			return io.EOF
		}
		// Read complete lines; of an overlong one keep only the tail, which
		// may be the first byte of an SOI.
		n := bytes.LastIndexByte(data, '\n') + 1
		r.headerLines(data[:n])
		if len(data)-n > maxLine {
			n = len(data) - 1
		}
		if err := r.skip(n); err != nil {
			return err
		}
		if err := r.fill(); err != nil {
			return err
		}
	}
}

func (r *Reader) skip(n int) error {
	r.start += n
	r.skipped += n
	if r.skipped > MaxPartSize {
		return ErrNoJPEG
	}
	return nil
}

// headerLines notes boundaries and Content-Length headers in text, CRLF
// or LF separated. A boundary line starts a part with no known length.
func (r *Reader) headerLines(text []byte) {
	for len(text) > 0 {
		line := text
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = nil
		}
		line = bytes.TrimSpace(line)
		switch {
		case len(line) == 0:
		case bytes.HasPrefix(line, []byte("--")) ||
			r.boundary != "" && bytes.Equal(line, []byte(r.boundary)):
			r.length = -1
		default:
			name, value, ok := bytes.Cut(line, []byte(":"))
			if !ok || !strings.EqualFold(string(bytes.TrimSpace(name)), "Content-Length") {
				continue
			}
			if n, err := strconv.Atoi(string(bytes.TrimSpace(value))); err == nil && n > 0 {
				r.length = n
			}
		}
	}
}

// readJPEG reads the JPEG whose SOI is at r.start. ok is false when it
// turns out not to be a JPEG.
func (r *Reader) readJPEG() (jpeg []byte, ok bool, err error) {
	if r.length > MaxPartSize {
		return nil, false, ErrTooLarge
	}
	var s scan
	for {
		data := r.buf[r.start:r.end]
		n, res := s.next(data)
		if res != scanDone && r.lengthEndsInEOI(data) {
			n, res = r.length, scanDone
		}
		switch res {
		case scanDone:
			if n > MaxPartSize {
				return nil, false, ErrTooLarge
			}
			jpeg = bytes.Clone(data[:n])
			r.start += n
			return jpeg, true, nil
		case scanInvalid:
			return nil, false, nil
		}
		if len(data) > MaxPartSize {
			return nil, false, ErrTooLarge
		}
		if r.eof {
			return nil, false, fmt.Errorf("MJPEG part cut short after %d bytes: %w", len(data), io.ErrUnexpectedEOF)
		}
		if err := r.fill(); err != nil {
			return nil, false, err
		}
	}
}

// lengthEndsInEOI reports whether the part's Content-Length is known, all
// of it is buffered, and it ends in EOI: the fallback for a JPEG whose
// structure is damaged.
func (r *Reader) lengthEndsInEOI(data []byte) bool {
	n := r.length
	return n >= 4 && n <= len(data) && data[n-2] == 0xFF && data[n-1] == markerEOI
}

// fill reads more of the body into the buffer, compacting or growing it
// (up to MaxPartSize plus one read) as needed. At the end of the body it
// sets r.eof and returns nil so the caller can look at what is left.
func (r *Reader) fill() error {
	if r.eof {
		return nil
	}
	if r.end == len(r.buf) {
		if r.start > 0 {
			r.end = copy(r.buf, r.buf[r.start:r.end])
			r.start = 0
		}
		if r.end == len(r.buf) {
			size := max(2*len(r.buf), initialBuffer)
			size = min(size, MaxPartSize+initialBuffer)
			if size <= len(r.buf) {
				return ErrTooLarge
			}
			buf := make([]byte, size)
			r.end = copy(buf, r.buf[r.start:r.end])
			r.start = 0
			r.buf = buf
		}
	}
	for range maxEmptyReads {
		n, err := r.r.Read(r.buf[r.end:])
		r.end += n
		if err == io.EOF {
			r.eof = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("read MJPEG body: %w", err)
		}
		if n > 0 {
			return nil
		}
	}
	return io.ErrNoProgress
}
