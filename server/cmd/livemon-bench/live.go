package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The live scenario (issue 14): an HTTP MJPEG camera served by
// `livemon fake-camera` at 720p30 and passed through by the server,
// unwatched, with 1 and with 200 WebSocket viewers, and the first frame an
// unwatched camera's first viewer gets, for the MJPEG and the snapshot
// kind. It runs before the upload, so the server holds no file camera.

const (
	liveMJPEG    = "live-mjpeg"
	liveSnapshot = "live-snapshot"
	liveFPS      = 30
	// liveTopViewers is the fan-out of the live camera (1 and this).
	liveTopViewers = 200
)

// fakeCamera is a `livemon fake-camera` process.
type fakeCamera struct {
	base string // http://127.0.0.1:port
	cmd  *exec.Cmd
	pid  int
	done chan error // the reader goroutine sends cmd.Wait's result

	stopOnce sync.Once
}

// parseListenLine returns the base URL in the fake camera's first line,
// "fake-camera listening on http://ADDR".
func parseListenLine(line string) (string, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "fake-camera listening on ")
	if !ok || !strings.HasPrefix(rest, "http://") || strings.ContainsAny(rest, " \t") || len(rest) == len("http://") {
		return "", false
	}
	return rest, true
}

// startFakeCamera starts bin fake-camera on a free loopback port and waits
// up to 10 s for its listen line; its output goes to logPath. loop > 0
// repeats that many pictures, each encoded once (fake-camera --loop).
func startFakeCamera(bin, logPath string, fps float64, width, height, quality, loop int) (*fakeCamera, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	// No RTSP side: its clip encoding would cost CPU in the windows (the
	// rtsp scenario runs its own, in this process).
	cmd := exec.Command(bin, "fake-camera", "--addr", "127.0.0.1:0", "--rtsp-addr", "",
		"--fps", strconv.FormatFloat(fps, 'g', -1, 64), "--width", strconv.Itoa(width), "--height", strconv.Itoa(height),
		"--quality", strconv.Itoa(quality), "--loop", strconv.Itoa(loop))
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start fake camera: %w", err)
	}
	f := &fakeCamera{cmd: cmd, pid: cmd.Process.Pid, done: make(chan error, 1)}
	addr := make(chan string, 1)
	// Owned by f: it ends when the process closes its stdout (stop).
	go func() {
		defer logf.Close()
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if u, ok := parseListenLine(sc.Text()); ok && !found {
				found = true
				addr <- u
			}
		}
		_, _ = io.Copy(logf, out)
		f.done <- cmd.Wait()
	}()
	select {
	case f.base = <-addr:
		return f, nil
	case err := <-f.done:
		return nil, fmt.Errorf("fake camera exited at start: %v (see %s)", err, logPath)
	case <-time.After(10 * time.Second):
		f.stop()
		return nil, fmt.Errorf("fake camera printed no address within 10s (see %s)", logPath)
	}
}

// stop sends SIGTERM and waits up to 10 s, then kills.
func (f *fakeCamera) stop() {
	f.stopOnce.Do(func() {
		_ = f.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-f.done:
		case <-time.After(10 * time.Second):
			_ = f.cmd.Process.Kill()
			<-f.done
		}
	})
}

// firstFrames is what one viewer of an unwatched camera saw after it
// subscribed: the delay to its first frame (the frame the hub kept), that
// frame's age, and the delay to the first frame published after the
// subscribe (the reconnected source's).
type firstFrames struct {
	first, fresh time.Duration // fresh < 0: none
	age          time.Duration
}

// firstFramesOf reads firstFrames from a viewer's state; base is the
// bench's monotonic origin. It reports false without a subscribe time or
// a frame.
func firstFramesOf(st viewerState, base time.Time) (firstFrames, bool) {
	if st.subscribed.IsZero() || len(st.samples) == 0 {
		return firstFrames{}, false
	}
	sub := int64(st.subscribed.Sub(base))
	subWall := st.subscribed.UnixMicro()
	s0 := st.samples[0]
	f := firstFrames{first: time.Duration(s0.mono - sub), age: time.Duration(s0.wall-s0.ts*1000) * time.Microsecond, fresh: -1}
	for _, s := range st.samples {
		// Header timestamps are Unix ms: a frame published in the
		// subscribe's millisecond counts as fresh.
		if s.ts*1000 >= subWall-subWall%1000 {
			f.fresh = time.Duration(s.mono - sub)
			break
		}
	}
	return f, true
}

// live runs the live-source rows.
func (b *bench) live(ctx context.Context) error {
	fc, err := startFakeCamera(b.o.serverBin, b.prefix+"-fakecam.log", liveFPS, 1280, 720, b.o.liveQ, 0)
	if err != nil {
		return err
	}
	defer fc.stop()
	b.sidePid = fc.pid
	defer func() { b.sidePid = 0 }()
	b.logf("  fake camera pid %d on %s (1280x720, %d fps, quality %d)", fc.pid, fc.base, liveFPS, b.o.liveQ)
	defer func() {
		for _, id := range []string{liveMJPEG, liveSnapshot} {
			_ = b.srv.deleteCamera(id) // the one not created answers 404
		}
		b.waitNoViewers()
	}()
	if err := b.addLive(ctx, liveMJPEG, fc.base+"/mjpeg", "mjpeg"); err != nil {
		return err
	}
	saved := b.sourceFPS
	b.sourceFPS = liveFPS
	defer func() { b.sourceFPS = saved }()

	// Unwatched: after a viewer came and went and the linger passed.
	if err := b.leaveUnwatched(ctx, liveMJPEG); err != nil {
		return err
	}
	w, err := b.measure(ctx, b.o.window)
	if err != nil {
		return err
	}
	r := result{Scenario: "live mjpeg: unwatched", Cameras: 1, SourceFPS: liveFPS, LatP50: -1, LatP99: -1, TTFFP50: -1, TTFFP99: -1, FPSMin: -1, FPSMedian: -1, GapP50: -1, GapP99: -1, GapMax: -1, TTFFMax: -1}
	b.fillWindow(&r, w, liveMJPEG)
	r.Notes = fmt.Sprintf("HTTP MJPEG passthrough 1280x720 at %d fps from the fake camera, measured from %v after the last viewer left (linger %v); frames published in the window: %d (one-frame refreshes every 10 s); the fake camera used %.3f cores (not in server cores)",
		liveFPS, b.o.linger+time.Second, b.o.linger, r.Published, r.FakeCamCores)
	b.add(r)

	// Viewers: per-viewer cost as for files.
	var xs, ys, ks, gs []float64
	for _, n := range []int{1, liveTopViewers} {
		cfgs := make([]viewerConfig, n)
		for i := range cfgs {
			cfgs[i] = viewerConfig{transport: transportWS, host: b.srv.host, camera: liveMJPEG, expect: b.expect(b.o.window)}
		}
		r, err := b.watchConfigs(ctx, "live mjpeg", transportWS, cfgs, b.o.window, false)
		if err != nil {
			return err
		}
		r.Notes = fmt.Sprintf("fake camera quality %d, %.3f cores (not in server cores)", b.o.liveQ, r.FakeCamCores)
		b.add(r)
		xs, ys = append(xs, float64(n)), append(ys, r.ServerCores)
		ks, gs = append(ks, r.ServerSysCores), append(gs, r.LoadGenCores)
	}
	s := newSlope(b.run, "live mjpeg ws", xs, ys, ks, gs)
	b.slopes = append(b.slopes, s)
	b.emitJSON(s)
	b.logf("  live mjpeg: %.2f millicores per added viewer (1 to %d)", s.TwoPointMC, liveTopViewers)

	// First frame of the first viewer of an unwatched camera, each kind.
	if err := b.liveFirstFrames(ctx, liveMJPEG, "mjpeg"); err != nil {
		return err
	}
	if err := b.addLive(ctx, liveSnapshot, fc.base+"/snapshot.jpg", "snapshot"); err != nil {
		return err
	}
	return b.liveFirstFrames(ctx, liveSnapshot, "snapshot")
}

// addLive creates camera id on url and waits until it runs as kind.
func (b *bench) addLive(ctx context.Context, id, url, kind string) error {
	if err := b.srv.createLiveCamera(id, url); err != nil {
		return err
	}
	st, err := b.srv.waitUntil(15*time.Second, func(st stats) bool {
		c, ok := st.camera(id)
		return ok && c.State == "running" && c.Source.Kind == kind && c.Published > 0
	})
	if err != nil {
		c, _ := st.camera(id)
		return fmt.Errorf("live camera %s not running as %s (state %q, kind %q): %w", id, kind, c.State, c.Source.Kind, err)
	}
	return ctx.Err()
}

// leaveUnwatched has one viewer watch camera id for a second, then waits
// until the server has released it and the linger has passed (plus 1 s).
func (b *bench) leaveUnwatched(ctx context.Context, id string) error {
	g := b.startGroup([]viewerConfig{{transport: transportWS, host: b.srv.host, camera: id, expect: 64}})
	if bad := g.waitFirst(ctx, 10*time.Second); bad > 0 {
		g.closeAll()
		return fmt.Errorf("viewer of %s got no frame: %v", id, g.vs[0].snapshot().err)
	}
	err := sleepCtx(ctx, time.Second)
	g.closeAll()
	if err != nil {
		return err
	}
	b.waitNoViewers()
	return sleepCtx(ctx, b.o.linger+time.Second)
}

// liveFirstFrames runs --live-tries single viewers on the unwatched
// camera id, one after the other, and adds a row.
func (b *bench) liveFirstFrames(ctx context.Context, id, kind string) error {
	var first, fresh, age []float64
	errs, noFresh := 0, 0
	for try := 0; try < b.o.liveTries; try++ {
		if err := b.leaveUnwatched(ctx, id); err != nil {
			return err
		}
		g := b.startGroup([]viewerConfig{{transport: transportWS, host: b.srv.host, camera: id, expect: 256}})
		g.waitFirst(ctx, 10*time.Second)
		// The fresh frame may come after the kept one: wait up to 5 s.
		st := g.vs[0].snapshot()
		deadline := time.NewTimer(5 * time.Second)
		tick := time.NewTicker(10 * time.Millisecond)
		for done := false; !done; {
			if f, ok := firstFramesOf(st, b.base); ok && f.fresh >= 0 {
				break
			}
			select {
			case <-tick.C:
				st = g.vs[0].snapshot()
			case <-deadline.C:
				done = true
			case <-ctx.Done():
				done = true
			}
		}
		deadline.Stop()
		tick.Stop()
		g.closeAll()
		if err := ctx.Err(); err != nil {
			return err
		}
		f, ok := firstFramesOf(st, b.base)
		if !ok {
			errs++
			b.logf("  try %d: no frame: %v", try+1, st.err)
			continue
		}
		first = append(first, ms(f.first))
		age = append(age, ms(f.age))
		if f.fresh >= 0 {
			fresh = append(fresh, ms(f.fresh))
		} else {
			noFresh++
		}
	}
	r := result{Scenario: "live " + kind + ": first frame", Transport: string(transportWS), Viewers: 1, Cameras: 1, SourceFPS: liveFPS,
		LatP50: -1, LatP99: -1, FPSMin: -1, FPSMedian: -1, GapP50: -1, GapP99: -1, GapMax: -1, PublishedFPS: -1, Errors: errs,
		// Tries, not a window: no CPU or memory figures.
		ServerCores: -1, ServerSysCores: -1, ServerOwnCores: -1, ServerPeakMB: -1, LoadGenCores: -1, OtherCores: -1}
	r.TTFFP50, r.TTFFP99, r.TTFFMax = round(quantile(first, 0.5), 1), round(quantile(first, 0.99), 1), round(maxOf(first), 1)
	r.Load1 = loadAvg()
	r.Extra = map[string]string{
		"kind":             kind,
		"tries":            fmt.Sprint(b.o.liveTries),
		"first_ms":         joinMs(first),
		"fresh_ms":         joinMs(fresh),
		"first_age_ms":     joinMs(age),
		"fresh_p50_ms":     fmt.Sprintf("%.1f", quantile(fresh, 0.5)),
		"fresh_max_ms":     fmt.Sprintf("%.1f", maxOf(fresh)),
		"first_age_p50_ms": fmt.Sprintf("%.0f", quantile(age, 0.5)),
		"tries_no_fresh":   fmt.Sprint(noFresh),
	}
	r.Notes = fmt.Sprintf("%d tries, each after the camera was left unwatched for linger + 1 s; TTFF = WebSocket subscribe sent to the first frame, whose age at receipt (server timestamp to receipt) was p50 %.0f ms (an age of a few ms means it was published after the subscribe, not kept from before); the first frame published after the subscribe came after p50 %.1f ms, max %.1f ms (none within 5 s: %d tries)",
		b.o.liveTries, quantile(age, 0.5), quantile(fresh, 0.5), maxOf(fresh), noFresh)
	b.add(r)
	b.waitNoViewers()
	if errs == b.o.liveTries {
		return errors.New("no try got a frame")
	}
	return nil
}

func joinMs(xs []float64) string { return joinFixed(xs, 1) }

// joinFixed writes xs with prec decimals, separated by spaces.
func joinFixed(xs []float64, prec int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'f', prec, 64)
	}
	return strings.Join(parts, " ")
}

// liveTargets adds issue 14's goals for the live scenario.
func (b *bench) liveTargets(add func(name, goal string, v float64, unit string, met func(float64) bool, measured bool), le func(float64) func(float64) bool, info func()) {
	r, ok := b.find("live mjpeg: unwatched", "", 0)
	add("live MJPEG 720p30 camera, unwatched (whole server)", "<= 0.02 cores", r.ServerCores, "cores", le(0.02), ok)
	var s *fanoutSlope
	for i := range b.slopes {
		if b.slopes[i].Transport == "live mjpeg ws" {
			s = &b.slopes[i]
		}
	}
	v := math.NaN()
	if s != nil {
		v = s.TwoPointMC
	}
	add("live MJPEG: cost per added viewer, ws", "<= 1.5 millicores", v, "millicores", le(1.5), s != nil)
	for _, kind := range []string{"mjpeg", "snapshot"} {
		r, ok := b.find("live "+kind+": first frame", string(transportWS), 1)
		name := fmt.Sprintf("live %s: first viewer of an unwatched camera, subscribe to first frame (max of %d)", kind, b.o.liveTries)
		fresh := math.NaN()
		if ok {
			if f, err := strconv.ParseFloat(r.Extra["fresh_max_ms"], 64); err == nil {
				fresh = f
			}
		}
		freshName := fmt.Sprintf("live %s: subscribe to the first frame published after it (max of %d)", kind, b.o.liveTries)
		if kind == "mjpeg" {
			add(name, "<= 300 ms", r.TTFFMax, "ms", le(300), ok)
			add(freshName, "<= 300 ms", fresh, "ms", le(300), ok)
			continue
		}
		add(name, "(reported)", r.TTFFMax, "ms", le(300), ok)
		info()
		add(freshName, "(reported)", fresh, "ms", le(300), ok)
		info()
	}
}
