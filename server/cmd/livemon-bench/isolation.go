package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// decoderModes are the two ways a server can run its decoders, in the
// order the isolation scenario reports them.
var decoderModes = []struct{ name, flag string }{
	{"in-process", "inprocess"},
	{"isolated", "isolated"},
}

// isolationSummary compares the same camera played by an in-process
// decoder and by an isolated one (decode child): issue 8's cost of the
// pipe. Index 0 of each pair is in-process, 1 isolated.
type isolationSummary struct {
	Kind    string  `json:"kind"` // "isolation"
	Run     string  `json:"run"`
	Rounds  int     `json:"rounds"`
	WindowS float64 `json:"window_s"`
	// Cores: the server and its decode children, one viewer watching.
	Cores [2]float64 `json:"cores"`
	// ServerCores: the server process alone (isolated: without its child).
	ServerCores [2]float64 `json:"server_process_cores"`
	// CPUPerFrameMS: CPU time per published frame.
	CPUPerFrameMS [2]float64 `json:"cpu_ms_per_frame"`
	PublishedFPS  [2]float64 `json:"published_fps"`
	LatP50        [2]float64 `json:"lat_p50_ms"`
	LatP99        [2]float64 `json:"lat_p99_ms"`
	// OverheadPct is what isolation adds to the CPU per frame, over all
	// rounds; RoundsPct per round (each round measures both modes).
	OverheadPct float64   `json:"overhead_pct"`
	RoundsPct   []float64 `json:"rounds_overhead_pct"`
}

// isolation starts one server per decoder mode, uploads the input to each
// and, in rounds, watches each with one WebSocket viewer for a window,
// alternating which goes first. The main server's camera stays unwatched
// meanwhile.
func (b *bench) isolation(ctx context.Context) error {
	if b.external {
		return fmt.Errorf("needs servers the bench starts")
	}
	var servers [2]*server
	for i, m := range decoderModes {
		dir, err := os.MkdirTemp("", "livemon-bench-"+m.flag+"-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		// A later flag wins: the mode overrides any --decoder in extra.
		extra := append(slices.Clone(b.o.extraArgs), "--decoder", m.flag)
		logPath := filepath.Join(b.o.out, "bench-"+b.run+"-server-"+m.flag+".log")
		s, err := startServer(serverOptions{bin: b.o.serverBin, dataDir: dir, logPath: logPath, quality: b.o.quality, maxFPS: b.o.maxFPS, linger: b.o.linger, extra: extra})
		if err != nil {
			return err
		}
		defer s.stop()
		servers[i] = s
		if _, err := s.upload(mainCamera, b.input); err != nil {
			return fmt.Errorf("%s server: %w", m.name, err)
		}
		if _, err := s.waitUntil(30*time.Second, func(st stats) bool {
			c, ok := st.camera(mainCamera)
			return ok && c.State == "running"
		}); err != nil {
			return fmt.Errorf("%s server: camera not running: %w", m.name, err)
		}
		b.logf("  %s server pid %d on %s", m.name, s.pid, s.host)
	}

	main := b.srv
	defer func() { b.srv = main }()
	sum := isolationSummary{Kind: "isolation", Run: b.run, Rounds: b.o.isoRounds}
	var cpu, server, frames, window [2]float64
	var lat50, lat99 [2][]float64
	for round := range b.o.isoRounds {
		var roundCPU, roundFrames [2]float64
		for k := range decoderModes {
			i := (k + round) % 2 // alternate which mode goes first
			b.srv = servers[i]
			r, err := b.watch(ctx, "isolation: "+decoderModes[i].name, transportWS, 1, b.o.window, false)
			if err != nil {
				return err
			}
			r.Notes = fmt.Sprintf("round %d of %d; server started with --decoder %s", round+1, b.o.isoRounds, decoderModes[i].flag)
			b.add(r)
			w := r.WindowS
			cpu[i] += r.ServerCores * w
			server[i] += r.ServerOwnCores * w
			frames[i] += float64(r.Published)
			window[i] += w
			roundCPU[i], roundFrames[i] = r.ServerCores*w, float64(r.Published)
			lat50[i] = append(lat50[i], r.LatP50)
			lat99[i] = append(lat99[i], r.LatP99)
		}
		sum.RoundsPct = append(sum.RoundsPct, round2(overhead(roundCPU, roundFrames)))
	}
	for i := range decoderModes {
		sum.Cores[i] = round(cpu[i]/nonZero(window[i]), 3)
		sum.ServerCores[i] = round(server[i]/nonZero(window[i]), 3)
		sum.CPUPerFrameMS[i] = round2(1000 * cpu[i] / nonZero(frames[i]))
		sum.PublishedFPS[i] = round2(frames[i] / nonZero(window[i]))
		sum.LatP50[i] = round2(median(lat50[i]))
		sum.LatP99[i] = round2(median(lat99[i]))
	}
	sum.WindowS = round2(window[0] / float64(b.o.isoRounds))
	sum.OverheadPct = round2(overhead(cpu, frames))
	b.iso = &sum
	b.jsonl(sum)
	b.logf("  isolation: %.2f vs %.2f ms CPU per frame (in-process vs isolated): %+.1f%% (rounds %v); latency p50 %.1f vs %.1f ms",
		sum.CPUPerFrameMS[0], sum.CPUPerFrameMS[1], sum.OverheadPct, sum.RoundsPct, sum.LatP50[0], sum.LatP50[1])
	return nil
}

// overhead is the percentage isolation adds to the CPU per frame.
func overhead(cpu, frames [2]float64) float64 {
	return 100 * ((cpu[1]/nonZero(frames[1]))/(cpu[0]/nonZero(frames[0])) - 1)
}

func round2(x float64) float64 { return round(x, 2) }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return quantile(xs, 0.5)
}

func printIsolation(w io.Writer, s *isolationSummary) {
	if s == nil {
		return
	}
	fmt.Fprintf(w, "| decoder (one 720p30 camera, one viewer, %d rounds of %.0f s) | cores (server + children) | server process | CPU ms per frame | published fps | lat p50 ms | lat p99 ms |\n", s.Rounds, s.WindowS)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for i, m := range decoderModes {
		fmt.Fprintf(w, "| %s | %.3f | %.3f | %.2f | %.2f | %.1f | %.1f |\n", m.name, s.Cores[i], s.ServerCores[i], s.CPUPerFrameMS[i], s.PublishedFPS[i], s.LatP50[i], s.LatP99[i])
	}
	fmt.Fprintf(w, "\nIsolation adds %+.1f%% CPU per frame (rounds: %v).\n", s.OverheadPct, s.RoundsPct)
}
