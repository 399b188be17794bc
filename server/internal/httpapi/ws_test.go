package httpapi

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/livemon/livemon/server/internal/synth"
)

// wsClient is a test client of /api/ws.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

type wsFrame struct {
	channel    uint32
	epoch, seq uint64
	w, h       int // as the header says
	ts         time.Time
	video, idx int
}

func (e *env) dial(t *testing.T, header http.Header) (*wsClient, *http.Response, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/api/ws"
	conn, resp, err := websocket.DefaultDialer.Dial(u, header)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { conn.Close() })
	return &wsClient{t: t, conn: conn}, resp, nil
}

func (e *env) mustDial(t *testing.T) *wsClient {
	t.Helper()
	c, _, err := e.dial(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(v); err != nil {
		c.t.Fatal(err)
	}
}

// next reads one message: JSON (as a map) or a frame.
func (c *wsClient) next(timeout time.Duration) (map[string]any, *wsFrame, error) {
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	mt, data, err := c.conn.ReadMessage()
	if err != nil {
		return nil, nil, err
	}
	if mt == websocket.TextMessage {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			c.t.Fatalf("bad JSON from server: %s", data)
		}
		return m, nil, nil
	}
	h, err := parseFrameHeader(data)
	if err != nil {
		c.t.Fatalf("bad binary frame of %d bytes: %v", len(data), err)
	}
	f := &wsFrame{channel: h.Channel, epoch: h.Epoch, seq: h.Seq, ts: time.UnixMilli(int64(h.ServerMS)), w: int(h.Width), h: int(h.Height)}
	v, idx, ok := synth.ReadMarker(data[h.Len:])
	if !ok {
		c.t.Fatal("frame JPEG has no marker")
	}
	f.video, f.idx = v, idx
	return nil, f, nil
}

// message waits for a JSON message of the given type, skipping frames.
func (c *wsClient) message(typ string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		m, _, err := c.next(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("waiting for %q: %v", typ, err)
		}
		if m != nil && m["type"] == typ {
			return m
		}
	}
	c.t.Fatalf("no %q message", typ)
	return nil
}

// frame waits for the next frame, skipping JSON.
func (c *wsClient) frame() *wsFrame {
	c.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		_, f, err := c.next(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("waiting for a frame: %v", err)
		}
		if f != nil {
			return f
		}
	}
	c.t.Fatal("no frame")
	return nil
}

func (c *wsClient) hello(session string) map[string]any {
	c.t.Helper()
	if session == "" {
		c.send(map[string]any{"type": "hello"})
	} else {
		c.send(map[string]any{"type": "hello", "session": session})
	}
	return c.message("welcome")
}

func TestWebSocketSubscribeAndResume(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/w/video", "a.avi", synthVideo(5, 9000))

	c := e.mustDial(t)
	w := c.hello("")
	sess, _ := w["session"].(string)
	if len(sess) != 32 || w["resumed"] != false {
		t.Fatalf("welcome = %v", w)
	}
	c.send(map[string]any{"type": "subscribe", "camera": "w"})
	sub := c.message("subscribed")
	ch := uint32(sub["channel"].(float64))
	var last *wsFrame
	for range 10 {
		f := c.frame()
		if f.channel != ch || f.video != 5 {
			t.Fatalf("frame %+v on channel %d", f, ch)
		}
		if last != nil && f.seq <= last.seq {
			t.Fatalf("seq %d after %d", f.seq, last.seq)
		}
		last = f
	}
	c.conn.Close()

	time.Sleep(time.Second)
	c2 := e.mustDial(t)
	start := time.Now()
	w2 := c2.hello(sess)
	if w2["resumed"] != true || w2["session"] != sess {
		t.Fatalf("resume welcome = %v", w2)
	}
	subs := w2["subscriptions"].([]any)
	if len(subs) != 1 || subs[0].(map[string]any)["camera"] != "w" {
		t.Fatalf("restored subscriptions = %v", subs)
	}
	skipped := subs[0].(map[string]any)["skipped"].(float64)
	if skipped < 15 || skipped > 60 {
		t.Fatalf("skipped = %v, want about 30 (1 s at 30 fps)", skipped)
	}
	f := c2.frame() // no subscribe sent: the session restored it
	ttff := time.Since(start)
	if f.epoch != last.epoch || f.seq <= last.seq {
		t.Fatalf("resumed frame %+v, last before %+v", f, last)
	}
	if gap := f.seq - last.seq; gap < 15 || gap > 90 {
		t.Fatalf("resumed %d frames later, want about 30", gap)
	}
	t.Logf("time to first frame on resume: %v", ttff)
}

func TestWebSocketBadInput(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/b/video", "a.avi", synthVideo(1, 900))

	t.Run("malformed session", func(t *testing.T) {
		c := e.mustDial(t)
		c.send(map[string]any{"type": "hello", "session": "../../etc/passwd"})
		m := c.message("error")
		if m["code"] != "invalid_session" {
			t.Fatalf("error = %v", m)
		}
		_, _, err := c.next(2 * time.Second)
		if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
			t.Fatalf("want close 1008, got %v", err)
		}
	})
	t.Run("unknown session gets a fresh one", func(t *testing.T) {
		c := e.mustDial(t)
		w := c.hello(strings.Repeat("ab", 16))
		if w["resumed"] != false || w["session"] == strings.Repeat("ab", 16) {
			t.Fatalf("welcome = %v", w)
		}
	})
	t.Run("garbage and unknown types keep the connection", func(t *testing.T) {
		c := e.mustDial(t)
		c.hello("")
		c.conn.WriteMessage(websocket.TextMessage, []byte("{not json"))
		if m := c.message("error"); m["code"] != "invalid_message" {
			t.Fatalf("error = %v", m)
		}
		c.send(map[string]any{"type": "dance"})
		c.message("error")
		c.send(map[string]any{"type": "subscribe", "camera": "nope"})
		if m := c.message("error"); m["code"] != "not_found" || m["camera"] != "nope" {
			t.Fatalf("error = %v", m)
		}
		c.send(map[string]any{"type": "subscribe", "camera": "b"})
		c.message("subscribed")
		c.frame()
	})
	t.Run("oversized message closes with 1009", func(t *testing.T) {
		c := e.mustDial(t)
		c.hello("")
		c.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"subscribe","camera":"`+strings.Repeat("x", 10000)+`"}`))
		var err error
		for range 100 {
			if _, _, err = c.next(2 * time.Second); err != nil {
				break
			}
		}
		if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			t.Fatalf("want close 1009, got %v", err)
		}
	})
	t.Run("cross-origin upgrade is 403", func(t *testing.T) {
		_, resp, err := e.dial(t, http.Header{"Origin": {"https://evil.example"}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-origin dial: err=%v resp=%v", err, resp)
		}
	})
}

// dialStalled opens a WebSocket that subscribes to cam and then never
// reads again, with a small receive window so the stall shows soon.
func (e *env) dialStalled(t *testing.T, cam string) {
	t.Helper()
	small := &websocket.Dialer{ReadBufferSize: 1024, NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			c.(*net.TCPConn).SetReadBuffer(4096)
		}
		return c, err
	}}
	stalled, _, err := small.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/api/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stalled.Close() })
	stalled.WriteJSON(map[string]any{"type": "hello"})
	stalled.WriteJSON(map[string]any{"type": "subscribe", "camera": cam})
}

// An origin given to --allowed-origins may open a socket; any other
// cross-origin one, even on the same host with another port or scheme,
// may not.
func TestWebSocketAllowedOrigin(t *testing.T) {
	e := newEnv(t, envOptions{origins: []string{"http://localhost:5173"}})
	c, _, err := e.dial(t, http.Header{"Origin": {"http://localhost:5173"}})
	if err != nil {
		t.Fatal(err)
	}
	c.hello("")
	for _, origin := range []string{"http://localhost:5174", "https://localhost:5173", "http://evil.example"} {
		c, resp, err := e.dial(t, http.Header{"Origin": {origin}})
		if err == nil {
			c.conn.Close()
			t.Fatalf("origin %s: upgrade accepted", origin)
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("origin %s: err=%v resp=%v, want 403", origin, err, resp)
		}
	}
}

// A client that never reads is dropped within the write timeout once its
// socket buffers fill; meanwhile the others get (nearly) every frame the
// camera publishes. Rates are compared with what the camera published in
// the same window, so a slow machine does not fail the test.
func TestWebSocketStalledClient(t *testing.T) {
	e := newEnv(t, envOptions{maxUpload: 1 << 20})
	e.api.timing.writeWait = time.Second
	e.upload("/api/cameras/s/video", "a.avi", []byte(synth.Spec{Video: 1, Frames: 9000, FPS: 30, Width: 640, Height: 360, Noise: true}.String()))

	e.dialStalled(t, "s")

	const healthy = 5
	counts := make([]int, healthy)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range healthy {
		c := e.mustDial(t)
		c.hello("")
		c.send(map[string]any{"type": "subscribe", "camera": "s"})
		c.message("subscribed")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, f, err := c.next(2 * time.Second)
				if err != nil {
					t.Errorf("healthy client %d: %v", i, err)
					return
				}
				if f != nil {
					counts[i]++
				}
			}
		}()
	}
	st0, _ := e.hub.Stats("s")
	waitFor(t, "the stalled client to be dropped", 30*time.Second, func() bool {
		e.api.mu.Lock()
		defer e.api.mu.Unlock()
		return len(e.api.conns) == healthy
	})
	time.Sleep(time.Second) // and a while after it
	close(stop)
	wg.Wait()
	st1, _ := e.hub.Stats("s")
	published := int(st1.Published - st0.Published)
	t.Logf("frames published while the stalled client was connected and 1 s after: %d; healthy clients got %v", published, counts)
	for i, n := range counts {
		if n < published*85/100 {
			t.Fatalf("healthy client %d got %d of %d frames published meanwhile", i, n, published)
		}
	}
}

func TestWebSocketManyClients(t *testing.T) {
	e := newEnv(t, envOptions{})
	cams := []string{"c1", "c2", "c3", "c4"}
	for i, id := range cams {
		e.upload("/api/cameras/"+id+"/video", "a.avi", synthVideo(i+1, 9000))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 50)
	for i := range 50 {
		c := e.mustDial(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.conn.WriteJSON(map[string]any{"type": "hello"})
			c.conn.WriteJSON(map[string]any{"type": "subscribe", "camera": cams[i%4]})
			c.conn.WriteJSON(map[string]any{"type": "subscribe", "camera": cams[(i+1)%4]})
			frames := 0
			deadline := time.Now().Add(2 * time.Second)
			for time.Now().Before(deadline) {
				c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				mt, data, err := c.conn.ReadMessage()
				if err != nil {
					errs <- err.Error()
					return
				}
				if mt == websocket.TextMessage && strings.Contains(string(data), `"error"`) {
					errs <- string(data)
					return
				}
				if mt == websocket.BinaryMessage {
					frames++
				}
			}
			if frames < 10 {
				errs <- "too few frames: " + strconv.Itoa(frames)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestWebSocketEventsOnUpload(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/ev/video", "a.avi", synthVideo(1, 900))
	c := e.mustDial(t)
	c.hello("")
	c.send(map[string]any{"type": "subscribe", "camera": "ev"})
	c.message("subscribed")
	c.frame()
	e.upload("/api/cameras/ev/video", "b.avi", synthVideo(2, 900))
	m := c.message("event")
	if m["event"] != "epoch" || m["camera_state"].(map[string]any)["epoch"].(float64) != 2 {
		t.Fatalf("event = %v", m)
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if f := c.frame(); f.epoch == 2 {
			if f.video != 2 {
				t.Fatalf("epoch 2 frame shows video %d", f.video)
			}
			return
		} else if f.video != 1 {
			t.Fatalf("epoch 1 frame shows video %d", f.video)
		}
	}
	t.Fatal("no frame of the new upload")
}
