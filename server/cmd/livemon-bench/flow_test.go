package main

import (
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// A viewer with a window asks for flow control in hello, takes each
// frame's sample when its paint ends and acknowledges it after; the fake
// server sends the next frame only after the ack.
func TestFlowViewerPaintsThenAcks(t *testing.T) {
	const frames, paint = 5, 30 * time.Millisecond
	sentAt := make([]time.Time, frames)
	up := websocket.Upgrader{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		var hello struct {
			Type   string
			Window int
		}
		if err := c.ReadJSON(&hello); err != nil || hello.Type != "hello" || hello.Window != 1 {
			t.Errorf("hello: %+v %v", hello, err)
			return
		}
		c.WriteJSON(map[string]any{"type": "welcome", "session": "0123456789abcdef0123456789abcdef", "window": 1})
		var sub map[string]any
		if err := c.ReadJSON(&sub); err != nil {
			t.Errorf("subscribe: %v", err)
			return
		}
		c.WriteJSON(map[string]any{"type": "subscribed", "camera": "cam", "channel": 3, "epoch": 1, "seq": 1})
		for i := range frames {
			msg := make([]byte, wsHeaderLen+100)
			msg[0], msg[3] = 1, wsHeaderLen
			binary.BigEndian.PutUint32(msg[4:], 3)
			binary.BigEndian.PutUint64(msg[8:], 1)
			binary.BigEndian.PutUint64(msg[16:], uint64(100+i))
			binary.BigEndian.PutUint64(msg[24:], uint64(time.Now().UnixMilli()))
			sentAt[i] = time.Now()
			c.WriteMessage(websocket.BinaryMessage, msg)
			var ack struct {
				Type    string
				Channel uint32
				Seq     uint64
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if err := c.ReadJSON(&ack); err != nil || ack.Type != "ack" || ack.Channel != 3 || ack.Seq != uint64(100+i) {
				t.Errorf("frame %d: ack %+v %v", i, ack, err)
				return
			}
		}
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	}))
	defer ts.Close()
	v := runViewer(t, ts, viewerConfig{transport: transportWS, window: 1, paint: paint})
	if len(v.samples) != frames {
		t.Fatalf("got %d frames, want %d (err %v)", len(v.samples), frames, v.err)
	}
	for i, s := range v.samples {
		if painted := time.UnixMicro(s.wall); painted.Sub(sentAt[i]) < paint {
			t.Fatalf("frame %d sampled %v after it was sent, before its %v paint ended", i, painted.Sub(sentAt[i]), paint)
		}
	}
}
