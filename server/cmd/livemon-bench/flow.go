package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// The flow scenario (issue 15) measures end-to-end flow control: how old
// the frames a slow client paints are, with and without acknowledgements
// (docs/protocol.md "Flow control"), and what acknowledging costs the
// server per viewer next to the fan-out scenario's old clients.

const (
	// flowPaint is how long a slow viewer takes to paint a frame: a tab
	// that manages 10 fps, a third of the source rate.
	flowPaint = 100 * time.Millisecond
	// flowSlowViewers is how many slow viewers watch at once.
	flowSlowViewers = 4
)

func (b *bench) flow(ctx context.Context) error {
	for _, w := range []int{0, 1, 2} {
		cfgs := b.viewersOf(transportWS, flowSlowViewers, b.o.duration)
		for i := range cfgs {
			cfgs[i].paint, cfgs[i].window = flowPaint, w
		}
		name := fmt.Sprintf("flow: paint %v, window %d", flowPaint, w)
		if w == 0 {
			name = fmt.Sprintf("flow: paint %v, no acks", flowPaint)
		}
		r, err := b.watchConfigs(ctx, name, transportWS, cfgs, b.o.duration, false)
		if err != nil {
			return err
		}
		r.Notes = "latency = painted frame's age: paint end minus the frame's server timestamp"
		b.add(r)
	}
	// Fast viewers that acknowledge every frame (window 1): the fan-out
	// cost with flow control, to set beside the fanout scenario's.
	var rs []result
	for _, n := range b.o.fanout {
		cfgs := b.viewersOf(transportWS, n, b.o.duration)
		for i := range cfgs {
			cfgs[i].window = 1
		}
		r, err := b.watchConfigs(ctx, "flow: fan-out", transportWS, cfgs, b.o.duration, false)
		if err != nil {
			return err
		}
		r.Transport = "ws, window 1"
		b.add(r)
		rs = append(rs, r)
	}
	b.addSlope("ws, window 1", rs)
	return nil
}

// helloFields are the viewer's extra hello fields.
func (v *viewer) helloFields() string {
	if v.cfg.window <= 0 {
		return ""
	}
	return `,"window":` + strconv.Itoa(v.cfg.window)
}

// painting waits for the paint time; false if the viewer was closed.
func (v *viewer) painting() bool {
	t := time.NewTimer(v.cfg.paint)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-v.closing:
		return false
	}
}

// ack acknowledges a painted frame of the channel in the frame header
// (ch, 4 bytes big-endian), if the viewer asked for flow control.
func (v *viewer) ack(c *websocket.Conn, ch []byte, seq uint64) error {
	if v.cfg.window <= 0 {
		return nil
	}
	msg := `{"type":"ack","channel":` + strconv.FormatUint(uint64(binary.BigEndian.Uint32(ch)), 10) + `,"seq":` + strconv.FormatUint(seq, 10) + `}`
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		return fmt.Errorf("send ack: %w", err)
	}
	return nil
}
