package opencv

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/marker"
	"github.com/livemon/livemon/server/internal/media"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func writeVideo(t testing.TB, spec VideoSpec) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.avi")
	if err := WriteVideo(path, spec); err != nil {
		t.Fatalf("WriteVideo: %v", err)
	}
	return path
}

var small = VideoSpec{VideoID: 7, Frames: 64, Width: 320, Height: 240, FPS: 25, Label: "small"}

func openSource(t testing.TB, path string) decoder.Source {
	t.Helper()
	src, err := Opener{}.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// readMarker grabs the next frame, encodes it and reads its marker.
func readMarker(t testing.TB, src decoder.Source) (video, frame int) {
	t.Helper()
	if err := src.Grab(); err != nil {
		t.Fatalf("Grab: %v", err)
	}
	b, err := src.Encode(80)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode jpeg: %v", err)
	}
	v, f, ok := marker.Read(img)
	if !ok {
		t.Fatalf("no marker in frame")
	}
	return v, f
}

func TestWriteProbeAndRead(t *testing.T) {
	path := writeVideo(t, small)
	info, err := Probe(t.Context(), path, Limits{})
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	want := media.VideoInfo{Width: 320, Height: 240, FPS: 25, Frames: 64, Duration: 2560e6, Codec: "MJPG"}
	if info != want {
		t.Fatalf("Probe = %+v, want %+v", info, want)
	}

	src := openSource(t, path)
	if got := src.Info(); got.Width != 320 || got.Height != 240 || got.FPS != 25 || got.Frames != 64 {
		t.Fatalf("Info = %+v", got)
	}
	for i := range 64 {
		if v, f := readMarker(t, src); v != 7 || f != i {
			t.Fatalf("frame %d: marker = (%d, %d), want (7, %d)", i, v, f, i)
		}
	}
	if err := src.Grab(); !errors.Is(err, io.EOF) {
		t.Fatalf("Grab after last frame = %v, want io.EOF", err)
	}
	if _, err := src.Encode(80); err == nil {
		t.Fatal("Encode after EOF succeeded")
	}
}

func TestSeekFrame(t *testing.T) {
	src := openSource(t, writeVideo(t, small))
	for _, n := range []int64{30, 0, 63, 5, 5, 31} {
		if err := src.SeekFrame(n); err != nil {
			t.Fatalf("SeekFrame(%d): %v", n, err)
		}
		if _, f := readMarker(t, src); f != int(n) {
			t.Fatalf("after SeekFrame(%d) marker frame = %d", n, f)
		}
		if n == 63 {
			continue
		}
		if _, f := readMarker(t, src); f != int(n)+1 {
			t.Fatalf("frame after SeekFrame(%d) = %d, want %d", n, f, n+1)
		}
	}
	for _, n := range []int64{-1, 64, 1000} {
		if err := src.SeekFrame(n); err == nil {
			t.Errorf("SeekFrame(%d) succeeded", n)
		}
	}
}

func TestProbeRejects(t *testing.T) {
	valid := writeVideo(t, small)
	dir := t.TempDir()
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name   string
		path   string
		limits Limits
		kinds  []media.Kind
		opens  bool // a file Open accepts; only the probe refuses it
	}{
		{"text renamed mp4", file("notes.mp4", []byte(strings.Repeat("just some text, not a video\n", 100))), Limits{}, []media.Kind{media.KindUnsupported, media.KindUnusable}, false},
		{"zero bytes", file("empty.mp4", nil), Limits{}, []media.Kind{media.KindUnsupported}, false},
		{"playlist", file("list.mp4", []byte("#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n")), Limits{}, []media.Kind{media.KindUnsupported}, false},
		{"random bytes", file("random.avi", bytes.Repeat([]byte{0x13, 0x37, 0xfe, 0x00, 0x42}, 4000)), Limits{}, []media.Kind{media.KindUnsupported, media.KindUnusable}, false},
		{"too wide", valid, Limits{MaxDimension: 300}, []media.Kind{media.KindUnusable}, true},
		// Neither taken for media.FallbackFPS (8 frames at 1,000 fps
		// would play for 0.32 s instead of 8 ms) nor paced at 1,000
		// grabs a second.
		{"1000 fps", writeVideo(t, VideoSpec{VideoID: 3, Frames: 8, Width: 320, Height: 240, FPS: 1000}), Limits{}, []media.Kind{media.KindUnusable}, true},
		{"just above the highest", writeVideo(t, VideoSpec{VideoID: 4, Frames: 8, Width: 320, Height: 240, FPS: media.MaxFileFPS + 10}), Limits{}, []media.Kind{media.KindUnusable}, true},
		{"missing", filepath.Join(dir, "nope.mp4"), Limits{}, []media.Kind{media.KindNotFound}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Probe(t.Context(), tt.path, tt.limits)
			var me *media.Error
			if !errors.As(err, &me) {
				t.Fatalf("Probe error = %v, want a *media.Error", err)
			}
			ok := false
			for _, k := range tt.kinds {
				ok = ok || me.Kind == k
			}
			if !ok {
				t.Fatalf("Probe error kind = %v (%v), want one of %v", me.Kind, err, tt.kinds)
			}
			if strings.Contains(me.Message, dir) || strings.Contains(me.Message, "/") || strings.Contains(strings.ToLower(me.Message), "opencv") {
				t.Fatalf("message %q leaks internals", me.Message)
			}
			if src, err := (Opener{}).Open(tt.path); err == nil {
				src.Close()
				if !tt.opens {
					t.Fatal("Open succeeded")
				}
			}
		})
	}
}

func TestProbeHighestFPS(t *testing.T) {
	info, err := Probe(t.Context(), writeVideo(t, VideoSpec{VideoID: 5, Frames: 8, Width: 320, Height: 240, FPS: media.MaxFileFPS}), Limits{})
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if info.FPS != media.MaxFileFPS || info.Duration != 8*time.Second/media.MaxFileFPS {
		t.Fatalf("Probe = %v fps, %v; want %d fps, %v", info.FPS, info.Duration, media.MaxFileFPS, 8*time.Second/media.MaxFileFPS)
	}
}

func TestTruncatedFileDoesNotCrash(t *testing.T) {
	data, err := os.ReadFile(writeVideo(t, small))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cut.avi")
	if err := os.WriteFile(path, data[:len(data)*3/10], 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := Probe(t.Context(), path, Limits{})
	t.Logf("Probe(truncated) = %+v, %v", info, err)
	if err != nil {
		var me *media.Error
		if !errors.As(err, &me) || (me.Kind != media.KindUnsupported && me.Kind != media.KindUnusable) {
			t.Fatalf("Probe error = %v, want unsupported or unusable", err)
		}
		return
	}
	src := openSource(t, path)
	n := 0
	for ; n < 100; n++ {
		if err := src.Grab(); err != nil {
			break
		}
		if _, err := src.Encode(80); err != nil {
			t.Logf("Encode frame %d: %v", n, err)
		}
	}
	if n == 0 || n >= 64 {
		t.Fatalf("grabbed %d frames from 30%% of a 64-frame file", n)
	}
	t.Logf("grabbed %d frames", n)
}

func TestProbeContextDone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Probe(ctx, writeVideo(t, small), Limits{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Probe with a cancelled ctx = %v, want context.Canceled", err)
	}
}

var hd = VideoSpec{VideoID: 1, Frames: 50, Width: 1280, Height: 720, FPS: 25, Noise: true, Label: "bench"}

func TestNoiseFrameSize(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 720p video")
	}
	src := openSource(t, writeVideo(t, hd))
	var total int
	for range 10 {
		if err := src.Grab(); err != nil {
			t.Fatal(err)
		}
		b, err := src.Encode(80)
		if err != nil {
			t.Fatal(err)
		}
		total += len(b)
	}
	if avg := total / 10; avg < 80_000 || avg > 200_000 {
		t.Fatalf("720p noise frame at quality 80 is %d bytes, want about 100-150 KB", avg)
	} else {
		t.Logf("720p noise frame at quality 80: %d bytes", avg)
	}
}

func benchmarkSource(b *testing.B, encode bool) {
	src := openSource(b, writeVideo(b, hd))
	b.ResetTimer()
	for b.Loop() {
		err := src.Grab()
		if errors.Is(err, io.EOF) {
			if err := src.SeekFrame(0); err != nil {
				b.Fatal(err)
			}
			err = src.Grab()
		}
		if err != nil {
			b.Fatal(err)
		}
		if encode {
			if _, err := src.Encode(80); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkGrabEncode720p measures one frame's grab, decode and JPEG
// encode at 1280x720.
func BenchmarkGrabEncode720p(b *testing.B) { benchmarkSource(b, true) }

// BenchmarkGrab720p measures grabbing (skipping) one 1280x720 frame.
func BenchmarkGrab720p(b *testing.B) { benchmarkSource(b, false) }
