package media

import "testing"

func TestParseRendition(t *testing.T) {
	for in, want := range map[string]Rendition{"": RenditionFull, "full": RenditionFull, "grid": RenditionGrid} {
		if got, err := ParseRendition(in); err != nil || got != want {
			t.Errorf("ParseRendition(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"Grid", "thumb", " full", "grid\x00"} {
		_, err := ParseRendition(in)
		if !IsKind(err, KindInvalid) {
			t.Errorf("ParseRendition(%q) err = %v, want KindInvalid", in, err)
		}
	}
	_, err := ParseRendition("thumb")
	if want := `unknown rendition "thumb": use one of full, grid`; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

func TestScaledSize(t *testing.T) {
	tests := []struct{ w, h, max, ww, wh int }{
		{1280, 720, 480, 480, 270},
		{1920, 1080, 480, 480, 270},
		{640, 480, 480, 480, 360},
		{96, 64, 480, 96, 64}, // never enlarged
		{480, 270, 480, 480, 270},
		{1000, 1, 480, 480, 1}, // at least one row
		{1280, 720, 0, 1280, 720},
	}
	for _, tt := range tests {
		if w, h := ScaledSize(tt.w, tt.h, tt.max); w != tt.ww || h != tt.wh {
			t.Errorf("ScaledSize(%d, %d, %d) = %dx%d, want %dx%d", tt.w, tt.h, tt.max, w, h, tt.ww, tt.wh)
		}
	}
}

func TestGridValidate(t *testing.T) {
	if err := DefaultGrid().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, g := range []Grid{{Width: 10, FPS: 10}, {Width: 480, FPS: 0}, {Width: 480, FPS: 31}, {Width: 5000, FPS: 5}} {
		if err := g.Validate(); !IsKind(err, KindInvalid) {
			t.Errorf("%+v: err %v", g, err)
		}
	}
	if g := (Grid{FPS: 5}).OrDefault(DefaultGrid()); g.Width != DefaultGridWidth || g.FPS != 5 {
		t.Errorf("OrDefault = %+v", g)
	}
}

func TestRenditionIndex(t *testing.T) {
	rs := Renditions()
	if len(rs) != RenditionCount {
		t.Fatalf("%d renditions, RenditionCount %d", len(rs), RenditionCount)
	}
	for i, r := range rs {
		if r.Index() != i {
			t.Errorf("%q.Index() = %d, want %d", r, r.Index(), i)
		}
	}
	if Rendition("").Index() != 0 || Rendition("x").Index() != -1 {
		t.Error("Index of empty or unknown")
	}
}
