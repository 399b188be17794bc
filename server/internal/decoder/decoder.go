package decoder

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// Tuning. Backoff and watchdog figures are part of the documented
// behaviour; the others only trade CPU for latency.
const (
	// Retry waits after an error: BackoffMin doubling up to BackoffMax,
	// back to BackoffMin after a frame is published.
	BackoffMin = 500 * time.Millisecond
	BackoffMax = 30 * time.Second
	// StallTimeout: a watched, running decoder that publishes no frame for
	// this long (or three frame intervals, if longer) reopens its file.
	StallTimeout = 20 * time.Second

	// idleTick is how often an unwatched or ended decoder wakes to advance
	// its status; a viewer arriving wakes it at once through Watcher.Wake.
	idleTick = 250 * time.Millisecond
	// idleClose: an unwatched decoder closes its file after this long and
	// reopens it when watched again.
	idleClose = 10 * time.Second
	// maxForwardGrabs: a target further ahead than this is reached with
	// SeekFrame rather than by grabbing every frame in between.
	maxForwardGrabs = 50
	// maxSeekFailures: after this many failed seeks in a row the source is
	// taken to be unseekable and is reopened and grabbed forward instead.
	maxSeekFailures = 3
)

// Decoder is one camera's running decode loop.
type Decoder struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	// ctl (capacity 1) tells the loop that speed or loop changed.
	ctl chan struct{}

	encoded   atomic.Uint64
	grabbed   atomic.Uint64
	encodedBy [media.RenditionCount]atomic.Uint64 // by media.Rendition.Index

	mu     sync.Mutex
	grid   media.Grid // the grid rendition now (SetGrid)
	loop   bool
	clock  clock
	status Status
}

// Start validates cfg, fills defaults and starts the camera's loop in one
// goroutine. The loop runs until ctx ends or Stop is called.
func Start(ctx context.Context, cfg Config, deps Deps) *Decoder {
	cfg.Quality = media.JPEGQuality(cfg.Quality)
	cfg.Grid = cfg.Grid.OrDefault(media.DefaultGrid())
	cfg.Speed = clampSpeed(cfg.Speed)
	if cfg.Frame < 0 {
		cfg.Frame = 0
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	d := &Decoder{
		cfg:    cfg,
		deps:   deps,
		log:    deps.Logger.With("camera", string(cfg.Camera), "epoch", cfg.Epoch),
		cancel: cancel,
		done:   make(chan struct{}),
		ctl:    make(chan struct{}, 1),
		loop:   cfg.Loop,
		grid:   cfg.Grid,
		clock:  clock{speed: cfg.Speed},
		status: Status{State: media.StateStarting, Epoch: cfg.Epoch, Seq: cfg.Seq, Frame: cfg.Frame},
	}
	go d.run(ctx)
	return d
}

// Stop ends the loop and waits until it has exited and closed its Source.
func (d *Decoder) Stop() {
	d.cancel()
	<-d.done
}

// Done is closed when the loop has exited.
func (d *Decoder) Done() <-chan struct{} { return d.done }

// SetSpeed changes the playback speed (clamped to media.MinSpeed-MaxSpeed) without a jump:
// the position continues from where it is.
func (d *Decoder) SetSpeed(speed float64) {
	d.mu.Lock()
	d.clock.setSpeed(d.deps.Now(), clampSpeed(speed))
	d.mu.Unlock()
	d.poke()
}

// SetLoop turns looping on or off. Turning it on after a video ended
// restarts it from its first frame; seq keeps increasing.
func (d *Decoder) SetLoop(loop bool) {
	d.mu.Lock()
	d.loop = loop
	d.mu.Unlock()
	d.poke()
}

// SetGrid changes how the grid rendition is made (zero fields: defaults),
// from the next frame on; the run goes on.
func (d *Decoder) SetGrid(g media.Grid) {
	d.mu.Lock()
	d.grid = g.OrDefault(media.DefaultGrid())
	d.mu.Unlock()
	d.poke()
}

func (d *Decoder) gridNow() media.Grid {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.grid
}

// Status returns the decoder's current state and figures.
func (d *Decoder) Status() Status {
	d.mu.Lock()
	st := d.status
	d.mu.Unlock()
	st.Encoded = d.encoded.Load()
	st.Grabbed = d.grabbed.Load()
	st.EncodedBy = make(map[media.Rendition]uint64, len(d.encodedBy))
	for i, r := range media.Renditions() {
		st.EncodedBy[r] = d.encodedBy[i].Load()
	}
	return st
}

func (d *Decoder) poke() {
	select {
	case d.ctl <- struct{}{}:
	default:
	}
}

func (d *Decoder) looping() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.loop
}

func (d *Decoder) speed() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.clock.speed
}

func clampSpeed(s float64) float64 {
	if math.IsNaN(s) || s <= 0 {
		return 1
	}
	return min(max(s, media.MinSpeed), media.MaxSpeed)
}
