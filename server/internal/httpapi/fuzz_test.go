package httpapi

import (
	"bytes"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

func FuzzParseClientMsg(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello"}`, `{"type":"hello","session":"0123456789abcdef0123456789abcdef"}`,
		`{"type":"subscribe","camera":"demo"}`, `{"type":"unsubscribe","camera":"../x"}`,
		`{"type":"dance"}`, `{`, `null`, `[]`, `{"type":1}`, `{"type":"hello","session":null}`,
		`{"type":"hello","window":1}`, `{"type":"hello","window":99}`, `{"type":"ack","channel":3,"seq":17}`,
		`{"type":"ack","channel":-3,"seq":17}`, `{"type":"ack","seq":1e30}`, `{"type":"ack","channel":4294967296,"seq":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := parseClientMsg(data)
		if m.invalid == "" {
			switch m.Type {
			case "hello":
				if m.Window != nil && (*m.Window < 0 || *m.Window > maxWindow) {
					t.Fatalf("accepted window %d", *m.Window)
				}
			case "ack":
				if m.Channel == nil || m.Seq == nil {
					t.Fatal("accepted an ack without channel or seq")
				}
				// Any ack is safe on a connection's credit state.
				f := newFlow(1)
				f.sent(1, 1)
				f.ack(*m.Channel, *m.Seq)
				if !f.open(*m.Channel) && *m.Channel != 1 {
					t.Fatal("an ack closed a channel")
				}
			case "subscribe", "unsubscribe":
			default:
				t.Fatalf("accepted type %q", m.Type)
			}
		}
	})
}

func FuzzFrameHeader(f *testing.F) {
	f.Add(uint32(1), uint64(2), uint64(3), int64(1764400000000), int64(1500), 640, 360, []byte{0xff, 0xd8})
	f.Add(uint32(0), uint64(0), uint64(0), int64(0), int64(0), 0, 0, []byte{})
	f.Fuzz(func(t *testing.T, ch uint32, epoch, seq uint64, ms, posMS int64, w, h int, jpg []byte) {
		if ms < 0 || posMS < 0 || posMS > 1<<31 || w < 0 || w > 65535 || h < 0 || h > 65535 {
			t.Skip()
		}
		fr := &media.Frame{Epoch: epoch, Seq: seq, Captured: time.UnixMilli(ms), PTS: time.Duration(posMS) * time.Millisecond, Width: w, Height: h, JPEG: jpg}
		b := append(appendFrameHeader(nil, ch, fr), jpg...)
		got, err := parseFrameHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		want := frameHeader{Channel: ch, Epoch: epoch, Seq: seq, ServerMS: uint64(ms), PositionMS: uint32(posMS), Width: uint16(w), Height: uint16(h), Len: frameHeaderLen}
		if got != want || !bytes.Equal(b[got.Len:], jpg) {
			t.Fatalf("round trip: got %+v want %+v", got, want)
		}
		// Arbitrary bytes never panic the parser.
		parseFrameHeader(jpg)
	})
}
