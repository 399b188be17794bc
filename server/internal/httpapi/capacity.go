package httpapi

import (
	"net/http"
	"net/netip"
	"sync"

	"github.com/livemon/livemon/server/internal/media"
)

// slots counts holders of a resource in total and per key, each up to a cap
// (0: none).
type slots[K comparable] struct {
	total, perKey int

	mu    sync.Mutex
	count int
	byKey map[K]int
}

func newSlots[K comparable](total, perKey int) *slots[K] {
	return &slots[K]{total: total, perKey: perKey, byKey: make(map[K]int)}
}

// take takes a slot for k. When a cap is reached it takes nothing and
// reports which: totalFull or keyFull.
func (s *slots[K]) take(k K) (totalFull, keyFull bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total > 0 && s.count >= s.total {
		return true, false
	}
	if s.perKey > 0 && s.byKey[k] >= s.perKey {
		return false, true
	}
	s.count++
	s.byKey[k]++
	return false, false
}

// release gives k's slot back.
func (s *slots[K]) release(k K) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count--
	if s.byKey[k]--; s.byKey[k] <= 0 {
		delete(s.byKey, k)
	}
}

// capacity enforces --max-viewers (all cameras) and
// --max-viewers-per-camera. A viewer is an MJPEG stream or one camera
// subscription of a WebSocket (restored ones count too).
type capacity struct{ *slots[media.CameraID] }

func newCapacity(total, perCamera int) *capacity {
	return &capacity{newSlots[media.CameraID](total, perCamera)}
}

// acquire takes a viewer slot for cam or returns an over-capacity error.
func (c *capacity) acquire(cam media.CameraID) error {
	switch totalFull, camFull := c.take(cam); {
	case totalFull:
		return media.Errorf(media.KindOverCapacity, "the server has reached its limit of %d viewers", c.total)
	case camFull:
		return media.Errorf(media.KindOverCapacity, "camera %q has reached its limit of %d viewers", cam, c.perKey)
	}
	return nil
}

// uploadSlots enforces --max-uploads and --max-uploads-per-client: uploads
// in progress (receiving and probing) over the server and per client
// address (the connection's, never a header's).
type uploadSlots struct{ *slots[netip.Prefix] }

func newUploadSlots(total, perClient int) *uploadSlots {
	return &uploadSlots{newSlots[netip.Prefix](total, perClient)}
}

// acquire takes an upload slot for the request's client, or returns an
// upload_limit error.
func (u *uploadSlots) acquire(r *http.Request) (release func(), err error) {
	addr := clientKey(r) // the peer's address (IPv6: its /64), as for the token limit
	switch totalFull, clientFull := u.take(addr); {
	case totalFull:
		return nil, media.Errorf(media.KindUploadLimit, "the server is receiving %d uploads already, its limit: try again when one has finished", u.total)
	case clientFull:
		return nil, media.Errorf(media.KindUploadLimit, "this address has %d uploads in progress already, the limit per client: try again when one has finished", u.perKey)
	}
	return func() { u.release(addr) }, nil
}
