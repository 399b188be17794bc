package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// Renditions (issue 15): what the grid rendition costs and saves.
//
// Micro (package opencv, BenchmarkRenditions720p): CPU time per 1280x720
// frame for grab + decode + encode at full size, and at full size plus
// the grid rendition (480 px wide) from the same decode.
//
// Micro (package opencv, BenchmarkScaleJPEG720p): CPU time per grid frame
// of a 720p camera JPEG, reduced decode (ScaleJPEG) vs full decode.
//
// Scenario "renditions": --rendition-cameras cameras (default 16), first
// HTTP MJPEG cameras (720p30 from a fake camera), then file cameras
// playing the input (--rendition-sources); one WebSocket viewer per camera
// watches all of them in the grid rendition, then in full, for
// --rendition-rounds side-by-side rounds: bytes per second reaching the
// "page" (all viewers together), delivered fps and server CPU, grid vs
// full.

// gridEvery is how many full frames a 30 fps camera sends per grid frame
// at the default --grid-fps 10.
const gridEvery = 3

// renditionTargets adds the per-frame cost of the grid rendition next to
// full, from the OpenCV micro-benchmark's CPU time per frame.
func renditionTargets(micros []microResult, add func(name, goal string, v float64, unit string, met func(float64) bool, measured bool), le func(float64) func(float64) bool, info func()) {
	cpu := func(name string) float64 {
		for _, m := range micros {
			if m.Name == name {
				if v, ok := m.Metrics["cpu-ns/op"]; ok {
					return v
				}
			}
		}
		return math.NaN()
	}
	full, both := cpu("BenchmarkRenditions720p/full"), cpu("BenchmarkRenditions720p/full+grid")
	extra := 100 * (both - full) / full
	ok := !math.IsNaN(extra)
	add("grid rendition next to full at 720p, per full frame (grid every 3rd at 30 fps)", "<= 15% of full decode+encode", extra/gridEvery, "%", le(15), ok)
	add("grid rendition next to full at 720p, per grid frame", "(info)", extra, "%", le(math.Inf(1)), ok)
	info()
	reduced, fullDecode := cpu("BenchmarkScaleJPEG720p/reduced"), cpu("BenchmarkScaleJPEG720p/full")
	ok = !math.IsNaN(reduced) && !math.IsNaN(fullDecode)
	add("passthrough grid frame from a 720p camera JPEG: reduced decode + scale + encode", "(info)", reduced/1e6, "CPU ms", le(math.Inf(1)), ok)
	info()
	add("the same with a full decode, vs the reduced one", "(info: > 1)", fullDecode/nonZero(reduced), "x reduced", le(math.Inf(1)), ok)
	info()
}

// Rendition sources: the 16-camera case runs on HTTP MJPEG cameras (full
// is passthrough, so it really is 30 fps; the grid is the scaler
// children's reduced decode) and on file cameras (every camera decodes
// its file; on a machine that cannot decode them all at 30 fps both
// renditions fall below their rates, which the rows' fps show).
const (
	renditionMJPEG = "mjpeg"
	renditionFile  = "file"
)

// renditions runs the renditions scenario: the MJPEG case, then the file
// case, as --rendition-sources selects.
func (b *bench) renditions(ctx context.Context) error {
	if b.o.renditionSources[renditionMJPEG] {
		if err := b.renditionsMJPEG(ctx); err != nil {
			return err
		}
	}
	if b.o.renditionSources[renditionFile] {
		return b.renditionsFile(ctx)
	}
	return nil
}

// renditionsMJPEG runs the rounds on --rendition-cameras HTTP MJPEG
// cameras, all streaming from one fake camera process. It loops one
// second of pictures, each encoded once, so that it costs only its
// sending and can feed every camera 30 frames a second on a small machine
// (its CPU is measured apart).
func (b *bench) renditionsMJPEG(ctx context.Context) error {
	fc, err := startFakeCamera(b.o.serverBin, b.prefix+"-rendcam.log", liveFPS, 1280, 720, b.o.liveQ, liveFPS)
	if err != nil {
		return err
	}
	defer fc.stop()
	b.sidePid = fc.pid
	defer func() { b.sidePid = 0 }()
	var ids []string
	defer func() {
		for _, id := range ids {
			if err := b.srv.deleteCamera(id); err != nil {
				b.logf("  warning: delete %s: %v", id, err)
			}
		}
		b.waitNoViewers()
	}()
	for k := 1; k <= b.o.renditionCameras; k++ {
		id := fmt.Sprintf("rend-mjpeg-%d", k)
		if err := b.addLive(ctx, id, fmt.Sprintf("%s/mjpeg?cam=%d", fc.base, k), "mjpeg"); err != nil {
			return err
		}
		ids = append(ids, id)
	}
	saved := b.sourceFPS
	b.sourceFPS = liveFPS
	defer func() { b.sourceFPS = saved }()
	return b.renditionRounds(ctx, "renditions mjpeg", ids,
		fmt.Sprintf("HTTP MJPEG 1280x720 at %d fps, quality %d, from one fake camera looping 1 s of pictures (not in server cores)", liveFPS, b.o.liveQ))
}

// renditionsFile runs the rounds on --rendition-cameras file cameras
// playing the input (the main camera and copies).
func (b *bench) renditionsFile(ctx context.Context) error {
	ids := []string{mainCamera}
	defer func() {
		for _, id := range ids[1:] {
			if err := b.srv.deleteCamera(id); err != nil {
				b.logf("  warning: delete %s: %v", id, err)
			}
		}
		b.waitNoViewers()
	}()
	for k := 2; k <= b.o.renditionCameras; k++ {
		id := fmt.Sprintf("rend-%d", k)
		if _, err := b.srv.upload(id, b.input); err != nil {
			return err
		}
		ids = append(ids, id)
	}
	return b.renditionRounds(ctx, "renditions file", ids, "file cameras playing the input")
}

// renditionRounds has one WebSocket viewer per camera of ids watch the
// grid rendition, then the full one, --rendition-rounds times, and adds
// a row per rendition and round (scenario "NAME: grid", "NAME: full").
func (b *bench) renditionRounds(ctx context.Context, name string, ids []string, notes string) error {
	n := len(ids)
	for round := 1; round <= b.o.renditionRounds; round++ {
		for _, rend := range []string{"grid", "full"} {
			cfgs := make([]viewerConfig, 0, n)
			for _, id := range ids {
				cfgs = append(cfgs, viewerConfig{transport: transportWS, host: b.srv.host, camera: id, rendition: rend, expect: b.expect(b.o.window)})
			}
			g := b.startGroup(cfgs)
			if bad := g.waitFirst(ctx, 30*time.Second); bad > 0 {
				b.logf("  warning: %d %s viewers got no frame", bad, rend)
			}
			if err := sleepCtx(ctx, b.o.warmup+time.Second); err != nil {
				g.closeAll()
				return err
			}
			w, err := b.measure(ctx, b.o.window)
			if err != nil {
				g.closeAll()
				return err
			}
			r := result{Scenario: name + ": " + rend, Transport: string(transportWS), Viewers: n, Cameras: n, SourceFPS: b.sourceFPS}
			analysis{winStart: w.start, winEnd: w.end}.fill(&r, g.vs)
			b.fillWindow(&r, w, ids...)
			r.Notes = fmt.Sprintf("round %d; %d cameras, one %s viewer each; %s", round, n, rend, notes)
			if r.FakeCamCores > 0 {
				r.Notes += fmt.Sprintf("; fake camera %.3f cores", r.FakeCamCores)
			}
			b.add(r)
			g.closeAll()
			b.waitNoViewers()
		}
	}
	return nil
}

// renditionScenarioTargets compares grid and full bytes per second of the
// renditions scenario (each round's pair side by side; the worst round),
// for each source kind run: the MJPEG cameras carry the target, the file
// cameras are reported with the fps both renditions delivered.
func (b *bench) renditionScenarioTargets(add func(name, goal string, v float64, unit string, met func(float64) bool, measured bool), le func(float64) func(float64) bool, info func()) {
	for _, src := range []string{renditionMJPEG, renditionFile} {
		var grid, full []result
		for _, r := range b.results {
			switch r.Scenario {
			case "renditions " + src + ": grid":
				grid = append(grid, r)
			case "renditions " + src + ": full":
				full = append(full, r)
			}
		}
		if len(grid) == 0 && !b.o.renditionSources[src] {
			continue
		}
		var ratios, cpu, gridFPS, fullFPS []float64
		for i := range min(len(grid), len(full)) {
			ratios = append(ratios, grid[i].BytesPerSec/nonZero(full[i].BytesPerSec))
			cpu = append(cpu, grid[i].ServerCores/nonZero(full[i].ServerCores))
			gridFPS, fullFPS = append(gridFPS, grid[i].FPSMedian), append(fullFPS, full[i].FPSMedian)
		}
		worst, worstCPU := math.NaN(), math.NaN()
		if len(ratios) > 0 {
			worst, worstCPU = slices.Max(ratios), slices.Max(cpu)
		}
		what := fmt.Sprintf("%d %s cameras in a grid (720p30)", b.o.renditionCameras, map[string]string{renditionMJPEG: "HTTP MJPEG", renditionFile: "file"}[src])
		ok := len(ratios) > 0
		if src == renditionMJPEG {
			add(what+": bytes/s to the page, grid vs full (worst round)", "<= 1/10 (0.10)", worst, "x full", le(0.1), ok)
		} else {
			add(what+": bytes/s to the page, grid vs full (worst round)", "(info: see fps)", worst, "x full", le(0.1), ok)
			info()
		}
		add(what+": server CPU, grid vs full (worst round)", "(info)", worstCPU, "x full", le(math.Inf(1)), ok)
		info()
		if ok {
			add(what+": delivered fps per viewer, grid (lowest round median)", "(info: <= grid fps)", slices.Min(gridFPS), "fps", le(math.Inf(1)), true)
			info()
			add(what+": delivered fps per viewer, full (lowest round median)", "(info: 30 if the machine keeps up)", slices.Min(fullFPS), "fps", le(math.Inf(1)), true)
			info()
		}
	}
}
