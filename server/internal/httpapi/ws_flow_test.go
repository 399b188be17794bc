package httpapi

import (
	"fmt"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

func TestFlowCredit(t *testing.T) {
	f := newFlow(2)
	if !f.open(7) {
		t.Fatal("a fresh channel has no credit")
	}
	f.sent(7, 10)
	f.sent(7, 11)
	if f.open(7) || !f.open(8) {
		t.Fatal("two unacknowledged frames of channel 7 must close it, and only it")
	}
	for _, bad := range []struct {
		ch  uint32
		seq uint64
	}{{8, 10}, {7, 9}, {7, 12}} {
		if f.ack(bad.ch, bad.seq) || f.open(7) {
			t.Fatalf("ack(%d, %d) of a frame not in flight freed credit", bad.ch, bad.seq)
		}
	}
	if !f.ack(7, 11) || len(f.inflight[7]) != 0 {
		t.Fatalf("ack of the newest frame leaves %v in flight", f.inflight[7])
	}
	if f.ack(7, 10) {
		t.Fatal("an ack of a frame already covered freed credit")
	}
	// A new epoch starts the seqs again: matching is by identity.
	f.sent(7, 500)
	f.sent(7, 3)
	if !f.ack(7, 3) || !f.open(7) || len(f.inflight[7]) != 0 {
		t.Fatalf("ack across an epoch change: in flight %v", f.inflight[7])
	}
	f.sent(7, 4)
	f.forget(7)
	if len(f.inflight) != 0 {
		t.Fatal("forget kept state")
	}
	var none *flow
	none.sent(1, 1)
	none.forget(1)
	if !none.open(1) || none.ack(1, 1) {
		t.Fatal("without flow control every frame goes out and acks do nothing")
	}
}

// flowClient reads a socket in a goroutine, so a test can wait for a
// while without the read deadline breaking the connection.
type flowClient struct {
	*wsClient
	msgs chan flowMsg
}

type flowMsg struct {
	json  map[string]any
	frame *wsFrame
}

func (e *env) dialFlow(t *testing.T, hello map[string]any) (*flowClient, map[string]any) {
	t.Helper()
	c := &flowClient{wsClient: e.mustDial(t), msgs: make(chan flowMsg, 1024)}
	c.send(hello)
	w := c.message("welcome")
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(c.msgs)
		for {
			m, f, err := c.next(time.Minute)
			if err != nil {
				return
			}
			select {
			case c.msgs <- flowMsg{json: m, frame: f}:
			default:
				t.Error("test client backlog full")
				return
			}
		}
	}()
	t.Cleanup(func() {
		c.conn.Close()
		<-done
	})
	return c, w
}

// flowTally is what a flowClient saw in a while.
type flowTally struct {
	frames   map[uint32][]*wsFrame
	errors   []map[string]any
	channels map[string]uint32 // camera -> channel, from subscribed
}

// collect reads for d, acknowledging at once the frames of the channels in
// ack, or stops early when until (if set) is true.
func (c *flowClient) collect(d time.Duration, ack map[uint32]bool, until func(flowTally) bool) flowTally {
	c.t.Helper()
	out := flowTally{frames: make(map[uint32][]*wsFrame), channels: make(map[string]uint32)}
	timeout := time.After(d)
	for {
		if until != nil && until(out) {
			return out
		}
		var m flowMsg
		select {
		case <-timeout:
			return out
		case got, ok := <-c.msgs:
			if !ok {
				c.t.Fatal("connection closed")
			}
			m = got
		}
		switch {
		case m.json != nil && m.json["type"] == "error":
			out.errors = append(out.errors, m.json)
		case m.json != nil && m.json["type"] == "subscribed":
			out.channels[m.json["camera"].(string)] = uint32(m.json["channel"].(float64))
		case m.frame != nil:
			f := m.frame
			out.frames[f.channel] = append(out.frames[f.channel], f)
			if ack[f.channel] {
				c.send(map[string]any{"type": "ack", "channel": f.channel, "seq": f.seq})
			}
		}
	}
}

// subscribe subscribes to the cameras and returns their channels.
func (c *flowClient) subscribe(cams ...string) map[string]uint32 {
	c.t.Helper()
	for _, cam := range cams {
		c.send(map[string]any{"type": "subscribe", "camera": cam})
	}
	got := c.collect(3*time.Second, nil, func(t flowTally) bool { return len(t.channels) == len(cams) })
	if len(got.channels) != len(cams) {
		c.t.Fatalf("subscribed %v of %v", got.channels, cams)
	}
	return got.channels
}

// frameOf waits for the next frame of channel ch.
func (c *flowClient) frameOf(ch uint32) *wsFrame {
	c.t.Helper()
	got := c.collect(3*time.Second, nil, func(t flowTally) bool { return len(t.frames[ch]) > 0 })
	if len(got.frames[ch]) == 0 {
		c.t.Fatalf("no frame of channel %d", ch)
	}
	return got.frames[ch][0]
}

// A client that acknowledges frames and then stops acknowledging one
// camera gets exactly window frames of it and no more, while its other
// camera keeps flowing; the server keeps nothing for it but the hub's
// mailbox (newer frames replace each other there as drops). An ack resumes
// the flow with the newest frame.
func TestWebSocketFlowControl(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/a/video", "a.avi", synthVideo(1, 9000))
	e.upload("/api/cameras/b/video", "b.avi", synthVideo(2, 9000))

	for _, window := range []int{1, 2} {
		t.Run(fmt.Sprintf("window %d", window), func(t *testing.T) {
			c, w := e.dialFlow(t, map[string]any{"type": "hello", "window": window})
			if w["window"] != float64(window) {
				t.Fatalf("welcome = %v", w)
			}
			st0, _ := e.hub.Stats("a")
			c.send(map[string]any{"type": "subscribe", "camera": "a"})
			c.send(map[string]any{"type": "subscribe", "camera": "b"})
			got := c.collect(1500*time.Millisecond, nil, func(t flowTally) bool { return len(t.channels) == 2 })
			chA, chB := got.channels["a"], got.channels["b"]
			more := c.collect(1500*time.Millisecond, map[uint32]bool{chB: true}, nil)
			framesA := append(got.frames[chA], more.frames[chA]...)
			if n := len(framesA); n != window {
				t.Fatalf("the unacknowledged camera sent %d frames, want the window %d", n, window)
			}
			if n := len(more.frames[chB]); n < 15 {
				t.Fatalf("the acknowledged camera sent %d frames in 1.5 s, want a steady flow", n)
			}
			st1, _ := e.hub.Stats("a")
			ws := string(media.TransportWebSocket)
			if dropped := st1.Drops[ws] - st0.Drops[ws]; dropped < 10 {
				t.Fatalf("the stalled camera's newer frames were not replaced in the mailbox (%d drops): are they queued?", dropped)
			}

			// Acknowledging the last frame resumes the flow, with a frame
			// no older than the newest one published at that moment.
			last := framesA[len(framesA)-1]
			latest := e.hub.Latest("a").Seq
			c.send(map[string]any{"type": "ack", "channel": chA, "seq": last.seq})
			f := c.frameOf(chA)
			if f.seq < latest {
				t.Fatalf("after the ack the server sent seq %d, older than the newest %d at the ack", f.seq, latest)
			}
			c.send(map[string]any{"type": "ack", "channel": chA, "seq": f.seq})
			got = c.collect(time.Second, map[uint32]bool{chA: true, chB: true}, nil)
			if n := len(got.frames[chA]); n < 10 {
				t.Fatalf("acknowledging again gave %d frames of a in 1 s", n)
			}
		})
	}
}

// A client that says nothing about acknowledgements gets every frame
// without acknowledging, as before flow control; acks from it, or for
// channels and frames that are not in flight, change nothing.
func TestWebSocketFlowIgnoresStrayAcks(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/a/video", "a.avi", synthVideo(1, 9000))

	old, w := e.dialFlow(t, map[string]any{"type": "hello"})
	if w["window"] != nil {
		t.Fatalf("welcome to a client without a window = %v", w)
	}
	ch := old.subscribe("a")["a"]
	old.send(map[string]any{"type": "ack", "channel": ch, "seq": 1})
	if got := old.collect(time.Second, nil, nil); len(got.frames[ch]) < 15 || len(got.errors) > 0 {
		t.Fatalf("a client without acks got %d frames in 1 s, errors %v", len(got.frames[ch]), got.errors)
	}

	c := e.mustDial(t)
	c.send(map[string]any{"type": "ack", "channel": 1, "seq": 1}) // before hello: ignored
	c.conn.Close()
	f, _ := e.dialFlow(t, map[string]any{"type": "hello", "window": 1})
	ch = f.subscribe("a")["a"]
	first := f.frameOf(ch)
	for _, stray := range []map[string]any{
		{"type": "ack", "channel": ch + 1000, "seq": first.seq},
		{"type": "ack", "channel": ch, "seq": first.seq + 1},
		{"type": "ack", "channel": ch, "seq": first.seq - 1},
	} {
		f.send(stray)
	}
	if got := f.collect(time.Second, nil, nil); len(got.frames[ch]) != 0 || len(got.errors) > 0 {
		t.Fatalf("stray acks released %d frames, errors %v", len(got.frames[ch]), got.errors)
	}
	f.send(map[string]any{"type": "ack", "channel": ch, "seq": first.seq})
	if g := f.frameOf(ch); g.seq <= first.seq {
		t.Fatalf("after the right ack: frame %+v", g)
	}
}

func TestWebSocketFlowBadInput(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.mustDial(t)
	for _, bad := range []map[string]any{
		{"type": "hello", "window": 9},
		{"type": "hello", "window": -1},
		{"type": "hello", "window": "two"},
	} {
		c.send(bad)
		if m := c.message("error"); m["code"] != "invalid_message" {
			t.Fatalf("%v: error = %v", bad, m)
		}
	}
	c.send(map[string]any{"type": "hello", "window": 1})
	c.message("welcome")
	for _, bad := range []map[string]any{
		{"type": "ack", "channel": 1},
		{"type": "ack", "seq": 1},
		{"type": "ack", "channel": -1, "seq": 1},
		{"type": "ack", "channel": 1, "seq": 1.5},
	} {
		c.send(bad)
		if m := c.message("error"); m["code"] != "invalid_message" {
			t.Fatalf("%v: error = %v", bad, m)
		}
	}
}

// A resumed session starts with free credit: the frames left
// unacknowledged on the old connection do not hold the new one back.
func TestWebSocketFlowResumeStartsFresh(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/a/video", "a.avi", synthVideo(1, 9000))
	c, w := e.dialFlow(t, map[string]any{"type": "hello", "window": 1})
	ch := c.subscribe("a")["a"]
	c.frameOf(ch) // never acknowledged
	c.conn.Close()

	r, w2 := e.dialFlow(t, map[string]any{"type": "hello", "session": w["session"], "window": 1})
	if w2["resumed"] != true {
		t.Fatalf("welcome = %v", w2)
	}
	f := r.frameOf(ch)
	r.send(map[string]any{"type": "ack", "channel": f.channel, "seq": f.seq})
	if g := r.frameOf(ch); g.seq <= f.seq {
		t.Fatalf("resumed flow: %d after %d", g.seq, f.seq)
	}
}
