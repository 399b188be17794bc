package cluster

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

func TestFrameRoundTrip(t *testing.T) {
	in := &media.Frame{
		Camera: "cam-1", Rendition: media.RenditionGrid, Epoch: 7, Seq: 1234567,
		PTS: 3*time.Second + 5, Captured: time.Unix(1700000000, 123456789), Width: 1280, Height: 720,
		JPEG: []byte{0xff, 0xd8, 1, 2, 3, 0xff, 0xd9},
	}
	out, err := DecodeFrame("cam-1", media.RenditionGrid, EncodeFrame(in))
	if err != nil {
		t.Fatal(err)
	}
	if out.Camera != in.Camera || out.Rendition != in.Rendition || out.Epoch != in.Epoch || out.Seq != in.Seq ||
		out.PTS != in.PTS || !out.Captured.Equal(in.Captured) || out.Width != in.Width || out.Height != in.Height ||
		!bytes.Equal(out.JPEG, in.JPEG) {
		t.Fatalf("round trip: got %+v, want %+v", out, in)
	}
}

func TestDecodeFrameRejects(t *testing.T) {
	good := EncodeFrame(&media.Frame{Epoch: 1, Seq: 1, Width: 2, Height: 2, JPEG: []byte{1}})
	bad := func(mut func([]byte) []byte) []byte { return mut(append([]byte(nil), good...)) }
	for name, b := range map[string][]byte{
		"empty":        nil,
		"header only":  good[:FrameHeaderSize],
		"version":      bad(func(b []byte) []byte { b[0] = 2; return b }),
		"negative pts": bad(func(b []byte) []byte { b[17] = 0x80; return b }),
		"huge width":   bad(func(b []byte) []byte { b[33] = 1; return b }),
	} {
		if _, err := DecodeFrame("c", "", b); !errors.Is(err, ErrBadFrame) {
			t.Errorf("%s: err = %v, want ErrBadFrame", name, err)
		}
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(EncodeFrame(&media.Frame{Epoch: 1, Seq: 2, PTS: 3, Captured: time.Unix(4, 5), Width: 6, Height: 7, JPEG: []byte{8}}))
	f.Add([]byte{1})
	f.Add(make([]byte, FrameHeaderSize+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame("c", media.RenditionFull, b)
		if err != nil {
			return
		}
		if len(fr.JPEG) == 0 || fr.PTS < 0 || fr.Width > MaxFrameDimension || fr.Height > MaxFrameDimension {
			t.Fatalf("accepted bad frame %+v", fr)
		}
		if again := EncodeFrame(fr); !bytes.Equal(again, b) {
			t.Fatalf("re-encode differs:\n%x\n%x", again, b)
		}
	})
}
