package cluster

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/livemon/livemon/server/internal/cluster/natstest"
	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/media"
)

const waitLong = 15 * time.Second

func testFrame(cam media.CameraID, r media.Rendition, epoch, seq uint64) *media.Frame {
	return &media.Frame{
		Camera: cam, Rendition: r, Epoch: epoch, Seq: seq, PTS: time.Duration(seq) * time.Millisecond,
		Captured: time.Now(), Width: 64, Height: 48, JPEG: []byte(fmt.Sprintf("jpeg %s %s %d %d", cam, r, epoch, seq)),
	}
}

// node is one side of the frame plane in a test.
type node struct {
	conn *Conn
	hub  *hub.Hub
}

func owner(t *testing.T, urls []string) (*node, *Publisher) {
	t.Helper()
	n := &node{conn: connect(t, urls, "ingest"), hub: hub.New(hub.WithLinger(100 * time.Millisecond))}
	p, err := NewPublisher(n.conn, n.hub, PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return n, p
}

func edge(t *testing.T, urls []string, name string, linger time.Duration) (*node, *Feeder) {
	t.Helper()
	n := &node{conn: connect(t, urls, name), hub: hub.New(hub.WithLinger(linger))}
	f := NewFeeder(n.conn, n.hub, nil)
	t.Cleanup(f.Close)
	return n, f
}

// next waits for sub's next frame.
func next(t *testing.T, sub *hub.Subscription) *media.Frame {
	t.Helper()
	timeout := time.After(waitLong)
	for {
		select {
		case <-sub.Ready():
			if f, ok := sub.Next(); ok {
				return f
			}
		case <-timeout:
			t.Fatal("no frame in time")
			return nil
		}
	}
}

// countSubject counts the messages on subject seen by a raw connection.
func countSubject(t *testing.T, url, subject string) *atomic.Uint64 {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	var n atomic.Uint64
	if _, err := nc.Subscribe(subject, func(*nats.Msg) { n.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return &n
}

// TestFramesReachEdge: an edge's first viewer gets the owner's newest
// frame at once, then every frame it takes is the owner's frame with the
// same epoch, seq and bytes; a rendition nobody watches is not published,
// and publishing stops once the viewer has left.
func TestFramesReachEdge(t *testing.T) {
	srv := natstest.Single(t)
	own, pub := owner(t, srv.URLs())
	ed, feed := edge(t, srv.URLs(), "edge-a", 100*time.Millisecond)
	fullSeen := countSubject(t, srv.URL(), FrameSubject("cam", media.RenditionFull))

	sent := map[uint64]*media.Frame{}
	put := func(seq uint64) {
		f := testFrame("cam", media.RenditionGrid, 3, seq)
		sent[seq] = f
		own.hub.Publish(f)
		own.hub.Publish(testFrame("cam", media.RenditionFull, 3, seq))
	}
	put(1)
	feed.Add("cam")
	if pub.Published() != 0 {
		t.Fatalf("published %d frames with no viewer", pub.Published())
	}

	sub := ed.hub.Subscribe("cam", hub.SubscribeOptions{Transport: media.TransportWebSocket, Rendition: media.RenditionGrid})
	if f := next(t, sub); f.Seq != 1 || !bytes.Equal(f.JPEG, sent[1].JPEG) {
		t.Fatalf("first frame seq %d %q, want the owner's latest (seq 1)", f.Seq, f.JPEG)
	}
	// Wait for the owner's forwarding subscription, then send more.
	deadline := time.After(waitLong)
	for own.hub.RenditionWatched("cam", media.RenditionGrid) == false {
		select {
		case <-deadline:
			t.Fatal("owner never subscribed the wanted rendition")
		case <-time.After(10 * time.Millisecond):
		}
	}
	last := uint64(1)
	for seq := uint64(2); seq <= 40; seq++ {
		put(seq)
	}
	for last < 40 {
		f := next(t, sub)
		want := sent[f.Seq]
		if f.Seq <= last || want == nil || f.Epoch != 3 || f.PTS != want.PTS || !f.Captured.Equal(want.Captured) ||
			f.Width != want.Width || !bytes.Equal(f.JPEG, want.JPEG) {
			t.Fatalf("edge frame epoch %d seq %d %q after seq %d: not the owner's", f.Epoch, f.Seq, f.JPEG, last)
		}
		last = f.Seq
	}
	if n := fullSeen.Load(); n != 0 {
		t.Fatalf("full rendition published %d times with only grid watched", n)
	}
	sub.Close()
	// The edge stops announcing after its linger, the owner stops after
	// WantExpiry: then nothing more is published.
	deadline = time.After(WantExpiry + 5*time.Second)
	for own.hub.RenditionWatched("cam", media.RenditionGrid) {
		select {
		case <-deadline:
			t.Fatal("owner still forwarding after the viewer left")
		case <-time.After(50 * time.Millisecond):
		}
	}
	before := pub.Published()
	put(41)
	// A round trip through the owner's connection orders after the frame.
	if err := own.conn.NATS().Flush(); err != nil {
		t.Fatal(err)
	}
	if got := pub.Published(); got != before {
		t.Fatalf("published %d frames after the viewer left", got-before)
	}
}

// TestSlowEdgeDoesNotSlowOthers: an edge that never takes its frames
// drops them (NATS pending limits) while the owner publishes every frame
// and another edge keeps up.
func TestSlowEdgeDoesNotSlowOthers(t *testing.T) {
	srv := natstest.Single(t)
	own, pub := owner(t, srv.URLs())
	fast, feed := edge(t, srv.URLs(), "edge-fast", time.Second)
	feed.Add("cam")

	// The slow edge: a subscription whose handler blocks until the end.
	slow := connect(t, srv.URLs(), "edge-slow")
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	slowSub, err := slow.NATS().Subscribe(FrameSubject("cam", ""), func(*nats.Msg) { <-block })
	if err != nil {
		t.Fatal(err)
	}
	if err := slowSub.SetPendingLimits(FramePendingMsgs, FramePendingBytes); err != nil {
		t.Fatal(err)
	}

	sub := fast.hub.Subscribe("cam", hub.SubscribeOptions{Transport: media.TransportWebSocket})
	defer sub.Close()
	own.hub.Publish(testFrame("cam", "", 1, 1))
	if f := next(t, sub); f.Seq != 1 {
		t.Fatalf("first frame seq %d", f.Seq)
	}
	const n = 200
	for seq := uint64(2); seq <= n; seq++ {
		// Wait for the owner to have published the previous frame, so it
		// publishes each one (its hub mailbox would otherwise merge them).
		want := pub.Published()
		own.hub.Publish(testFrame("cam", "", 1, seq))
		deadline := time.After(waitLong)
		for pub.Published() == want {
			select {
			case <-deadline:
				t.Fatalf("owner stalled at frame %d", seq)
			case <-time.After(time.Millisecond):
			}
		}
	}
	for {
		if f := next(t, sub); f.Seq == n {
			break
		}
	}
	if dropped, err := slowSub.Dropped(); err != nil || dropped == 0 {
		t.Fatalf("slow edge dropped %d frames (err %v), want some", dropped, err)
	}
}
