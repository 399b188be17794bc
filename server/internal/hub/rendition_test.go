package hub

import (
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

func gridFrame(cam media.CameraID, seq uint64) *media.Frame {
	f := frame(cam, seq)
	f.Rendition = media.RenditionGrid
	return f
}

// Each rendition of a camera is its own topic: channel, latest frame,
// subscribers and counters.
func TestRenditionsAreSeparateTopics(t *testing.T) {
	h := New()
	full := h.Subscribe("a", SubscribeOptions{Transport: media.TransportWebSocket})
	defer full.Close()
	grid := h.Subscribe("a", SubscribeOptions{Transport: media.TransportWebSocket, Rendition: media.RenditionGrid})
	defer grid.Close()
	if full.Rendition() != media.RenditionFull || grid.Rendition() != media.RenditionGrid {
		t.Fatalf("renditions %q %q", full.Rendition(), grid.Rendition())
	}
	if full.Channel() == grid.Channel() || full.Channel() != h.Channel("a") ||
		grid.Channel() != h.RenditionChannel("a", media.RenditionGrid) || h.Channel("a") != h.RenditionChannel("a", "") {
		t.Fatalf("channels full=%d grid=%d", full.Channel(), grid.Channel())
	}
	h.Publish(frame("a", 1))
	h.Publish(gridFrame("a", 1))
	h.Publish(frame("a", 2))
	if f := next(t, full); f.Seq != 2 || f.Rendition != "" {
		t.Fatalf("full got %+v", f)
	}
	if f := next(t, grid); f.Seq != 1 || f.Rendition != media.RenditionGrid {
		t.Fatalf("grid got %+v", f)
	}
	if h.Latest("a").Seq != 2 || h.RenditionLatest("a", media.RenditionGrid).Seq != 1 {
		t.Fatal("latest frames mixed up")
	}
	fs, _ := h.RenditionStats("a", media.RenditionFull)
	gs, _ := h.RenditionStats("a", media.RenditionGrid)
	if fs.Published != 2 || gs.Published != 1 || fs.Drops["websocket"] != 1 || gs.Drops["websocket"] != 0 ||
		gs.Rendition != media.RenditionGrid || fs.Rendition != media.RenditionFull || gs.Viewers["websocket"] != 1 {
		t.Fatalf("stats full %+v grid %+v", fs, gs)
	}
	// The camera's figures sum its renditions: a grid viewer is a viewer.
	cs, _ := h.Stats("a")
	if cs.Channel != full.Channel() || cs.Published != 3 || cs.Viewers["websocket"] != 2 || cs.Drops["websocket"] != 1 || cs.Latest.Seq != 2 {
		t.Fatalf("camera stats %+v", cs)
	}
}

// Watched is per rendition; the camera is watched when any rendition is,
// and a subscriber of any rendition wakes the producer.
func TestRenditionWatchedAndWake(t *testing.T) {
	now := time.Unix(1000, 0)
	h := New(WithLinger(10*time.Second), WithClock(func() time.Time { return now }))
	s := h.Subscribe("a", SubscribeOptions{Rendition: media.RenditionGrid})
	select {
	case <-h.Wake("a"):
	default:
		t.Fatal("a grid subscriber did not wake the producer")
	}
	if !h.Watched("a") || !h.RenditionWatched("a", media.RenditionGrid) || h.RenditionWatched("a", media.RenditionFull) {
		t.Fatal("watched: want grid only")
	}
	s.Close()
	now = now.Add(11 * time.Second)
	if h.Watched("a") || h.RenditionWatched("a", media.RenditionGrid) {
		t.Fatal("still watched after linger")
	}
}

// Reset and Remove act on every rendition of the camera, and no other.
func TestResetAndRemoveAllRenditions(t *testing.T) {
	h := New()
	grid := h.Subscribe("a", SubscribeOptions{Rendition: media.RenditionGrid})
	other := h.Subscribe("b", SubscribeOptions{Rendition: media.RenditionGrid})
	defer other.Close()
	h.Publish(frame("a", 1))
	h.Publish(gridFrame("a", 1))
	h.Publish(gridFrame("b", 1))
	h.Reset("a")
	if _, ok := grid.Next(); ok || h.Latest("a") != nil || h.RenditionLatest("a", media.RenditionGrid) != nil {
		t.Fatal("a frame of a replaced run survived Reset")
	}
	if h.RenditionLatest("b", media.RenditionGrid) == nil {
		t.Fatal("Reset of a forgot b")
	}
	old := h.RenditionChannel("a", media.RenditionGrid)
	h.Remove("a")
	select {
	case <-grid.Done():
	case <-time.After(time.Second):
		t.Fatal("grid subscription not ended by Remove")
	}
	grid.Close()
	if _, ok := h.RenditionStats("a", media.RenditionGrid); ok {
		t.Fatal("removed camera's grid topic survived")
	}
	if h.RenditionChannel("a", media.RenditionGrid) == old {
		t.Fatal("a camera created again reuses its old channel")
	}
}
