package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"
)

// mainCamera is the camera every scenario but "cameras" watches.
const mainCamera = "bench"

// bench runs scenarios against one server.
type bench struct {
	o        options
	srv      *server
	base     time.Time // samples' monotonic origin
	run      string
	prefix   string // results path without extension
	input    string
	deadline time.Time
	logf     func(string, ...any)
	jsonl    func(any) // writes one JSON line

	sourceFPS float64
	external  bool // a server the bench did not start: others may watch it
	// sidePid, if > 0, is a process whose CPU windows record apart from
	// the server's (the fake camera of the live scenario).
	sidePid int
	results []result
	slopes  []fanoutSlope
	iso     *isolationSummary
	// clusterSum is the cluster scenario's summary (cluster.go).
	clusterSum *clusterSummary
}

// group is a set of viewers started together.
type group struct {
	vs    []*viewer
	first chan *viewer // capacity len(vs): a viewer reports here once
}

// startGroup starts one viewer per config at once.
func (b *bench) startGroup(cfgs []viewerConfig) *group {
	g := &group{first: make(chan *viewer, len(cfgs))}
	for _, c := range cfgs {
		v := newViewer(c, b.base)
		g.vs = append(g.vs, v)
	}
	for _, v := range g.vs {
		v.start(g.first)
	}
	return g
}

// waitFirst waits until every viewer has its first frame (or failed) or
// d passes; it returns how many failed or timed out.
func (g *group) waitFirst(ctx context.Context, d time.Duration) int {
	t := time.NewTimer(d)
	defer t.Stop()
	for n := 0; n < len(g.vs); n++ {
		select {
		case <-g.first:
		case <-t.C:
			return len(g.vs) - n
		case <-ctx.Done():
			return len(g.vs) - n
		}
	}
	bad := 0
	for _, v := range g.vs {
		if v.snapshot().firstFrame == 0 {
			bad++
		}
	}
	return bad
}

// closeAll ends every viewer and waits up to 5 s for their goroutines.
func (g *group) closeAll() {
	for _, v := range g.vs {
		v.close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, v := range g.vs {
		v.wait(max(time.Until(deadline), time.Millisecond))
	}
}

func (b *bench) mono() int64 { return int64(time.Since(b.base)) }

// window is one measurement interval with its server-side counters.
type window struct {
	start, end int64 // monotonic, ns since base
	cpu        cpuUse
	peakKB     int64 // server
	childKB    int64 // sum over the server's live descendants
	children   int   // live descendants at the end
	peakReset  bool
	side       float64 // cores of bench.sidePid, if set
	st0, st1   stats
	load1      float64
}

// measure sleeps for d while recording CPU, peak RSS and server counters.
func (b *bench) measure(ctx context.Context, d time.Duration) (window, error) {
	w := window{load1: loadAvg()}
	w.st0, _ = b.srv.stats()
	w.peakReset = resetPeakRSS(b.srv.pid)
	var s0 cpuSnap
	if b.sidePid > 0 {
		s0 = snapCPU(b.sidePid)
	}
	c0 := snapCPU(b.srv.pid)
	w.start = b.mono()
	if err := sleepCtx(ctx, d); err != nil {
		return w, err
	}
	w.end = b.mono()
	c1 := snapCPU(b.srv.pid)
	w.cpu = cpuBetween(c0, c1)
	if b.sidePid > 0 {
		w.side = cpuBetween(s0, snapCPU(b.sidePid)).Server
		w.cpu.Other = max(w.cpu.Other-w.side, 0)
	}
	w.children = c1.children
	w.peakKB, w.childKB = peakRSS(b.srv.pid)
	w.st1, _ = b.srv.stats()
	return w, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fillWindow copies a window's process figures into r; cams are the
// cameras whose counters count.
func (b *bench) fillWindow(r *result, w window, cams ...string) {
	r.ServerCores = round(w.cpu.Server, 3)
	r.ServerSysCores = round(w.cpu.ServerSys, 3)
	r.ServerOwnCores = round(w.cpu.ServerOwn, 3)
	r.LoadGenCores = round(w.cpu.LoadGen, 3)
	r.OtherCores = round(w.cpu.Other, 3)
	r.FakeCamCores = round(w.side, 3)
	r.ServerPeakMB = round(float64(w.peakKB+w.childKB)/1024, 1)
	r.ChildrenPeakMB = round(float64(w.childKB)/1024, 1)
	r.Children = w.children
	r.PeakIsRun = !w.peakReset
	r.Load1 = w.load1
	if r.WindowS == 0 {
		r.WindowS = round(float64(w.end-w.start)/1e9, 2)
	}
	for _, id := range cams {
		a, _ := w.st0.camera(id)
		z, _ := w.st1.camera(id)
		r.Published += z.Published - a.Published
		r.Encoded += z.Encoded - a.Encoded
		for t, n := range z.Drops {
			r.Drops += n - a.Drops[t]
		}
	}
	if len(cams) > 0 && w.end > w.start {
		r.PublishedFPS = round(float64(r.Published)/float64(len(cams))/(float64(w.end-w.start)/1e9), 2)
	}
}

// expect is how many samples a viewer should preallocate for a window.
func (b *bench) expect(d time.Duration) int {
	fps := b.sourceFPS
	if fps <= 0 {
		fps = 30
	}
	return int(fps*(d+b.o.warmup+5*time.Second).Seconds()*1.2) + 16
}

// waitNoViewers waits until the server has released every viewer.
func (b *bench) waitNoViewers() {
	if b.external {
		return
	}
	b.waitReleased(b.srv)
}

// waitReleased waits until s has released every viewer.
func (b *bench) waitReleased(s *server) {
	if _, err := s.waitUntil(10*time.Second, func(st stats) bool {
		return st.viewers() == 0 && st.Server.WSConnections == 0
	}); err != nil {
		b.logf("warning: server still has viewers: %v", err)
	}
}

func (b *bench) add(r result) {
	r.Kind, r.Run = "scenario", b.run
	b.results = append(b.results, r)
	b.jsonl(r)
	lat := "-"
	if r.LatP99 >= 0 {
		lat = fmt.Sprintf("%.1f", r.LatP99)
	}
	b.logf("  %-8s %-5s n=%-3d fps min/med %.1f/%.1f gap p99 %.1fms lat p99 %sms ttff p99 %.1fms server %.3f cores, loadgen %.3f, other %.2f, %.1f MB/s, errors %d",
		r.Scenario, r.Transport, r.Viewers, r.FPSMin, r.FPSMedian, r.GapP99, lat, r.TTFFP99, r.ServerCores, r.LoadGenCores, r.OtherCores, r.BytesPerSec/1e6, r.Errors)
}

func (b *bench) runAll(ctx context.Context) error {
	o := b.o
	if o.scenarios["idle"] || o.scenarios["live"] || o.scenarios["rtsp"] {
		if err := b.idleBaseline(ctx); err != nil {
			return err
		}
	}
	if o.scenarios["live"] {
		// Before the upload: the server holds no other camera.
		b.logf("scenario live")
		if err := b.live(ctx); err != nil {
			return fmt.Errorf("scenario live: %w", err)
		}
	}
	if o.scenarios["rtsp"] {
		b.logf("scenario rtsp")
		if err := b.rtsp(ctx); err != nil {
			return fmt.Errorf("scenario rtsp: %w", err)
		}
	}
	if !o.needsUpload() {
		return nil
	}
	b.logf("uploading %s as camera %q", b.input, mainCamera)
	p, err := b.srv.upload(mainCamera, b.input)
	if err != nil {
		return err
	}
	b.sourceFPS = p.FPS
	b.logf("  %dx%d, %.3g fps, %d frames", p.Width, p.Height, p.FPS, p.Frames)
	if _, err := b.srv.waitUntil(30*time.Second, func(st stats) bool {
		c, ok := st.camera(mainCamera)
		return ok && c.State == "running"
	}); err != nil {
		return fmt.Errorf("camera not running: %w", err)
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"idle", b.idle},
		{"isolation", b.isolation},
		{"fanout", b.fanout},
		{"slow", b.slow},
		{"flow", b.flow},
		{"resume", b.resume},
		{"cameras", b.cameras},
		{"renditions", b.renditions},
		{"cluster", b.cluster},
	}
	for _, s := range steps {
		if !o.scenarios[s.name] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		b.logf("scenario %s", s.name)
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("scenario %s: %w", s.name, err)
		}
	}
	return nil
}

// viewersOf returns n configs for the main camera.
func (b *bench) viewersOf(t transport, n int, d time.Duration) []viewerConfig {
	cfgs := make([]viewerConfig, n)
	for i := range cfgs {
		cfgs[i] = viewerConfig{transport: t, host: b.srv.host, camera: mainCamera, expect: b.expect(d)}
	}
	return cfgs
}

// watch runs n viewers on the main camera for one window and returns the
// result. With stall, every tenth viewer stops reading after 15 frames.
func (b *bench) watch(ctx context.Context, scenario string, t transport, n int, d time.Duration, stall bool) (result, error) {
	return b.watchConfigs(ctx, scenario, t, b.viewersOf(t, n, d), d, stall)
}

func (b *bench) watchConfigs(ctx context.Context, scenario string, t transport, cfgs []viewerConfig, d time.Duration, stall bool) (result, error) {
	cam := cfgs[0].camera
	r := result{Scenario: scenario, Transport: string(t), Viewers: len(cfgs), Cameras: 1, SourceFPS: b.sourceFPS}
	if stall {
		for i := range cfgs {
			if i%10 == 9 {
				cfgs[i].stallAfter = 15
				r.Stalled++
			}
		}
	}
	var ref *group
	var clock *seqClock
	if t == transportMJPEG {
		// A WebSocket viewer whose header timestamps give MJPEG latency.
		clock = newSeqClock()
		ref = b.startGroup([]viewerConfig{{transport: transportWS, host: cfgs[0].host, camera: cam, expect: b.expect(d), seqTimes: clock}})
		if bad := ref.waitFirst(ctx, 10*time.Second); bad > 0 {
			ref.closeAll()
			return r, fmt.Errorf("reference viewer got no frame: %v", ref.vs[0].snapshot().err)
		}
		r.Notes = "MJPEG latency via a reference WebSocket viewer (not counted)"
	}
	g := b.startGroup(cfgs)
	if bad := g.waitFirst(ctx, 20*time.Second); bad > 0 {
		b.logf("  warning: %d of %d viewers got no first frame", bad, len(cfgs))
	}
	err := sleepCtx(ctx, b.o.warmup)
	var w window
	if err == nil {
		w, err = b.measure(ctx, d)
	}
	g.closeAll()
	if ref != nil {
		ref.closeAll()
	}
	if err != nil {
		return r, err
	}
	analysis{winStart: w.start, winEnd: w.end, clock: clock}.fill(&r, g.vs)
	b.fillWindow(&r, w, cam)
	b.waitNoViewers()
	return r, nil
}

// idleBaseline measures the server with no camera at all.
func (b *bench) idleBaseline(ctx context.Context) error {
	b.logf("scenario idle: server without cameras")
	if err := sleepCtx(ctx, time.Second); err != nil {
		return err
	}
	w, err := b.measure(ctx, min(b.o.window, 5*time.Second))
	if err != nil {
		return err
	}
	r := result{Scenario: "idle: no camera", LatP50: -1, LatP99: -1, TTFFP50: -1, TTFFP99: -1, FPSMin: -1, FPSMedian: -1, GapP50: -1, GapP99: -1, GapMax: -1, TTFFMax: -1}
	b.fillWindow(&r, w)
	b.add(r)
	return nil
}

// idle: a running camera nobody watches (after its last viewer left and
// the linger passed), then the same camera with one viewer.
func (b *bench) idle(ctx context.Context) error {
	// Make the camera run and encode, then leave.
	g := b.startGroup(b.viewersOf(transportWS, 1, time.Second))
	g.waitFirst(ctx, 10*time.Second)
	_ = sleepCtx(ctx, time.Second)
	g.closeAll()
	b.waitNoViewers()
	if err := sleepCtx(ctx, b.o.linger+time.Second); err != nil {
		return err
	}
	w, err := b.measure(ctx, b.o.window)
	if err != nil {
		return err
	}
	r := result{Scenario: "idle: unwatched", Cameras: 1, SourceFPS: b.sourceFPS, LatP50: -1, LatP99: -1, TTFFP50: -1, TTFFP99: -1, FPSMin: -1, FPSMedian: -1, GapP50: -1, GapP99: -1, GapMax: -1, TTFFMax: -1}
	b.fillWindow(&r, w, mainCamera)
	r.Notes = fmt.Sprintf("measured from %v after the last viewer left (linger %v); frames published in the window: %d, encoded: %d", b.o.linger+time.Second, b.o.linger, r.Published, r.Encoded)
	b.add(r)

	r, err = b.watch(ctx, "idle: 1 viewer", transportWS, 1, b.o.window, false)
	if err != nil {
		return err
	}
	b.add(r)
	return nil
}

// fanoutSlope is the CPU cost of one more viewer.
type fanoutSlope struct {
	Kind        string  `json:"kind"` // "slope"
	Run         string  `json:"run"`
	Transport   string  `json:"transport"`
	FromViewers int     `json:"from_viewers"`
	ToViewers   int     `json:"to_viewers"`
	TwoPointMC  float64 `json:"millicores_per_viewer"`
	LeastSqMC   float64 `json:"millicores_per_viewer_lsq"`
	KernelMC    float64 `json:"kernel_millicores_per_viewer"`
	LoadGenMC   float64 `json:"loadgen_millicores_per_viewer"`
}

func (b *bench) fanout(ctx context.Context) error {
	for _, t := range []transport{transportWS, transportMJPEG} {
		var rs []result
		for _, n := range b.o.fanout {
			r, err := b.watch(ctx, "fanout", t, n, b.o.duration, false)
			if err != nil {
				return err
			}
			b.add(r)
			rs = append(rs, r)
		}
		b.addSlope(string(t), rs)
	}
	return nil
}

// addSlope records the fan-out cost over rs (one result per viewer count,
// in increasing order), if there are two or more.
func (b *bench) addSlope(label string, rs []result) {
	if len(rs) < 2 {
		return
	}
	var xs, ys, ks, gs []float64
	for _, r := range rs {
		xs = append(xs, float64(r.Viewers))
		ys = append(ys, r.ServerCores)
		ks = append(ks, r.ServerSysCores)
		gs = append(gs, r.LoadGenCores)
	}
	s := newSlope(b.run, label, xs, ys, ks, gs)
	b.slopes = append(b.slopes, s)
	b.emitJSON(s)
	b.logf("  %s: %.2f millicores per added viewer (%d to %d; least squares %.2f); load generator %.2f", label, s.TwoPointMC, s.FromViewers, s.ToViewers, s.LeastSqMC, s.LoadGenMC)
}

// newSlope is the fan-out cost from viewer counts xs with server cores ys,
// their kernel part ks and the load generator's cores gs: the two-point
// slope from the first count to the last, and the least-squares one.
func newSlope(run, t string, xs, ys, ks, gs []float64) fanoutSlope {
	last := len(xs) - 1
	return fanoutSlope{Kind: "slope", Run: run, Transport: t, FromViewers: int(xs[0]), ToViewers: int(xs[last]),
		TwoPointMC: round(1000*(ys[last]-ys[0])/(xs[last]-xs[0]), 3),
		LeastSqMC:  round(1000*slope(xs, ys), 3),
		KernelMC:   round(1000*(ks[last]-ks[0])/(xs[last]-xs[0]), 3),
		LoadGenMC:  round(1000*(gs[last]-gs[0])/(xs[last]-xs[0]), 3)}
}

func (b *bench) emitJSON(v any) { b.jsonl(v) }

func printSlopes(w io.Writer, ss []fanoutSlope) {
	if len(ss) == 0 {
		return
	}
	fmt.Fprintln(w, "| fan-out cost | millicores per added viewer (server) | of which kernel | least squares over all counts | load generator |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, s := range ss {
		fmt.Fprintf(w, "| %s, %d to %d viewers | %.2f | %.2f | %.2f | %.2f |\n", s.Transport, s.FromViewers, s.ToViewers, s.TwoPointMC, s.KernelMC, s.LeastSqMC, s.LoadGenMC)
	}
}

// slow: 10% of viewers stop reading; the others' figures are compared with
// the fan-out run of the same size.
func (b *bench) slow(ctx context.Context) error {
	for _, t := range []transport{transportWS, transportMJPEG} {
		r, err := b.watch(ctx, "slow", t, b.o.slowN, b.o.duration, true)
		if err != nil {
			return err
		}
		if base, ok := b.find("fanout", string(t), b.o.slowN); ok && base.FPSMedian > 0 && base.PublishedFPS > 0 && r.PublishedFPS > 0 {
			r.Notes = fmt.Sprintf("others' median fps %.1f%% of fan-out %d without stalled viewers (min %.1f%%); of the frames published, others got %.1f%% (median) here and %.1f%% without stalled viewers",
				100*r.FPSMedian/base.FPSMedian, b.o.slowN, 100*r.FPSMin/base.FPSMin,
				100*r.FPSMedian/r.PublishedFPS, 100*base.FPSMedian/base.PublishedFPS)
		}
		b.add(r)
	}
	return nil
}

func (b *bench) find(scenario, t string, viewers int) (result, bool) {
	for _, r := range b.results {
		if r.Scenario == scenario && r.Transport == t && r.Viewers == viewers {
			return r, true
		}
	}
	return result{}, false
}

// resume: N WebSocket viewers disconnect, the server lets go of them all,
// and they reconnect at once with their session ids.
func (b *bench) resume(ctx context.Context) error {
	n := b.o.resumeN
	g := b.startGroup(b.viewersOf(transportWS, n, 2*time.Second))
	if bad := g.waitFirst(ctx, 20*time.Second); bad > 0 {
		b.logf("  warning: %d of %d viewers got no first frame", bad, n)
	}
	_ = sleepCtx(ctx, time.Second)
	var all []*viewer
	r := result{Scenario: "resume", Transport: string(transportWS), Viewers: n, Cameras: 1, SourceFPS: b.sourceFPS}
	var welcome, dial []float64
	var cpu cpuUse
	var peakKB int64
	var notResumed, stale, lostSession int
	var releaseWait []float64
	for round := 0; round < b.o.rounds; round++ {
		type last struct {
			session string
			epoch   uint64
			seq     uint64
		}
		g.closeAll()
		t0 := time.Now()
		prev := make([]last, 0, len(g.vs))
		for _, v := range g.vs {
			st := v.snapshot()
			l := last{session: st.session, epoch: st.epoch}
			if len(st.samples) > 0 {
				l.seq = st.samples[len(st.samples)-1].seq
			}
			if l.session == "" {
				lostSession++
				continue
			}
			prev = append(prev, l)
		}
		if _, err := b.srv.waitUntil(10*time.Second, func(st stats) bool {
			return st.Server.WSConnections == 0 && st.Server.Sessions == 0
		}); err != nil {
			b.logf("  warning: server did not release the sessions: %v", err)
		}
		releaseWait = append(releaseWait, ms(time.Since(t0)))

		cfgs := make([]viewerConfig, len(prev))
		for i, l := range prev {
			cfgs[i] = viewerConfig{transport: transportWS, host: b.srv.host, camera: mainCamera, session: l.session, expect: b.expect(2 * time.Second)}
		}
		resetPeakRSS(b.srv.pid)
		c0 := snapCPU(b.srv.pid)
		g = b.startGroup(cfgs)
		if bad := g.waitFirst(ctx, 20*time.Second); bad > 0 {
			b.logf("  warning: round %d: %d of %d viewers got no first frame", round+1, bad, len(cfgs))
		}
		c1 := snapCPU(b.srv.pid)
		u := cpuBetween(c0, c1)
		cpu.Server += u.Server / float64(b.o.rounds)
		cpu.ServerSys += u.ServerSys / float64(b.o.rounds)
		cpu.LoadGen += u.LoadGen / float64(b.o.rounds)
		cpu.Other += u.Other / float64(b.o.rounds)
		if kb, ckb := peakRSS(b.srv.pid); kb > 0 {
			peakKB = max(peakKB, kb+ckb)
		}
		for i, v := range g.vs {
			st := v.snapshot()
			if st.welcome > 0 {
				welcome = append(welcome, ms(st.welcome))
			}
			if st.dial > 0 {
				dial = append(dial, ms(st.dial))
			}
			if !st.resumed {
				notResumed++
			}
			if st.firstFrame > 0 && (st.epoch != prev[i].epoch || st.first.seq <= prev[i].seq) {
				stale++
			}
		}
		all = append(all, g.vs...)
		_ = sleepCtx(ctx, time.Second)
	}
	g.closeAll()
	// Time to first frame and the latency of the first frames.
	var ttff, lats []float64
	for _, v := range all {
		st := v.snapshot()
		if st.err != nil {
			r.Errors++
		}
		if st.firstFrame > 0 {
			ttff = append(ttff, ms(st.firstFrame))
			lats = append(lats, float64(st.first.wall-st.first.ts*1000)/1e3)
		}
	}
	r.TTFFP50, r.TTFFP99, r.TTFFMax = round(quantile(ttff, 0.5), 1), round(quantile(ttff, 0.99), 1), round(maxOf(ttff), 1)
	r.LatP50, r.LatP99 = round(quantile(lats, 0.5), 1), round(quantile(lats, 0.99), 1)
	r.FPSMin, r.FPSMedian, r.GapP50, r.GapP99, r.GapMax, r.PublishedFPS = -1, -1, -1, -1, -1, -1
	r.ServerCores, r.ServerSysCores, r.LoadGenCores, r.OtherCores = round(cpu.Server, 3), round(cpu.ServerSys, 3), round(cpu.LoadGen, 3), round(cpu.Other, 3)
	r.ServerPeakMB = round(float64(peakKB)/1024, 1)
	r.Load1 = loadAvg()
	r.Extra = map[string]string{
		"rounds":              fmt.Sprint(b.o.rounds),
		"resumes":             fmt.Sprint(len(ttff)),
		"dial_p50_ms":         fmt.Sprintf("%.1f", quantile(dial, 0.5)),
		"dial_p99_ms":         fmt.Sprintf("%.1f", quantile(dial, 0.99)),
		"welcome_p50_ms":      fmt.Sprintf("%.1f", quantile(welcome, 0.5)),
		"welcome_p99_ms":      fmt.Sprintf("%.1f", quantile(welcome, 0.99)),
		"not_resumed":         fmt.Sprint(notResumed),
		"stale_first_frames":  fmt.Sprint(stale),
		"release_wait_max_ms": fmt.Sprintf("%.0f", maxOf(releaseWait)),
	}
	r.Notes = fmt.Sprintf("%d rounds of %d simultaneous reconnects after the server released every session (waited up to %.0f ms); TTFF = connect and upgrade (p50 %.1f, p99 %.1f ms) + hello to welcome (p50 %.1f, p99 %.1f ms) + the first frame; latency is of the first frame; CPU from reconnect to the last first frame; not resumed %d, stale first frames %d",
		b.o.rounds, n, maxOf(releaseWait), quantile(dial, 0.5), quantile(dial, 0.99), quantile(welcome, 0.5), quantile(welcome, 0.99), notResumed, stale)
	b.add(r)
	b.waitNoViewers()
	return nil
}

// cameras: add 720p30 cameras with one WebSocket viewer each until one of
// them gets less than 95% of the source fps.
func (b *bench) cameras(ctx context.Context) error {
	ids := []string{mainCamera}
	var viewers []*group
	defer func() {
		for _, g := range viewers {
			g.closeAll()
		}
		for _, id := range ids[1:] {
			if err := b.srv.deleteCamera(id); err != nil {
				b.logf("  warning: delete %s: %v", id, err)
			}
		}
		b.waitNoViewers()
	}()
	stepCost := b.o.window + b.o.warmup + 5*time.Second
	for k := 1; k <= b.o.maxCameras; k++ {
		if k > 1 && time.Until(b.deadline) < stepCost+30*time.Second {
			b.logf("  stopping at %d cameras: time budget", k-1)
			break
		}
		if k > 1 {
			id := fmt.Sprintf("bench-%d", k)
			if _, err := b.srv.upload(id, b.input); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		g := b.startGroup([]viewerConfig{{transport: transportWS, host: b.srv.host, camera: ids[k-1], expect: b.expect(time.Duration(b.o.maxCameras) * stepCost)}})
		viewers = append(viewers, g)
		if bad := g.waitFirst(ctx, 20*time.Second); bad > 0 {
			b.logf("  warning: camera %s: viewer got no frame: %v", ids[k-1], g.vs[0].snapshot().err)
		}
		if err := sleepCtx(ctx, b.o.warmup+time.Second); err != nil {
			return err
		}
		w, err := b.measure(ctx, b.o.window)
		if err != nil {
			return err
		}
		var vs []*viewer
		for _, g := range viewers {
			vs = append(vs, g.vs...)
		}
		r := result{Scenario: "cameras", Transport: string(transportWS), Viewers: k, Cameras: k, SourceFPS: b.sourceFPS}
		analysis{winStart: w.start, winEnd: w.end}.fill(&r, vs)
		b.fillWindow(&r, w, ids...)
		// TTFF of this step's new viewer only.
		if ff := g.vs[0].snapshot().firstFrame; ff > 0 {
			r.TTFFP50, r.TTFFP99, r.TTFFMax = round(ms(ff), 1), round(ms(ff), 1), round(ms(ff), 1)
		}
		ok := r.FPSMin >= 0.95*b.sourceFPS && r.Errors == 0
		r.Notes = fmt.Sprintf("every viewer >= 95%% of %.3g fps: %v", b.sourceFPS, ok)
		b.add(r)
		if !ok {
			break
		}
	}
	return nil
}

// targets compares the run with the goals of issues 8 and 9.
func (b *bench) targets(micros []microResult) []target {
	var ts []target
	add := func(name, goal string, v float64, unit string, met func(float64) bool, measured bool) {
		t := target{Name: name, Goal: goal, Value: v, Unit: unit, Measured: measured && !math.IsNaN(v)}
		t.Met = t.Measured && met(v)
		ts = append(ts, t)
	}
	le := func(lim float64) func(float64) bool { return func(v float64) bool { return v <= lim } }
	ge := func(lim float64) func(float64) bool { return func(v float64) bool { return v >= lim } }
	for _, t := range []transport{transportWS, transportMJPEG} {
		var s *fanoutSlope
		for i := range b.slopes {
			if b.slopes[i].Transport == string(t) {
				s = &b.slopes[i]
			}
		}
		v := math.NaN()
		if s != nil {
			v = s.TwoPointMC
		}
		add(fmt.Sprintf("fan-out cost per added viewer, %s", t), "<= 1.5 millicores", v, "millicores", le(1.5), s != nil)
	}
	top := 0
	for _, n := range b.o.fanout {
		top = max(top, n)
	}
	for _, t := range []transport{transportWS, transportMJPEG} {
		r, ok := b.find("fanout", string(t), top)
		add(fmt.Sprintf("%d viewers %s: median fps", top, t), ">= 99% of source", 100*r.FPSMedian/nonZero(r.SourceFPS), "% of source", ge(99), ok)
		add(fmt.Sprintf("%d viewers %s: gap p99", top, t), "<= 50 ms", r.GapP99, "ms", le(50), ok)
		if t == transportWS {
			add(fmt.Sprintf("%d viewers %s: latency p99", top, t), "<= 50 ms", r.LatP99, "ms", le(50), ok)
		}
	}
	if r, ok := b.find("idle: unwatched", "", 0); ok {
		add("unwatched running camera (whole server)", "<= 0.05 cores", r.ServerCores, "cores", le(0.05), true)
	} else {
		add("unwatched running camera (whole server)", "<= 0.05 cores", 0, "cores", le(0.05), false)
	}
	r, ok := b.find("resume", string(transportWS), b.o.resumeN)
	add(fmt.Sprintf("resume: TTFF p99 of %d simultaneous reconnects", b.o.resumeN), "<= 50 ms", r.TTFFP99, "ms", le(50), ok)
	var pub *microResult
	for i := range micros {
		if micros[i].Name == "BenchmarkPublish/1000subs" {
			pub = &micros[i]
		}
	}
	if pub != nil {
		add("hub publish to 1000 subscribers", "< 50 µs", pub.NsPerOp/1000, "µs", func(v float64) bool { return v < 50 }, true)
		add("hub publish allocations", "0 per subscriber", pub.AllocsPerOp, "allocs/op", func(v float64) bool { return v < 1 }, true)
	} else {
		add("hub publish to 1000 subscribers", "< 50 µs", 0, "µs", nil, false)
	}
	for _, t := range []transport{transportWS, transportMJPEG} {
		sr, ok1 := b.find("slow", string(t), b.o.slowN)
		base, ok2 := b.find("fanout", string(t), b.o.slowN)
		add(fmt.Sprintf("slow viewers %s: others' median fps vs none stalled", t), ">= 95%", 100*sr.FPSMedian/nonZero(base.FPSMedian), "%", ge(95), ok1 && ok2)
	}
	var maxCams int
	measured := false
	for _, r := range b.results {
		if r.Scenario == "cameras" {
			measured = true
			if r.FPSMin >= 0.95*r.SourceFPS && r.Errors == 0 {
				maxCams = max(maxCams, r.Cameras)
			}
		}
	}
	if s := b.iso; s != nil {
		add("isolation: CPU per frame added by the decode child at 720p30", "< 5%", s.OverheadPct, "%", func(v float64) bool { return v < 5 }, true)
	} else {
		add("isolation: CPU per frame added by the decode child at 720p30", "< 5%", 0, "%", nil, false)
	}
	renditionTargets(micros, add, le, func() { ts[len(ts)-1].Info = true })
	b.renditionScenarioTargets(add, le, func() { ts[len(ts)-1].Info = true })
	b.liveTargets(add, le, func() { ts[len(ts)-1].Info = true })
	b.rtspTargets(add, le)
	b.clusterTargets(add, le, func() { ts[len(ts)-1].Info = true })
	add("720p30 cameras with one viewer each at >= 95% fps", "as many as the machine allows", float64(maxCams), "cameras", func(float64) bool { return true }, measured)
	ts[len(ts)-1].Info = true
	return ts
}

func nonZero(x float64) float64 {
	if x == 0 {
		return math.NaN()
	}
	return x
}
