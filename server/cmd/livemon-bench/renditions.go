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
// Scenario "renditions": --rendition-cameras cameras (default 16) play the
// input; one WebSocket viewer per camera watches all of them in the grid
// rendition, then in full, for --rendition-rounds side-by-side rounds:
// bytes per second reaching the "page" (all viewers together) and server
// CPU, grid vs full.

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
}

// renditions runs the renditions scenario.
func (b *bench) renditions(ctx context.Context) error {
	n := b.o.renditionCameras
	ids := []string{mainCamera}
	defer func() {
		for _, id := range ids[1:] {
			if err := b.srv.deleteCamera(id); err != nil {
				b.logf("  warning: delete %s: %v", id, err)
			}
		}
		b.waitNoViewers()
	}()
	for k := 2; k <= n; k++ {
		id := fmt.Sprintf("rend-%d", k)
		if _, err := b.srv.upload(id, b.input); err != nil {
			return err
		}
		ids = append(ids, id)
	}
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
			r := result{Scenario: "renditions: " + rend, Transport: string(transportWS), Viewers: n, Cameras: n, SourceFPS: b.sourceFPS}
			analysis{winStart: w.start, winEnd: w.end}.fill(&r, g.vs)
			b.fillWindow(&r, w, ids...)
			r.Notes = fmt.Sprintf("round %d; %d cameras, one %s viewer each", round, n, rend)
			b.add(r)
			g.closeAll()
			b.waitNoViewers()
		}
	}
	return nil
}

// renditionScenarioTargets compares grid and full bytes per second of the
// renditions scenario (each round's pair side by side; the worst round).
func (b *bench) renditionScenarioTargets(add func(name, goal string, v float64, unit string, met func(float64) bool, measured bool), le func(float64) func(float64) bool) {
	var grid, full []result
	for _, r := range b.results {
		switch r.Scenario {
		case "renditions: grid":
			grid = append(grid, r)
		case "renditions: full":
			full = append(full, r)
		}
	}
	var ratios, cpu []float64
	for i := range min(len(grid), len(full)) {
		ratios = append(ratios, grid[i].BytesPerSec/nonZero(full[i].BytesPerSec))
		cpu = append(cpu, grid[i].ServerCores/nonZero(full[i].ServerCores))
	}
	worst, worstCPU := math.NaN(), math.NaN()
	if len(ratios) > 0 {
		worst, worstCPU = slices.Max(ratios), slices.Max(cpu)
	}
	add(fmt.Sprintf("%d cameras in a grid: bytes/s to the page, grid vs full (worst round)", b.o.renditionCameras), "<= 1/10 (0.10)", worst, "x full", le(0.1), len(ratios) > 0)
	add(fmt.Sprintf("%d cameras in a grid: server CPU, grid vs full (worst round)", b.o.renditionCameras), "(info)", worstCPU, "x full", le(math.Inf(1)), len(cpu) > 0)
}
