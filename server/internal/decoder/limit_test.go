package decoder_test

import (
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/synth"
)

// startLimited runs a decoder for cam over limit in the synctest bubble.
func startLimited(t *testing.T, limit *decoder.Limit, h *fakeHub, cam media.CameraID) *decoder.Decoder {
	t.Helper()
	d := decoder.Start(t.Context(), decoder.Config{Camera: cam, Path: testPath}, decoder.Deps{Opener: limit, Publisher: h, Watcher: h})
	t.Cleanup(d.Stop)
	return d
}

// Issue 18 item 5: the cap on decoding cameras. The camera over it is in
// state error with code decoder_limit and a message that says why, and it
// gets the slot as soon as one frees, long before any backoff.
func TestLimitWaitsForASlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOpener(10_000, 25)
		limit := decoder.NewLimit(o, 1)
		ha, hb := newFakeHub(true), newFakeHub(true)
		a := startLimited(t, limit, ha, "a")
		advance(time.Second)
		b := startLimited(t, limit, hb, "b")
		advance(10 * time.Second)
		if st := a.Status(); st.State != media.StateRunning || len(ha.published()) == 0 {
			t.Fatalf("a: %+v", st)
		}
		st := b.Status()
		if st.State != media.StateError || st.ErrCode != "decoder_limit" || !strings.Contains(st.Err, "decoder") || st.Restarts != 0 {
			t.Fatalf("b over the cap: %+v", st)
		}
		if n := len(hb.published()); n != 0 {
			t.Fatalf("b published %d frames over the cap", n)
		}
		if opens, _, _, _ := o.counts(); opens != 1 {
			t.Fatalf("%d opens, want 1", opens)
		}
		a.Stop()
		advance(100 * time.Millisecond)
		if st := b.Status(); st.State != media.StateRunning || st.ErrCode != "" || st.Err != "" {
			t.Fatalf("b after a stopped: %+v", st)
		}
		if len(hb.published()) == 0 {
			t.Fatal("b publishes nothing after getting the slot")
		}
	})
}

// An unwatched camera closes its file after a while, which frees its slot
// for a watched one.
func TestLimitUnwatchedGivesSlotBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOpener(10_000, 25)
		limit := decoder.NewLimit(o, 1)
		ha, hb := newFakeHub(false), newFakeHub(true)
		startLimited(t, limit, ha, "a")
		advance(time.Second)
		b := startLimited(t, limit, hb, "b")
		advance(time.Second)
		if st := b.Status(); st.ErrCode != "decoder_limit" {
			t.Fatalf("b: %+v", st)
		}
		advance(15 * time.Second) // a's idle close
		if st := b.Status(); st.State != media.StateRunning {
			t.Fatalf("b after a went idle: %+v", st)
		}
	})
}

// A limited Source keeps the optional interfaces of the wrapped one.
func TestLimitKeepsSourceInterfaces(t *testing.T) {
	for _, ge := range []bool{false, true} {
		o := newFakeOpener(10, 25)
		o.grabEncoder = ge
		src, err := decoder.NewLimit(o, 2).Open(testPath)
		if err != nil {
			t.Fatal(err)
		}
		_, isGE := src.(decoder.GrabEncoder)
		_, isET := src.(decoder.EncodeTimer)
		if isGE != ge || isET != ge {
			t.Fatalf("grabEncoder=%v: GrabEncoder %v, EncodeTimer %v", ge, isGE, isET)
		}
		src.Close()
		src.Close() // a second Close gives nothing back twice
	}
	// A SizedEncoder (renditions) stays one.
	path := filepath.Join(t.TempDir(), "v.synth")
	if err := (synth.Spec{Frames: 10, FPS: 25, Width: 96, Height: 64}).Write(path); err != nil {
		t.Fatal(err)
	}
	src, err := decoder.NewLimit(synth.Opener{}, 1).Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := src.(decoder.SizedEncoder); !ok {
		t.Fatal("a limited SizedEncoder is no longer one")
	}
	src.Close()
	limit := decoder.NewLimit(newFakeOpener(10, 25), 1)
	a, _ := limit.Open(testPath)
	if _, err := limit.Open(testPath); !media.IsKind(err, media.KindDecoderLimit) {
		t.Fatalf("second open: %v", err)
	}
	a.Close()
	a.Close()
	b, err := limit.Open(testPath)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	if _, err := limit.Open(testPath); err == nil {
		t.Fatal("a double Close freed two slots")
	}
	b.Close()
}
