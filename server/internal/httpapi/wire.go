package httpapi

import (
	"encoding/binary"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"

	"github.com/livemon/livemon/server/internal/media"
)

// frameHeaderLen is the size of the binary WebSocket frame header
// (docs/protocol.md).
const frameHeaderLen = 40

// frameMessageType is the first byte of a binary frame message.
const frameMessageType = 1

// appendFrameHeader appends the binary frame header for f on channel ch.
func appendFrameHeader(b []byte, ch uint32, f *media.Frame) []byte {
	b = append(b, frameMessageType, 0)
	b = binary.BigEndian.AppendUint16(b, frameHeaderLen)
	b = binary.BigEndian.AppendUint32(b, ch)
	b = binary.BigEndian.AppendUint64(b, f.Epoch)
	b = binary.BigEndian.AppendUint64(b, f.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(f.Captured.UnixMilli()))
	b = binary.BigEndian.AppendUint32(b, uint32(f.PTS.Milliseconds()))
	b = binary.BigEndian.AppendUint16(b, uint16(f.Width))
	b = binary.BigEndian.AppendUint16(b, uint16(f.Height))
	return b
}

// mjpegBoundary separates the parts of an MJPEG stream.
const mjpegBoundary = "livemonframe"

// wireCache builds each frame's transport encodings once, however many
// viewers send it: the WebSocket message payload (frame header and JPEG,
// the same bytes for every connection) and the MJPEG part header. It keeps
// the encodings of the newest frame per camera only.
//
// For a camera with few viewers the payload goes out with
// Conn.WriteMessage, whose server path frames it without allocating the
// message again: one writev per viewer of the WebSocket header, the first
// write-buffer's worth of payload (copied) and the rest. For many viewers
// a PreparedMessage frames it once for all of them and each write is a
// plain write of those bytes, which is cheaper per viewer, but gorilla
// builds that frame in a growing buffer (281 KB allocated and copied for a
// 134 KB frame: about 0.15 ms of CPU, or the per-viewer difference of ~50
// viewers). The previous frame's number of WebSocket sends decides.
type wireCache struct {
	mu sync.Mutex
	m  map[media.CameraID]*wireEntry
}

type wireEntry struct {
	frame *media.Frame
	once  struct {
		ws, mjpeg sync.Once
	}
	ws       []byte
	prepared *websocket.PreparedMessage // nil: few viewers, or it failed
	sends    atomic.Int64               // websocket calls for this frame
	before   int64                      // sends of the camera's previous frame
	mjpeg    []byte
}

// preparedFrom is the number of WebSocket viewers of a camera's previous
// frame from which its next frame is sent as a PreparedMessage.
const preparedFrom = 48

func newWireCache() wireCache { return wireCache{m: make(map[media.CameraID]*wireEntry)} }

func (c *wireCache) entry(f *media.Frame) *wireEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[f.Camera]
	if e == nil || e.frame != f {
		if e != nil && e.frame.Seq > f.Seq && e.frame.Epoch == f.Epoch {
			// An older frame than the cached one: build it uncached.
			return &wireEntry{frame: f}
		}
		var before int64
		if e != nil {
			before = e.sends.Load()
		}
		e = &wireEntry{frame: f, before: before}
		c.m[f.Camera] = e
	}
	return e
}

// forget drops a removed camera's entry.
func (c *wireCache) forget(cam media.CameraID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, cam)
}

// websocket returns f's binary message for channel ch: its payload, and
// a PreparedMessage of it when the camera has many WebSocket viewers
// (else nil). Channels are per camera and per process, so every
// connection shares them.
func (c *wireCache) websocket(ch uint32, f *media.Frame) ([]byte, *websocket.PreparedMessage) {
	e := c.entry(f)
	e.sends.Add(1)
	e.once.ws.Do(func() {
		b := make([]byte, 0, frameHeaderLen+len(f.JPEG))
		b = appendFrameHeader(b, ch, f)
		e.ws = append(b, f.JPEG...)
		if e.before >= preparedFrom {
			// On error the plain path still works.
			e.prepared, _ = websocket.NewPreparedMessage(websocket.BinaryMessage, e.ws)
		}
	})
	return e.ws, e.prepared
}

// mjpegHeader returns the part header that precedes f's JPEG bytes.
func (c *wireCache) mjpegHeader(f *media.Frame) []byte {
	e := c.entry(f)
	e.once.mjpeg.Do(func() {
		h := make([]byte, 0, 128)
		h = append(h, boundaryLine+"Content-Type: image/jpeg\r\nContent-Length: "...)
		h = strconv.AppendInt(h, int64(len(f.JPEG)), 10)
		h = append(h, "\r\nX-Epoch: "...)
		h = strconv.AppendUint(h, f.Epoch, 10)
		h = append(h, "\r\nX-Seq: "...)
		h = strconv.AppendUint(h, f.Seq, 10)
		h = append(h, "\r\n\r\n"...)
		e.mjpeg = h
	})
	return e.mjpeg
}

func uitoa(n uint64) string { return strconv.FormatUint(n, 10) }

// frameHeader is a decoded binary frame header (docs/protocol.md).
type frameHeader struct {
	Channel    uint32
	Epoch, Seq uint64
	ServerMS   uint64
	PositionMS uint32
	Width      uint16
	Height     uint16
	Len        int // header length: the JPEG starts here
}

// parseFrameHeader decodes a binary frame message's header, as clients do.
func parseFrameHeader(b []byte) (frameHeader, error) {
	if len(b) < 4 || b[0] != frameMessageType {
		return frameHeader{}, errors.New("not a frame message")
	}
	hl := int(binary.BigEndian.Uint16(b[2:]))
	if hl < frameHeaderLen || hl > len(b) {
		return frameHeader{}, errors.New("bad frame header length")
	}
	return frameHeader{
		Channel:    binary.BigEndian.Uint32(b[4:]),
		Epoch:      binary.BigEndian.Uint64(b[8:]),
		Seq:        binary.BigEndian.Uint64(b[16:]),
		ServerMS:   binary.BigEndian.Uint64(b[24:]),
		PositionMS: binary.BigEndian.Uint32(b[32:]),
		Width:      binary.BigEndian.Uint16(b[36:]),
		Height:     binary.BigEndian.Uint16(b[38:]),
		Len:        hl,
	}, nil
}
