package httpapi

import (
	"encoding/binary"
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
// the encodings of the newest frame per (camera, rendition) only.
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
	m  map[wireKey]*wireEntry
	// forgotten is the epoch of the cached frame of each deleted camera
	// (forget): a viewer that still sends that camera's last frame as it
	// is deleted gets it built uncached instead of caching it again. A
	// camera created again with the id runs at higher epochs (the store's
	// epoch floor), so its frames are cached as usual and end the entry.
	forgotten map[media.CameraID]uint64
}

// wireKey is a (camera, rendition): each has its own newest frame.
type wireKey struct {
	cam media.CameraID
	r   media.Rendition
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

func newWireCache() wireCache {
	return wireCache{m: make(map[wireKey]*wireEntry), forgotten: make(map[media.CameraID]uint64)}
}

func (c *wireCache) entry(f *media.Frame) *wireEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch, ok := c.forgotten[f.Camera]; ok {
		if f.Epoch <= epoch {
			return &wireEntry{frame: f} // a deleted camera's frame: uncached
		}
		delete(c.forgotten, f.Camera)
	}
	key := wireKey{f.Camera, f.Rendition.OrFull()}
	e := c.m[key]
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
		c.m[key] = e
	}
	return e
}

// forget drops a deleted camera's entries, of every rendition.
func (c *wireCache) forget(cam media.CameraID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range media.Renditions() {
		key := wireKey{cam, r}
		if e := c.m[key]; e != nil {
			c.forgotten[cam] = max(c.forgotten[cam], e.frame.Epoch)
		}
		delete(c.m, key)
	}
}

// websocket returns f's binary message for channel ch: its payload, and
// a PreparedMessage of it when the camera has many WebSocket viewers
// (else nil). Channels are per (camera, rendition) and per process, so
// every connection shares them.
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
