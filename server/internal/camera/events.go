package camera

import (
	"sync"

	"github.com/livemon/livemon/server/internal/media"
)

// EventKind names a camera change.
type EventKind string

const (
	EventEpoch    EventKind = "epoch"    // a new run: upload or restart
	EventState    EventKind = "state"    // running, stopped, ended, error
	EventSettings EventKind = "settings" // name, loop or speed changed
	EventDeleted  EventKind = "deleted"  // the camera is gone
)

// Event is a camera change with the camera's view after it.
type Event struct {
	Kind   EventKind
	Camera media.CameraID
	View   View
}

const listenerBuffer = 64

// eventBus fans events out to listeners without ever blocking the sender.
type eventBus struct {
	mu        sync.Mutex
	listeners map[chan Event]struct{}
	closed    bool
}

func newEventBus() eventBus { return eventBus{listeners: make(map[chan Event]struct{})} }

func (b *eventBus) subscribe() (<-chan Event, func()) {
	ch := make(chan Event, listenerBuffer)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(ch)
		return ch, func() {}
	}
	b.listeners[ch] = struct{}{}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			if _, ok := b.listeners[ch]; ok {
				delete(b.listeners, ch)
				close(ch)
			}
		})
	}
}

func (b *eventBus) publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.listeners {
		select {
		case ch <- ev:
		default: // a listener that falls behind loses events
		}
	}
}

// close ends every subscription; the channels are closed by their sender.
func (b *eventBus) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for ch := range b.listeners {
		delete(b.listeners, ch)
		close(ch)
	}
}

// Subscribe returns a channel of camera events and a function that ends the
// subscription. A listener that falls behind loses events, never blocks.
// The channel is closed when the manager shuts down.
func (m *Manager) Subscribe() (<-chan Event, func()) { return m.events.subscribe() }
