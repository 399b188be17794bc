package camera

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
	"github.com/livemon/livemon/server/internal/synth"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every wait in these tests.
const wait = 5 * time.Second

// harness is a running Manager over synthetic videos (package synth), with
// a prober and an opener that tests can hold at a gate.
type harness struct {
	t      *testing.T
	dir    string
	st     *store.Store
	hub    *hub.Hub
	m      *Manager
	prober *gateProber
	opener *gateOpener
	forgot *forgetLog
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	// Registered first, so it runs after the manager and store are closed:
	// no decoder goroutine of this test may be left.
	t.Cleanup(func() { goleak.VerifyNone(t) })
	return startHarness(t, cfg, Deps{})
}

// startHarness is newHarness without the leak check (a test running two
// managers registers that once, before both), with extra deps: their
// OnCheckpoint is kept.
func startHarness(t *testing.T, cfg Config, extra Deps) *harness {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{
		t: t, dir: dir, st: st,
		hub:    hub.New(hub.WithLinger(time.Second)),
		prober: &gateProber{},
		opener: &gateOpener{},
		forgot: &forgetLog{},
	}
	if cfg.CheckpointEvery == 0 {
		cfg.CheckpointEvery = 50 * time.Millisecond
	}
	h.m = New(cfg, Deps{Store: st, Hub: h.hub, Opener: h.opener, Prober: h.prober,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), OnCheckpoint: extra.OnCheckpoint})
	h.m.AddForgetter(h.forgot)
	if err := h.m.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.m.Run(ctx)
	}()
	t.Cleanup(func() {
		h.prober.open() // never leave an upload blocked
		h.opener.open()
		cancel()
		select {
		case <-done:
		case <-time.After(wait):
			t.Error("Run did not return after its ctx ended")
		}
		_ = st.Close()
	})
	return h
}

// video is a synthetic video whose frames carry marker id n.
func video(n int) synth.Spec {
	return synth.Spec{Video: n, Frames: 90, FPS: 30, Width: 96, Height: 64}
}

// temp writes spec into a new temp upload file.
func (h *harness) temp(spec synth.Spec) *store.TempFile {
	h.t.Helper()
	tf, err := h.st.CreateTemp()
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := io.WriteString(tf, spec.String()); err != nil {
		h.t.Fatal(err)
	}
	return tf
}

// upload publishes video n to camera id.
func (h *harness) upload(id media.CameraID, n int) (Upload, error) {
	h.t.Helper()
	return h.m.PublishUpload(context.Background(), id, h.temp(video(n)), "clip.avi")
}

func (h *harness) mustUpload(id media.CameraID, n int) Upload {
	h.t.Helper()
	u, err := h.upload(id, n)
	if err != nil {
		h.t.Fatalf("upload video %d to %s: %v", n, id, err)
	}
	return u
}

// files lists what is left in the data dir's tmp/ and videos/.
func (h *harness) files() []string {
	var out []string
	for _, sub := range []string{"tmp", "videos"} {
		entries, _ := os.ReadDir(filepath.Join(h.dir, sub))
		for _, de := range entries {
			out = append(out, sub+"/"+de.Name())
		}
	}
	return out
}

// entry returns the camera's entry as the manager holds it, or nil.
func (h *harness) entry(id media.CameraID) *entry {
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	return h.m.cameras[id]
}

// decoder returns the camera's running decoder, or nil.
func (h *harness) decoder(id media.CameraID) *decoder.Decoder {
	e := h.entry(id)
	if e == nil {
		return nil
	}
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	d, _ := e.dec.(*decoder.Decoder)
	return d
}

// viewer is a hub subscriber, as a WebSocket or MJPEG viewer is.
type viewer struct {
	t   *testing.T
	sub *hub.Subscription
}

func (h *harness) watch(id media.CameraID) *viewer {
	sub := h.hub.Subscribe(id, hub.SubscribeOptions{Transport: "websocket"})
	h.t.Cleanup(sub.Close)
	return &viewer{t: h.t, sub: sub}
}

// next waits for the viewer's next frame and returns it with the marker's
// video id.
func (v *viewer) next() (*media.Frame, int) {
	v.t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case <-v.sub.Ready():
			if f, ok := v.sub.Next(); ok {
				n, _, ok := synth.ReadMarker(f.JPEG)
				if !ok {
					v.t.Fatalf("frame epoch %d seq %d has no marker", f.Epoch, f.Seq)
				}
				return f, n
			}
		case <-v.sub.Done():
			v.t.Fatal("subscription ended while waiting for a frame")
		case <-timeout:
			v.t.Fatal("no frame within", wait)
		}
	}
}

// ended reports whether the viewer's subscription was ended by the hub.
func (v *viewer) ended() bool {
	select {
	case <-v.sub.Done():
		return true
	case <-time.After(wait):
		return false
	}
}

// gate holds callers until opened; entered receives one value per caller
// that reached it.
type gate struct {
	mu      sync.Mutex
	closed  bool
	release chan struct{}
	entered chan struct{}
}

// shut makes the next callers wait at the gate.
func (g *gate) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	g.release = make(chan struct{})
	g.entered = make(chan struct{}, 16)
}

// open lets every waiting and future caller through.
func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		close(g.release)
		g.closed = false
	}
}

// pass blocks the caller while the gate is shut, until it opens or ctx
// ends.
func (g *gate) pass(ctx context.Context) {
	g.mu.Lock()
	if !g.closed {
		g.mu.Unlock()
		return
	}
	release, entered := g.release, g.entered
	g.mu.Unlock()
	entered <- struct{}{}
	select {
	case <-release:
	case <-ctx.Done():
	}
}

// arrived waits until n callers reached the shut gate.
func (g *gate) arrived(t *testing.T, n int) {
	t.Helper()
	g.mu.Lock()
	entered := g.entered
	g.mu.Unlock()
	for range n {
		select {
		case <-entered:
		case <-time.After(wait):
			t.Fatalf("fewer than %d callers reached the gate", n)
		}
	}
}

// gateProber is synth.Prober behind a gate, counting calls.
type gateProber struct {
	gate
	mu sync.Mutex
	n  int
}

func (p *gateProber) Probe(ctx context.Context, path string) (media.VideoInfo, error) {
	p.mu.Lock()
	p.n++
	p.mu.Unlock()
	p.pass(ctx)
	return synth.Prober{}.Probe(ctx, path)
}

func (p *gateProber) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// gateOpener is synth.Opener behind a gate, counting opens. It is a
// decoder.ContextOpener whose gate also opens when the decoder's ctx ends,
// and the open then succeeds: an open that completes just as the decoder
// is stopped.
type gateOpener struct {
	gate
	mu sync.Mutex
	n  int
}

func (o *gateOpener) Open(path string) (decoder.Source, error) {
	return o.OpenContext(context.Background(), path)
}

func (o *gateOpener) OpenContext(ctx context.Context, path string) (decoder.Source, error) {
	o.pass(ctx)
	o.mu.Lock()
	o.n++
	o.mu.Unlock()
	return synth.Opener{}.Open(path)
}

func (o *gateOpener) opens() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n
}

// forgetLog is a Forgetter that records the cameras it was told of.
type forgetLog struct {
	mu  sync.Mutex
	ids []media.CameraID
}

func (f *forgetLog) ForgetCamera(_ context.Context, id media.CameraID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids = append(f.ids, id)
	return nil
}

func (f *forgetLog) calls() []media.CameraID {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]media.CameraID(nil), f.ids...)
}

func wantKind(t *testing.T, err error, k media.Kind) {
	t.Helper()
	if !media.IsKind(err, k) {
		t.Fatalf("err = %v, want kind %v", err, k)
	}
}

// events collects the manager's events for one camera.
func (h *harness) events() func() []Event {
	ch, stop := h.m.Subscribe()
	h.t.Cleanup(stop)
	var mu sync.Mutex
	var got []Event
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			mu.Lock()
			got = append(got, ev)
			mu.Unlock()
		}
	}()
	h.t.Cleanup(func() {
		stop()
		<-done
	})
	return func() []Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]Event(nil), got...)
	}
}

// eventually polls cond every 10ms until it holds or wait passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(wait)
	for !cond() {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
