package isolate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/mjpeg"
)

// Subcommands of the livemon binary that run the children.
const (
	DecodeCommand = "decode-child"
	ProbeCommand  = "probe-child"
)

// ExitCPULimit is a child's exit status when it reached its CPU-time limit.
const ExitCPULimit = 3

// Request ops.
const (
	opOpen byte = 'O'
	// opOpenStream opens a live stream; its payload is a JSON
	// media.StreamSpec.
	opOpenStream byte = 'U'
	opGrab       byte = 'G'
	opEncode     byte = 'E'
	opFrame      byte = 'F' // grab and encode
	opSeek       byte = 'S'
	opClose      byte = 'C'
	// opScale scales a JPEG down (a scaler child, scale.go); it needs no
	// open.
	opScale byte = 'J'
)

// Reply statuses.
const (
	statusOK  byte = 0
	statusEOF byte = 1
	statusErr byte = 2
	// statusShared: an encode or frame reply whose JPEG is in the frame
	// buffer; the payload is work | length (uint32).
	statusShared byte = 3
)

const (
	requestHeaderLen = 5
	replyHeaderLen   = 6
	maxRequest       = 64 << 10
	// maxScaleRequest bounds a scale request: its header and a JPEG as
	// large as an MJPEG part may be.
	maxScaleRequest = scaleHeaderLen + mjpeg.MaxPartSize
	maxReply        = 128 << 20
	// workLen is the work time that opens an encode or frame reply.
	workLen = 8
	// sharedLen is a statusShared reply's payload length.
	sharedLen = workLen + 4
	// plainErrorKind marks an error reply without a media.Kind.
	plainErrorKind = 255
)

// errMalformed is a reply that breaks the protocol.
var errMalformed = errors.New("malformed reply")

func appendRequest(b []byte, op byte, payload []byte) []byte {
	b = append(b, op)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

// readRequest reads one request into buf (reused) and returns its op and
// payload, which aliases buf.
func readRequest(r io.Reader, buf []byte) (op byte, payload, newBuf []byte, err error) {
	var h [requestHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, buf, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	limit := uint32(maxRequest)
	if h[0] == opScale {
		limit = maxScaleRequest
	}
	if n > limit {
		return 0, nil, buf, fmt.Errorf("request of %d bytes exceeds %d", n, limit)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	payload = buf[:n]
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, buf, unexpected(err)
	}
	return h[0], payload, buf, nil
}

// appendReply appends one reply to b; its payload is the concatenation
// of parts.
func appendReply(b []byte, op, status byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b = append(b, op, status)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// unexpected turns io.EOF in the middle of a message into
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// encodeError renders err for an error reply, keeping its media.Kind and
// user-safe message if it has them.
func encodeError(err error) []byte {
	var me *media.Error
	if errors.As(err, &me) && me.Kind >= 0 && me.Kind < plainErrorKind {
		return append([]byte{byte(me.Kind)}, me.Message...)
	}
	return append([]byte{plainErrorKind}, err.Error()...)
}

// decodeError is the inverse of encodeError.
func decodeError(b []byte) error {
	if len(b) == 0 {
		return errors.New("error without a message")
	}
	msg := string(b[1:])
	if b[0] == plainErrorKind {
		return errors.New(msg)
	}
	return &media.Error{Kind: media.Kind(b[0]), Message: msg}
}

const (
	infoFixedLen = 4 + 4 + 8 + 8 + 8
	maxCodecLen  = 64
)

func encodeInfo(v media.VideoInfo) []byte {
	b := make([]byte, 0, infoFixedLen+len(v.Codec))
	b = binary.BigEndian.AppendUint32(b, uint32(clampUint32(v.Width)))
	b = binary.BigEndian.AppendUint32(b, uint32(clampUint32(v.Height)))
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(v.FPS))
	b = binary.BigEndian.AppendUint64(b, uint64(v.Frames))
	b = binary.BigEndian.AppendUint64(b, uint64(v.Duration))
	codec := v.Codec
	if len(codec) > maxCodecLen {
		codec = codec[:maxCodecLen]
	}
	return append(b, codec...)
}

func decodeInfo(b []byte) (media.VideoInfo, error) {
	if len(b) < infoFixedLen || len(b) > infoFixedLen+maxCodecLen {
		return media.VideoInfo{}, errMalformed
	}
	return media.VideoInfo{
		Width:    int(binary.BigEndian.Uint32(b[0:])),
		Height:   int(binary.BigEndian.Uint32(b[4:])),
		FPS:      math.Float64frombits(binary.BigEndian.Uint64(b[8:])),
		Frames:   int64(binary.BigEndian.Uint64(b[16:])),
		Duration: time.Duration(binary.BigEndian.Uint64(b[24:])),
		Codec:    string(b[infoFixedLen:]),
	}, nil
}

func clampUint32(n int) int {
	return min(max(n, 0), math.MaxUint32)
}

// probeOutput is the probe child's one line of JSON.
type probeOutput struct {
	Info  *probeInfo  `json:"info,omitempty"`
	Error *probeError `json:"error,omitempty"`
}

type probeInfo struct {
	Width      int     `json:"width"`
	Height     int     `json:"height"`
	FPS        float64 `json:"fps"`
	Frames     int64   `json:"frames"`
	DurationNS int64   `json:"duration_ns"`
	Codec      string  `json:"codec,omitempty"`
}

type probeError struct {
	Kind    media.Kind `json:"kind"`
	Message string     `json:"message"`
}
