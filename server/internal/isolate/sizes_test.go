package isolate_test

import (
	"bytes"
	"image/jpeg"
	"testing"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/isolate"
	"github.com/livemon/livemon/server/internal/synth"
)

// A child encodes a frame at several sizes from one grab, whatever sizes
// were read ahead: the right frame, each at its size.
func TestSizesAndReadAhead(t *testing.T) {
	big := synth.Spec{Video: spec.Video, Frames: 20, FPS: 25, Width: 320, Height: 180}
	path := writeSynth(t, big)
	src := open(t, isolate.Opener{CallTimeout: promptly}, path)
	se, ok := src.(decoder.SizedEncoder)
	if !ok {
		t.Fatal("isolate source is not a decoder.SizedEncoder")
	}
	check := func(what string, got [][]byte, err error, frame int, widths ...int) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(got) != len(widths) {
			t.Fatalf("%s: %d JPEGs, want %d", what, len(got), len(widths))
		}
		for i, w := range widths {
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(got[i]))
			if err != nil || cfg.Width != w || cfg.Height != w*180/320 {
				t.Fatalf("%s: JPEG %d is %dx%d (%v), want %d wide", what, i, cfg.Width, cfg.Height, err, w)
			}
			if n := marker(t, got[i], nil); n != frame {
				t.Fatalf("%s: JPEG %d shows frame %d, want %d", what, i, n, frame)
			}
		}
	}
	full, grid := []int{0}, []int{0, 160}
	b, err := se.GrabEncodeSizes(80, grid, full)
	check("first", b, err, 0, 320, 160)
	// Read ahead at full only, asked full and grid: encoded again.
	b, err = se.GrabEncodeSizes(80, grid, grid)
	check("more than read ahead", b, err, 1, 320, 160)
	// Read ahead at full and grid, asked grid only: picked.
	b, err = se.GrabEncodeSizes(80, []int{160}, grid)
	check("less than read ahead", b, err, 2, 160)
	// Encode of the frame returned, at a size it had.
	b, err = se.EncodeSizes(80, []int{160})
	check("encode after", b, err, 2, 160)
	// Grab (takes the frame read ahead at full and grid), encode grid.
	if err := src.Grab(); err != nil {
		t.Fatal(err)
	}
	b, err = se.EncodeSizes(80, []int{160, 0})
	check("grab then encode", b, err, 3, 160, 320)
	// Encode again after a plain grab: asks the child.
	if err := src.Grab(); err != nil {
		t.Fatal(err)
	}
	b, err = se.EncodeSizes(80, []int{100})
	check("grab then encode another size", b, err, 4, 100)
	if _, err := se.EncodeSizes(80, nil); err == nil {
		t.Fatal("no sizes accepted")
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	noChildren(t)
}
