package httpapi

import (
	"sync"

	"github.com/livemon/livemon/server/internal/media"
)

// capacity enforces --max-viewers (all cameras) and
// --max-viewers-per-camera. A viewer is an MJPEG stream or one camera
// subscription of a WebSocket (restored ones count too). 0 means no cap.
type capacity struct {
	total, perCamera int

	mu    sync.Mutex
	count int
	byCam map[media.CameraID]int
}

func newCapacity(total, perCamera int) *capacity {
	return &capacity{total: total, perCamera: perCamera, byCam: make(map[media.CameraID]int)}
}

// acquire takes a viewer slot for cam or returns an over-capacity error.
func (c *capacity) acquire(cam media.CameraID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.total > 0 && c.count >= c.total {
		return media.Errorf(media.KindOverCapacity, "the server has reached its limit of %d viewers", c.total)
	}
	if c.perCamera > 0 && c.byCam[cam] >= c.perCamera {
		return media.Errorf(media.KindOverCapacity, "camera %q has reached its limit of %d viewers", cam, c.perCamera)
	}
	c.count++
	c.byCam[cam]++
	return nil
}

// release gives a slot back.
func (c *capacity) release(cam media.CameraID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count--
	if c.byCam[cam]--; c.byCam[cam] <= 0 {
		delete(c.byCam, cam)
	}
}
