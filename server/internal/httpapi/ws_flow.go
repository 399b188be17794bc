package httpapi

import (
	"encoding/json"
	"errors"
	"slices"
)

// End-to-end flow control of the WebSocket (docs/protocol.md "Flow
// control", the argument in docs/architecture.md).
//
// A client that says "window": W in hello acknowledges every frame it is
// done with (painted, or decided not to paint) with
// {"type":"ack","channel":N,"seq":S}. The writer sends a channel's next
// frame only while fewer than W of that channel's frames are
// unacknowledged; the frames the client is not ready for stay where they
// are today, in the hub's one-slot mailbox, where each newer one replaces
// the older (and counts a drop). So a frame the client gets is always the
// newest when it is sent, and what waits between server and screen is at
// most W frames per channel, however slow the client.
//
// The state is per connection and lives in the writer goroutine: a resumed
// session starts with every channel's credit free.

// maxWindow is the largest window a client may ask for (the web app asks
// for 1: docs/architecture.md "Flow control").
const maxWindow = 8

// flow is a connection's credit state; nil (a client that does not
// acknowledge) sends every frame as soon as the socket takes it.
type flow struct {
	window int
	// inflight holds, per channel, the seqs sent and not yet acknowledged,
	// oldest first; never more than window of them.
	inflight map[uint32][]uint64
}

func newFlow(window int) *flow {
	if window <= 0 {
		return nil
	}
	return &flow{window: window, inflight: make(map[uint32][]uint64)}
}

// open reports whether a frame of channel ch may be sent now.
func (f *flow) open(ch uint32) bool {
	return f == nil || len(f.inflight[ch]) < f.window
}

// sent records that frame seq of channel ch went out.
func (f *flow) sent(ch uint32, seq uint64) {
	if f != nil {
		f.inflight[ch] = append(f.inflight[ch], seq)
	}
}

// ack takes the client's acknowledgement of frame seq of channel ch: that
// frame and every frame of the channel sent before it are done. It reports
// whether credit was freed; an ack of a frame not in flight (unknown
// channel, a seq never sent or already acknowledged) changes nothing.
// Matching by identity rather than by order keeps this right when a new
// epoch starts the seqs again.
func (f *flow) ack(ch uint32, seq uint64) bool {
	if f == nil {
		return false
	}
	q := f.inflight[ch]
	i := slices.Index(q, seq)
	if i < 0 {
		return false
	}
	for j := i + 1; j < len(q); j++ { // the last match: everything before it is older
		if q[j] == seq {
			i = j
		}
	}
	if rest := q[i+1:]; len(rest) > 0 {
		f.inflight[ch] = slices.Clone(rest)
	} else {
		delete(f.inflight, ch)
	}
	return true
}

// forget drops channel ch's state when its subscription ends, so a later
// subscription starts with free credit.
func (f *flow) forget(ch uint32) {
	if f != nil {
		delete(f.inflight, ch)
	}
}

// checkFlowFields validates the flow-control fields of a decoded message:
// a hello's window and an ack's channel and seq.
func checkFlowFields(m *clientMsg) {
	switch m.Type {
	case "hello":
		if m.Window != nil && (*m.Window < 0 || *m.Window > maxWindow) {
			m.invalid = "window must be a whole number from 0 to 8"
		}
	case "ack":
		if m.Channel == nil || m.Seq == nil {
			m.invalid = "ack needs channel and seq"
		}
	}
}

// typeError names the field of a JSON decoding error that had the wrong
// type, or "" for any other error.
func typeError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return "field " + te.Field + " has the wrong type"
	}
	return ""
}

// ack frees credit and sends the acknowledged channel's newest waiting
// frame, if any. Acks of a connection without flow control, of channels
// it does not watch or of frames not in flight are ignored.
func (c *wsConn) ack(m clientMsg) error {
	ch := *m.Channel
	if !c.flow.ack(ch, *m.Seq) {
		return nil
	}
	for cam, ws := range c.subs {
		if ws.channel == ch || (ws.switching != nil && ws.switching.Channel() == ch) {
			return c.sendFrame(cam, ws)
		}
	}
	return nil
}
