package isolate

import (
	"slices"
	"testing"
)

func TestChildEnv(t *testing.T) {
	got := childEnv(
		[]string{"PATH=/bin", "LIVEMON_TOKEN=secret", "LIVEMON_DATA=/srv", FaultEnv + "=crash", "HOME=/root"},
		[]string{"OPENCV_FFMPEG_THREADS=1"})
	want := []string{"PATH=/bin", FaultEnv + "=crash", "HOME=/root", "OPENCV_FFMPEG_THREADS=1", "MALLOC_ARENA_MAX=2"}
	if !slices.Equal(got, want) {
		t.Fatalf("childEnv = %q, want %q", got, want)
	}
	if got := childEnv([]string{"MALLOC_ARENA_MAX=8"}, nil); !slices.Equal(got, []string{"MALLOC_ARENA_MAX=8"}) {
		t.Fatalf("childEnv kept = %q", got)
	}
}
