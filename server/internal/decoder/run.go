package decoder

import (
	"context"
	"errors"
	"io"
	"math"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// runError is a failure of the loop with a message safe to show users.
type runError struct {
	msg string
	err error
}

func (e *runError) Error() string {
	if e.err == nil {
		return e.msg
	}
	return e.msg + ": " + e.err.Error()
}

func (e *runError) Unwrap() error { return e.err }

// readable returns the user-safe text of a loop failure.
func readable(err error) string {
	var me *media.Error
	if errors.As(err, &me) {
		return me.Message
	}
	var re *runError
	if errors.As(err, &re) {
		return re.msg
	}
	return "the video could not be played"
}

// player is the loop's state. Only the loop's goroutine touches it.
//
// Timeline: t is the index of a frame on the run's timeline, counted from
// the run's start at the file's fps; the frame at t has seq cfg.Seq+1+t.
// The current pass of the file maps t to file frame b0 + (t - t0).
type player struct {
	d     *Decoder
	timer *time.Timer

	src    Source
	opened bool // the file has been opened once: fps and count are known
	failed bool // the last attempt failed; reopen even if nobody watches
	info   media.VideoInfo
	fps    float64
	count  int64 // frames in the file; 0 if unknown
	next   int64 // file frame the next Grab returns; -1 if unknown
	t0, b0 int64

	ended      bool
	finalShown bool
	seekFails  int

	lastT       int64     // timeline index of the last published frame
	lastFile    int64     // file frame of the last published frame
	lastOut     time.Time // scheduled time of the last published frame
	lastFrameAt time.Time // for the watchdog
	unwatched   time.Time // since when nobody watches; zero while watched
	backoff     time.Duration

	watchFull, watchGrid bool      // renditions watched, read once per step
	gridNext             time.Time // the grid's next slot; zero: at once

	rateStart time.Time // measured output rate window
	rateCount int
}

func (d *Decoder) run(ctx context.Context) {
	defer close(d.done)
	p := &player{d: d, timer: time.NewTimer(time.Hour), next: -1, lastT: -1, lastFile: -1, b0: d.cfg.Frame, backoff: BackoffMin}
	defer p.timer.Stop()
	defer p.shutdown()
	if d.deps.OnStatus != nil {
		d.deps.OnStatus(d.Status()) // starting
	}
	for ctx.Err() == nil {
		if err := p.iterate(ctx); err != nil && ctx.Err() == nil {
			p.fail(ctx, err)
		}
	}
}

// iterate does one step of the loop: at most one frame, or one wait.
func (p *player) iterate(ctx context.Context) error {
	watched := p.watched()
	if p.src == nil && (!p.opened || p.failed || (watched && !p.ended)) {
		if err := p.open(ctx); err != nil {
			return err
		}
	}
	now := p.d.deps.Now()
	t := p.timelineIndex(now)
	loop := p.d.looping()

	if p.ended {
		if loop {
			p.restart(t)
			return nil
		}
		if watched && !p.finalShown {
			p.showFinal(ctx)
		}
		p.idle(ctx, now, watched)
		return nil
	}
	f, past := p.target(t, loop)
	p.setPosition(t, f)
	if past {
		p.end()
		return nil
	}
	if !watched {
		p.idle(ctx, now, false)
		return nil
	}
	p.watchRenditions()
	if !p.unwatched.IsZero() || p.lastFrameAt.IsZero() {
		p.unwatched, p.lastFrameAt = time.Time{}, now
	}
	if now.Sub(p.lastFrameAt) > p.stallTimeout() {
		return &runError{msg: "no frame was produced for too long"}
	}
	due := p.nextDue(now)
	if now.Before(due) {
		p.sleep(ctx, due.Sub(now), nil)
		return nil
	}
	return p.produce(ctx, t, f, due)
}

func (p *player) watched() bool {
	w := p.d.deps.Watcher
	return w == nil || w.Watched(p.d.cfg.Camera)
}

// open opens the file. The first successful open starts the clock.
func (p *player) open(ctx context.Context) error {
	var src Source
	var err error
	if co, ok := p.d.deps.Opener.(ContextOpener); ok {
		src, err = co.OpenContext(ctx, p.d.cfg.Path)
	} else {
		src, err = p.d.deps.Opener.Open(p.d.cfg.Path)
	}
	if err != nil {
		return &runError{msg: "the video file could not be opened", err: err}
	}
	p.src, p.next = src, 0
	p.info = src.Info()
	p.fps = media.PlaybackFPS(p.info.FPS)
	p.info.FPS = p.fps
	if p.count == 0 {
		// A count learned by reaching the end beats the header's.
		p.count = max(p.info.Frames, 0)
	}
	p.opened, p.failed = true, false
	d := p.d
	d.mu.Lock()
	if !d.clock.started {
		d.clock.start(d.deps.Now())
	}
	d.status.Info = p.info
	d.mu.Unlock()
	p.setState(media.StateRunning, "")
	return nil
}

func (p *player) closeSource() {
	if p.src == nil {
		return
	}
	if err := p.src.Close(); err != nil {
		p.d.log.Warn("close video", "err", err)
	}
	p.src, p.next = nil, -1
}

func (p *player) shutdown() {
	p.closeSource()
	p.setState(media.StateStopped, "")
}

func (p *player) timelineIndex(now time.Time) int64 {
	if !p.opened {
		return 0
	}
	p.d.mu.Lock()
	pos := p.d.clock.position(now)
	p.d.mu.Unlock()
	// The epsilon keeps a timer firing exactly on a frame boundary from
	// landing in the previous frame through rounding.
	return int64(math.Floor(pos*p.fps + 1e-6))
}

// target returns the file frame for timeline index t, wrapping when
// looping with a known count. past reports that a non-looping run is past
// the file's end.
func (p *player) target(t int64, loop bool) (f int64, past bool) {
	f = p.b0 + t - p.t0
	if p.count > 0 && f >= p.count {
		if !loop {
			return p.count - 1, true
		}
		f %= p.count
		p.t0, p.b0 = t-f, 0
	}
	return f, false
}

func (p *player) seq(t int64) uint64 { return p.d.cfg.Seq + 1 + uint64(t) }

func (p *player) setPosition(t, f int64) {
	d := p.d
	d.mu.Lock()
	d.status.Seq = p.seq(t)
	d.status.Frame = f
	d.status.Position = p.pts(f)
	d.mu.Unlock()
}

func (p *player) pts(f int64) time.Duration {
	return time.Duration(float64(f) / p.fps * float64(time.Second))
}

// nextDue is when the next frame should be published: when the timeline
// reaches the frame after the last one published, and no sooner than the
// MaxFPS cap allows.
func (p *player) nextDue(now time.Time) time.Time {
	d := p.d
	d.mu.Lock()
	due := d.clock.at(float64(p.lastT+1) / p.fps)
	speed := d.clock.speed
	d.mu.Unlock()
	if iv := p.outInterval(speed); iv > 0 && !p.lastOut.IsZero() {
		if capped := p.lastOut.Add(iv); capped.After(due) {
			due = capped
		}
	}
	return due
}

// outInterval is the shortest time between two frames: MaxFPS's, or the
// grid's while only the grid is watched.
func (p *player) outInterval(speed float64) time.Duration {
	max := p.d.cfg.MaxFPS
	if p.gridOnly() && (max <= 0 || p.d.gridNow().FPS < max) {
		max = p.d.gridNow().FPS
	}
	if max > 0 && p.fps*speed > max {
		return time.Duration(float64(time.Second) / max)
	}
	return 0
}

func (p *player) stallTimeout() time.Duration {
	return max(StallTimeout, time.Duration(3*float64(time.Second)/(p.fps*p.d.speed())))
}

// produce publishes the frame at timeline index t, file frame f, in each
// rendition due.
func (p *player) produce(ctx context.Context, t, f int64, due time.Time) error {
	ft := p.frameTime(t)
	o := p.outputsAt(ft, p.gridNext)
	began := p.d.deps.Now()
	jpegs, err := p.grabEncode(f, o, p.aheadOutputs(ft, o))
	if err != nil {
		return err
	}
	if jpegs == nil {
		if jpegs, f, began, err = p.readAndEncode(ctx, t, f, o); jpegs == nil || err != nil {
			return err
		}
	}
	p.d.encoded.Add(1)
	now := p.d.deps.Now()
	if p.d.deps.OnEncode != nil {
		took := now.Sub(began)
		if et, ok := p.src.(EncodeTimer); ok {
			took = et.EncodeTime()
		}
		p.d.deps.OnEncode(took, len(jpegs[0]))
	}
	p.publish(t, f, o, jpegs, now)
	if r, ok := p.src.(Recycler); ok && r.Worn() {
		// Replaced before the next frame: the loop opens a fresh source
		// at the timeline's position (moveTo seeks there).
		p.d.log.Info("replacing a worn video source", "frame", f)
		p.closeSource()
	}
	if o.grid {
		p.gridNext = p.nextGridSlot(ft)
	}
	// Keep the MaxFPS grid unless far behind it.
	p.lastOut = due
	if iv := p.outInterval(p.d.speed()); iv > 0 && now.Sub(due) > iv {
		p.lastOut = now
	}
	if p.gridOnly() && ft.After(p.lastOut) {
		// Grid frames are spaced on the timeline (frameTime).
		p.lastOut = ft
	}
	return nil
}

// grabEncode reads and encodes file frame f in one call when the source is
// a GrabEncoder (or SizedEncoder) and f is its next frame. It returns nil
// and no error when it did not: the source cannot, f is elsewhere, or the
// file ended at f (then readAndEncode meets the end again and handles it).
func (p *player) grabEncode(f int64, o, ahead outputs) ([][]byte, error) {
	if p.next != f {
		return nil, nil
	}
	var jpegs [][]byte
	var err error
	if se, ok := p.src.(SizedEncoder); ok {
		if jpegs, err = se.GrabEncodeSizes(p.d.cfg.Quality, p.widths(o), p.widths(ahead)); err == nil {
			err = checkCount(jpegs, o)
		}
	} else if ge, ok := p.src.(GrabEncoder); ok {
		var jpeg []byte
		if jpeg, err = ge.GrabEncode(p.d.cfg.Quality); err == nil {
			jpegs = fill(o, jpeg)
		}
	} else {
		return nil, nil
	}
	switch {
	case err == nil:
		p.next++
		p.d.grabbed.Add(1)
		return jpegs, nil
	case errors.Is(err, io.EOF):
		return nil, nil
	default:
		p.next = -1
		return nil, &runError{msg: "reading the video failed", err: err}
	}
}

// readAndEncode moves to file frame f for timeline index t (wrapping or
// ending the run where the file ends) and encodes it. It returns the JPEG,
// the file frame it shows and when its encoding began, or no JPEG and no
// error when there is nothing to publish (the run ended).
func (p *player) readAndEncode(ctx context.Context, t, f int64, o outputs) (jpegs [][]byte, _ int64, began time.Time, err error) {
	for attempt := 0; ; attempt++ {
		eof, err := p.moveTo(ctx, f)
		if err != nil {
			return nil, f, time.Time{}, err
		}
		if eof < 0 {
			break
		}
		// The file has eof frames, whatever its header said.
		if eof == 0 || attempt == 2 {
			return nil, f, time.Time{}, &runError{msg: "the video has no frame that can be decoded"}
		}
		first := p.t0 + (eof - p.b0) // timeline index just past the pass
		p.count = eof
		if !p.d.looping() {
			p.end()
			return nil, f, time.Time{}, nil
		}
		p.t0, p.b0 = first, 0
		var past bool
		if f, past = p.target(t, true); past {
			return nil, f, time.Time{}, nil
		}
		p.setPosition(t, f)
	}
	if p.d.deps.Now().Sub(p.lastFrameAt) > p.stallTimeout() {
		// Reading took so long that the watchdog would have fired.
		return nil, f, time.Time{}, &runError{msg: "no frame was produced for too long"}
	}
	began = p.d.deps.Now()
	jpegs, err = p.encodeGrabbed(o)
	if err != nil {
		p.next = -1
		return nil, f, time.Time{}, &runError{msg: "a frame of the video could not be decoded", err: err}
	}
	return jpegs, f, began, nil
}

func (p *player) publish(t, f int64, o outputs, jpegs [][]byte, now time.Time) {
	p.publishOutputs(t, f, o, jpegs, now)
	p.lastT, p.lastFile, p.lastFrameAt = t, f, now
	p.backoff = BackoffMin
	p.measure(now)
}

// measure updates the measured output rate once a second.
func (p *player) measure(now time.Time) {
	if p.rateStart.IsZero() {
		p.rateStart = now
		return
	}
	p.rateCount++
	if el := now.Sub(p.rateStart); el >= time.Second {
		p.d.mu.Lock()
		p.d.status.FPS = float64(p.rateCount) / el.Seconds()
		p.d.mu.Unlock()
		p.rateStart, p.rateCount = now, 0
	}
}

// moveTo grabs file frame f, so that Encode returns it. It returns the
// frame index at which the file ended (eof >= 0) if it ended first.
func (p *player) moveTo(ctx context.Context, f int64) (eof int64, err error) {
	if p.src == nil {
		if err := p.open(ctx); err != nil {
			return -1, err
		}
	}
	if p.next < 0 || f < p.next || f-p.next > maxForwardGrabs {
		if p.seekFails < maxSeekFailures {
			if err := p.src.SeekFrame(f); err == nil {
				p.next, p.seekFails = f, 0
			} else if errors.Is(err, ErrSourceBroken) {
				// Not a file that cannot seek: retry after the backoff.
				p.next = -1
				return -1, &runError{msg: "seeking in the video failed", err: err}
			} else {
				// The position is now unspecified.
				p.next = -1
				p.seekFails++
				p.d.log.Debug("seek failed; reopening instead", "frame", f, "err", err)
			}
		}
		if p.next != f && (p.next < 0 || f < p.next) {
			p.closeSource()
			if err := p.open(ctx); err != nil {
				return -1, err
			}
		}
	}
	for ; p.next <= f; p.next++ {
		if p.next%32 == 0 && ctx.Err() != nil {
			return -1, ctx.Err()
		}
		if err := p.src.Grab(); err != nil {
			at := p.next
			p.next = -1
			if errors.Is(err, io.EOF) {
				return at, nil
			}
			return -1, &runError{msg: "reading the video failed", err: err}
		}
		p.d.grabbed.Add(1)
	}
	return -1, nil
}

// end marks a non-looping run as ended: the last frame stays the camera's
// latest and nothing more is published.
func (p *player) end() {
	p.ended, p.finalShown = true, p.lastFile >= 0 && p.lastFile == p.count-1
	if p.count > 0 {
		p.setPosition(max(p.t0+(p.count-1-p.b0), 0), p.count-1)
	}
	p.setState(media.StateEnded, "")
}

// showFinal publishes the file's last frame once if the run ended without
// showing it (it ended while nobody watched, or frames were skipped).
func (p *player) showFinal(ctx context.Context) {
	p.finalShown = true
	if p.count <= 0 {
		return
	}
	last := p.count - 1
	t := p.t0 + (last - p.b0)
	if t <= p.lastT {
		return
	}
	eof, err := p.moveTo(ctx, last)
	if err == nil && eof >= 0 {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		p.d.log.Debug("show last frame", "err", err)
		return
	}
	p.watchRenditions()
	o := p.outputsAt(p.d.deps.Now(), time.Time{})
	jpegs, err := p.encodeGrabbed(o)
	if err != nil {
		p.d.log.Debug("show last frame", "err", err)
		return
	}
	p.d.encoded.Add(1)
	p.publish(t, last, o, jpegs, p.d.deps.Now())
}

// restart begins a new pass from file frame 0 at timeline index t (or
// later, so seq keeps increasing) after SetLoop(true) on an ended run.
func (p *player) restart(t int64) {
	p.ended, p.finalShown = false, false
	p.t0, p.b0 = max(t, p.lastT+1), 0
	p.lastFrameAt = time.Time{}
	p.setState(media.StateRunning, "")
}

// idle waits while nobody watches or the run has ended: the file is not
// read and the timeline runs on. An ended run's file is closed at once,
// an unwatched one's after idleClose.
func (p *player) idle(ctx context.Context, now time.Time, watched bool) {
	if watched {
		p.unwatched = time.Time{}
	} else if p.unwatched.IsZero() {
		p.unwatched = now
		p.d.mu.Lock()
		p.d.status.FPS = 0
		p.d.mu.Unlock()
		p.rateStart, p.rateCount = time.Time{}, 0
	}
	if p.ended || (!watched && now.Sub(p.unwatched) >= idleClose) {
		p.closeSource()
	}
	var wake <-chan struct{}
	if w := p.d.deps.Watcher; w != nil && !watched {
		wake = w.Wake(p.d.cfg.Camera)
	}
	p.sleep(ctx, idleTick, wake)
}

// sleep waits for dur, a control change, extra (if not nil) or ctx.
func (p *player) sleep(ctx context.Context, dur time.Duration, extra <-chan struct{}) {
	p.timer.Reset(dur)
	select {
	case <-ctx.Done():
	case <-p.d.ctl:
	case <-extra:
	case <-p.timer.C:
	}
	p.timer.Stop()
}

// fail reports err, closes the file and waits out the backoff before the
// loop reopens it. A refusal by a Limit waits for a freed slot instead.
func (p *player) fail(ctx context.Context, err error) {
	p.closeSource()
	if freed, busy := slotFreed(err); busy {
		p.waitSlot(ctx, err, freed)
		return
	}
	p.failed = true
	p.d.log.Warn("decoder error; retrying", "err", err, "retry_in", p.backoff)
	p.setStatus(media.StateError, readable(err), errorCode(err))
	p.timer.Reset(p.backoff)
	select {
	case <-ctx.Done():
	case <-p.timer.C:
	}
	p.timer.Stop()
	p.backoff = min(2*p.backoff, BackoffMax)
	p.lastFrameAt = time.Time{}
	p.d.mu.Lock()
	p.d.status.Restarts++
	p.d.mu.Unlock()
}

// waitSlot shows that the run waits for a decoder slot and waits until
// one frees (or a control change, or BackoffMax as a safety net). A run
// whose clock already started and that nobody watches need not open its
// file, so it stops competing until a viewer arrives.
func (p *player) waitSlot(ctx context.Context, err error, freed <-chan struct{}) {
	p.failed = !p.opened
	p.d.log.Debug("waiting for a decoder slot", "err", err)
	p.setStatus(media.StateError, readable(err), errorCode(err))
	p.timer.Reset(BackoffMax)
	select {
	case <-ctx.Done():
	case <-freed:
	case <-p.d.ctl:
	case <-p.timer.C:
	}
	p.timer.Stop()
	p.lastFrameAt = time.Time{}
}

// errorCode is the API code of err's media kind, or "".
func errorCode(err error) string {
	var me *media.Error
	if errors.As(err, &me) {
		return me.Kind.Code()
	}
	return ""
}

// setState records a state change and reports it through OnStatus.
func (p *player) setState(s media.State, reason string) { p.setStatus(s, reason, "") }

// setStatus records a state, its reason and the reason's code, and reports
// a change through OnStatus.
func (p *player) setStatus(s media.State, reason, code string) {
	d := p.d
	d.mu.Lock()
	changed := d.status.State != s || d.status.Err != reason || d.status.ErrCode != code
	d.status.State, d.status.Err, d.status.ErrCode = s, reason, code
	d.mu.Unlock()
	if changed && d.deps.OnStatus != nil {
		d.deps.OnStatus(d.Status())
	}
}
