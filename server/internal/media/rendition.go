package media

import (
	"math"
	"strings"
)

// Rendition names one of the streams a camera offers: the same frames
// (same epoch, seq and position) at another size or rate. The hub's unit
// is (camera, rendition); a rendition nobody watches is not produced.
type Rendition string

const (
	// RenditionFull is the camera's frames at their own size and rate.
	RenditionFull Rendition = "full"
	// RenditionGrid is a smaller, slower stream for grid tiles: at most
	// Grid.Width pixels wide (aspect kept, never enlarged) and at most
	// Grid.FPS frames a second.
	RenditionGrid Rendition = "grid"
)

// RenditionCount is the number of renditions.
const RenditionCount = 2

// Renditions lists every rendition, in a fixed order (full first).
func Renditions() []Rendition { return []Rendition{RenditionFull, RenditionGrid} }

// Index is r's place in Renditions ("" counts as full), for arrays of
// RenditionCount per-rendition values; -1 for an unknown rendition.
func (r Rendition) Index() int {
	switch r.OrFull() {
	case RenditionFull:
		return 0
	case RenditionGrid:
		return 1
	}
	return -1
}

// ParseRendition validates s as a rendition name. The empty string is
// RenditionFull: clients that do not name one get the full stream.
func ParseRendition(s string) (Rendition, error) {
	switch r := Rendition(s); r {
	case "":
		return RenditionFull, nil
	case RenditionFull, RenditionGrid:
		return r, nil
	}
	names := make([]string, 0, 2)
	for _, r := range Renditions() {
		names = append(names, string(r))
	}
	if len(s) > 32 {
		s = s[:32]
	}
	return "", Errorf(KindInvalid, "unknown rendition %q: use one of %s", s, strings.Join(names, ", "))
}

// OrFull returns r, or RenditionFull for the zero value.
func (r Rendition) OrFull() Rendition {
	if r == "" {
		return RenditionFull
	}
	return r
}

// Grid rendition defaults and bounds (server-wide flags --grid-width and
// --grid-fps; a camera may override them).
const (
	DefaultGridWidth = 480
	DefaultGridFPS   = 10
	MinGridWidth     = 64
	MaxGridWidth     = 1920
	MaxGridFPS       = 30
)

// Grid is how the grid rendition is produced.
type Grid struct {
	Width int     // at most this many pixels wide
	FPS   float64 // at most this many frames a second
}

// DefaultGrid is the grid rendition when nothing else is configured.
func DefaultGrid() Grid { return Grid{Width: DefaultGridWidth, FPS: DefaultGridFPS} }

// Validate checks g's bounds; zero fields are not allowed (use OrDefault
// first for "not set").
func (g Grid) Validate() error {
	if g.Width < MinGridWidth || g.Width > MaxGridWidth {
		return Errorf(KindInvalid, "grid width must be %d to %d pixels", MinGridWidth, MaxGridWidth)
	}
	if math.IsNaN(g.FPS) || g.FPS <= 0 || g.FPS > MaxGridFPS {
		return Errorf(KindInvalid, "grid fps must be above 0 and at most %d", MaxGridFPS)
	}
	return nil
}

// OrDefault fills g's zero fields from def.
func (g Grid) OrDefault(def Grid) Grid {
	if g.Width <= 0 {
		g.Width = def.Width
	}
	if g.FPS <= 0 || math.IsNaN(g.FPS) {
		g.FPS = def.FPS
	}
	return g
}

// ScaledSize returns the size of a w x h picture scaled down to at most
// maxWidth pixels wide with its aspect kept (height rounded, at least 1).
// A picture already narrow enough, or maxWidth <= 0, keeps its size.
// Every producer of a scaled rendition sizes it with this function.
func ScaledSize(w, h, maxWidth int) (int, int) {
	if maxWidth <= 0 || w <= maxWidth || w <= 0 || h <= 0 {
		return w, h
	}
	nh := int(math.Round(float64(h) * float64(maxWidth) / float64(w)))
	return maxWidth, max(nh, 1)
}
