package httpapi

import (
	"encoding/binary"
	"strconv"
	"sync"

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
// viewers send it: the WebSocket message (a PreparedMessage, framed once for
// all connections) and the MJPEG part header. It keeps the encodings of the
// newest frame per camera only.
type wireCache struct {
	mu sync.Mutex
	m  map[media.CameraID]*wireEntry
}

type wireEntry struct {
	frame *media.Frame
	once  struct {
		ws, mjpeg sync.Once
	}
	ws    *websocket.PreparedMessage
	wsErr error
	mjpeg []byte
}

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
		e = &wireEntry{frame: f}
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

// websocket returns f's binary message for channel ch. Channels are
// per camera and per process, so every connection shares it.
func (c *wireCache) websocket(ch uint32, f *media.Frame) (*websocket.PreparedMessage, error) {
	e := c.entry(f)
	e.once.ws.Do(func() {
		b := make([]byte, 0, frameHeaderLen+len(f.JPEG))
		b = appendFrameHeader(b, ch, f)
		b = append(b, f.JPEG...)
		e.ws, e.wsErr = websocket.NewPreparedMessage(websocket.BinaryMessage, b)
	})
	return e.ws, e.wsErr
}

// mjpegHeader returns the part header that precedes f's JPEG bytes.
func (c *wireCache) mjpegHeader(f *media.Frame) []byte {
	e := c.entry(f)
	e.once.mjpeg.Do(func() {
		h := make([]byte, 0, 128)
		h = append(h, "--"+mjpegBoundary+"\r\nContent-Type: image/jpeg\r\nContent-Length: "...)
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
