package httpapi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/livemon/livemon/server/internal/media"
)

// A camera's frame goes out plainly while it has few WebSocket viewers and
// as a PreparedMessage once its previous frame had many; a client receives
// the same bytes either way.
func TestWireCacheWebSocketPaths(t *testing.T) {
	c := newWireCache()
	jpeg := bytes.Repeat([]byte{0xFF, 0xD8, 1, 2, 3}, 30_000) // larger than the write buffer
	frame := func(seq uint64) *media.Frame {
		return &media.Frame{Camera: "cam", Epoch: 1, Seq: seq, Captured: time.Now(), Width: 4, Height: 4, JPEG: jpeg}
	}
	f1 := frame(1)
	msg, pm := c.websocket(7, f1)
	if pm != nil {
		t.Fatal("first frame prepared")
	}
	for range preparedFrom - 1 { // preparedFrom viewers in all
		c.websocket(7, f1)
	}
	f2 := frame(2)
	msg2, pm2 := c.websocket(7, f2)
	if pm2 == nil {
		t.Fatalf("no PreparedMessage after %d viewers of the previous frame", preparedFrom)
	}
	if !bytes.Equal(msg[frameHeaderLen:], jpeg) || !bytes.Equal(msg2[frameHeaderLen:], jpeg) {
		t.Fatal("payload is not header + JPEG")
	}
	f3 := frame(3) // f2 had one viewer: back to plain
	if _, pm3 := c.websocket(7, f3); pm3 != nil {
		t.Fatal("prepared after a frame with one viewer")
	}

	// Both ways on a real connection.
	up := websocket.Upgrader{WriteBufferSize: 4096}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		_ = ws.WriteMessage(websocket.BinaryMessage, msg2)
		_ = ws.WritePreparedMessage(pm2)
		_, _, _ = ws.ReadMessage() // until the client leaves
	}))
	defer srv.Close()
	client, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for _, how := range []string{"WriteMessage", "WritePreparedMessage"} {
		client.SetReadDeadline(time.Now().Add(5 * time.Second))
		mt, got, err := client.ReadMessage()
		if err != nil || mt != websocket.BinaryMessage || !bytes.Equal(got, msg2) {
			t.Fatalf("%s: type %d, %d bytes, %v; want the %d-byte payload", how, mt, len(got), err, len(msg2))
		}
	}
}

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

// parseFrameHeader decodes a binary frame message's header, as clients
// do (webapp/src/lib/camera-socket.ts); the tests read frames with it.
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
