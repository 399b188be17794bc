package decoder

import "time"

// clock is a run's virtual timeline: a position in seconds that advances
// at speed times real (monotonic) time from an anchor. It does not run
// until started. Guarded by Decoder.mu.
type clock struct {
	started   bool
	anchor    time.Time // real time at which the position was anchorPos
	anchorPos float64   // seconds
	speed     float64
}

func (c *clock) start(now time.Time) {
	c.started, c.anchor = true, now
}

// position returns the timeline position at now, in seconds.
func (c *clock) position(now time.Time) float64 {
	if !c.started {
		return c.anchorPos
	}
	return c.anchorPos + c.speed*now.Sub(c.anchor).Seconds()
}

// setSpeed re-anchors at now so the position continues without a jump.
func (c *clock) setSpeed(now time.Time, speed float64) {
	if c.started {
		c.anchorPos, c.anchor = c.position(now), now
	}
	c.speed = speed
}

// at returns the real time at which the timeline reaches pos.
func (c *clock) at(pos float64) time.Time {
	return c.anchor.Add(time.Duration((pos - c.anchorPos) / c.speed * float64(time.Second)))
}
