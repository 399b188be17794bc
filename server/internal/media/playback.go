package media

import "math"

// Playback rules. Each is written here once; the decoder, the probe, the
// camera manager and the flags derive from these.
const (
	// FallbackFPS is the frame rate assumed for a file that does not say
	// (missing, zero or negative, NaN).
	FallbackFPS = 25
	// MaxFileFPS is the highest frame rate livemon plays a file at (not
	// to be confused with --max-fps, the cap on frames sent). The probe
	// refuses a file that claims more (KindUnusable): pacing it would grab
	// that many frames a second, and taking it for FallbackFPS would play
	// it slowed down.
	MaxFileFPS = 240
	// MinSpeed and MaxSpeed bound a camera's playback speed.
	MinSpeed float64 = 0.1
	MaxSpeed float64 = 8
	// DefaultJPEGQuality is the JPEG quality of published frames unless
	// the operator sets one (1 to MaxJPEGQuality).
	DefaultJPEGQuality = 80
	MaxJPEGQuality     = 100
)

// PlaybackFPS returns the frame rate a file is paced at: its own rate fps
// when that is positive and at most MaxFileFPS, else FallbackFPS.
func PlaybackFPS(fps float64) float64 {
	if math.IsNaN(fps) || fps <= 0 || fps > MaxFileFPS {
		return FallbackFPS
	}
	return fps
}

// JPEGQuality returns q as a JPEG quality: DefaultJPEGQuality when q is
// not positive, at most MaxJPEGQuality.
func JPEGQuality(q int) int {
	if q <= 0 {
		return DefaultJPEGQuality
	}
	return min(q, MaxJPEGQuality)
}
