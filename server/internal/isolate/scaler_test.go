package isolate_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/isolate"
	"github.com/livemon/livemon/server/internal/media"
)

// testJPEG is a w x h JPEG.
func testJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 99, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// checkScaled checks that s is a JPEG of w x h that says so.
func checkScaled(t *testing.T, s decoder.ScaledJPEG, w, h int) {
	t.Helper()
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(s.JPEG))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != w || cfg.Height != h || s.Width != w || s.Height != h {
		t.Fatalf("scaled JPEG of %dx%d (says %dx%d), want %dx%d", cfg.Width, cfg.Height, s.Width, s.Height, w, h)
	}
}

func newScaler(t *testing.T, cfg isolate.ScalerConfig) *isolate.Scaler {
	t.Helper()
	cfg.Opener.Stderr = logWriter{t}
	s := isolate.NewScaler(cfg)
	t.Cleanup(func() {
		s.Close()
		noChildren(t)
	})
	return s
}

// A scaler child scales JPEGs, one after another, reporting the decoded
// size; a JPEG it cannot decode is refused and the child serves on.
func TestScalerScales(t *testing.T) {
	s := newScaler(t, isolate.ScalerConfig{})
	in := testJPEG(t, 640, 360)
	for range 3 {
		out, err := s.Scale(t.Context(), in, 160, 80)
		if err != nil {
			t.Fatal(err)
		}
		checkScaled(t, out, 160, 90)
		if out.DecodedWidth != 640 || out.DecodedHeight != 360 {
			t.Fatalf("decoded at %dx%d", out.DecodedWidth, out.DecodedHeight)
		}
	}
	_, err := s.Scale(t.Context(), []byte("\xff\xd8 not really"), 160, 80)
	var me *media.Error
	if !errors.As(err, &me) || me.Kind != media.KindUnusable || errors.Is(err, decoder.ErrSourceBroken) {
		t.Fatalf("Scale of garbage = %v, want the child's unusable error", err)
	}
	if _, err := s.Scale(t.Context(), in, 160, 80); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Scaled != 4 || st.Started != 1 || st.Failed != 0 {
		t.Fatalf("stats %+v, want 4 scaled by one child", st)
	}
	if n := len(children(t)); n != 1 {
		t.Fatalf("%d children", n)
	}
}

// Children are bounded: many callers at once share at most Children.
func TestScalerBounded(t *testing.T) {
	s := newScaler(t, isolate.ScalerConfig{Children: 2})
	in := testJPEG(t, 320, 180)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 3 {
				if _, err := s.Scale(t.Context(), in, 100, 80); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Scaled != 24 || st.Started > 2 {
		t.Fatalf("stats %+v, want 24 scaled by at most 2 children", st)
	}
}

// A child that crashes or hangs fails its request (ErrSourceBroken, the
// child reaped); the next start waits a backoff, during which Scale is
// unavailable at once; then a new child serves.
func TestScalerChildFaults(t *testing.T) {
	for _, fault := range []string{"crash:1", "hang:1", "garbage:1"} {
		t.Run(fault, func(t *testing.T) {
			s := newScaler(t, isolate.ScalerConfig{Children: 1, Opener: isolate.Opener{
				CallTimeout: time.Second, Env: []string{isolate.FaultEnv + "=" + fault},
			}})
			in := testJPEG(t, 320, 180)
			if _, err := s.Scale(t.Context(), in, 100, 80); err != nil {
				t.Fatal(err)
			}
			_, err := s.Scale(t.Context(), in, 100, 80)
			if !errors.Is(err, decoder.ErrSourceBroken) {
				t.Fatalf("Scale after the fault = %v, want ErrSourceBroken", err)
			}
			noChildren(t)
			began := time.Now()
			_, err = s.Scale(t.Context(), in, 100, 80)
			if !errors.Is(err, decoder.ErrScalerUnavailable) || time.Since(began) > time.Second {
				t.Fatalf("Scale during the backoff = %v after %v, want ErrScalerUnavailable at once", err, time.Since(began))
			}
			for deadline := time.Now().Add(promptly); ; {
				_, err = s.Scale(t.Context(), in, 100, 80)
				if err == nil {
					break
				}
				if !errors.Is(err, decoder.ErrScalerUnavailable) || time.Now().After(deadline) {
					t.Fatalf("Scale after the backoff = %v", err)
				}
				select {
				case <-time.After(50 * time.Millisecond):
				case <-t.Context().Done():
					t.Fatal(t.Context().Err())
				}
			}
			if st := s.Stats(); st.Started != 2 || st.Failed != 1 || st.Scaled != 2 || st.Unavailable == 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// Ending a request's ctx while its child works kills that child: Scale
// returns at once.
func TestScalerContextEnd(t *testing.T) {
	s := newScaler(t, isolate.ScalerConfig{Children: 1, Opener: isolate.Opener{
		CallTimeout: time.Hour, Env: []string{isolate.FaultEnv + "=hang:0"},
	}})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := s.Scale(ctx, testJPEG(t, 320, 180), 100, 80)
		done <- err
	}()
	time.Sleep(100 * time.Millisecond) // let the request reach the child
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Scale = %v", err)
		}
	case <-time.After(promptly):
		t.Fatal("Scale still blocked after its ctx ended")
	}
	noChildren(t)
}

// An unused child exits after Idle; the next Scale starts another.
func TestScalerIdleChildExits(t *testing.T) {
	s := newScaler(t, isolate.ScalerConfig{Idle: 200 * time.Millisecond})
	in := testJPEG(t, 320, 180)
	if _, err := s.Scale(t.Context(), in, 100, 80); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(promptly); len(children(t)) > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("children still running: %v", children(t))
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		}
	}
	if _, err := s.Scale(t.Context(), in, 100, 80); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Started != 2 {
		t.Fatalf("stats %+v, want a second child", st)
	}
}

// Bad arguments are refused before any child is involved; after Close,
// Scale is unavailable.
func TestScalerRefuses(t *testing.T) {
	s := isolate.NewScaler(isolate.ScalerConfig{})
	if _, err := s.Scale(t.Context(), testJPEG(t, 64, 64), 0, 80); err == nil || !strings.Contains(err.Error(), "width") {
		t.Fatalf("width 0: %v", err)
	}
	s.Close()
	if _, err := s.Scale(t.Context(), testJPEG(t, 64, 64), 32, 80); !errors.Is(err, decoder.ErrScalerUnavailable) {
		t.Fatalf("after Close: %v", err)
	}
	noChildren(t)
}

// A scaler child is a spare decode child when one is ready: the first
// Scale does not start a process of its own, and Spares starts the next.
func TestScalerTakesSpare(t *testing.T) {
	o := isolate.Opener{Stderr: logWriter{t}}
	o.Spares = isolate.NewSpares(o, 1)
	defer o.Spares.Close()
	waitSpares := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(promptly); o.Spares.Ready() != 1; {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no spare ready", what)
			}
			select {
			case <-time.After(20 * time.Millisecond):
			case <-t.Context().Done():
				t.Fatal(t.Context().Err())
			}
		}
	}
	waitSpares("before")
	before := children(t)
	s := newScaler(t, isolate.ScalerConfig{Opener: o})
	if _, err := s.Scale(t.Context(), testJPEG(t, 320, 180), 100, 80); err != nil {
		t.Fatal(err)
	}
	waitSpares("after")
	after := children(t)
	pid := func(c string) string { p, _, _ := strings.Cut(c, " "); return p }
	if len(before) != 1 || len(after) != 2 || !slices.ContainsFunc(after, func(c string) bool { return pid(c) == pid(before[0]) }) {
		t.Fatalf("children before %v, after %v: want the spare serving the scaler and a new spare", before, after)
	}
}
