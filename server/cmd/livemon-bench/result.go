package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// result is one scenario's figures: one JSON line and one table row.
type result struct {
	Kind      string  `json:"kind"` // "scenario"
	Run       string  `json:"run"`
	Scenario  string  `json:"scenario"`
	Transport string  `json:"transport,omitempty"`
	Viewers   int     `json:"viewers"`
	Stalled   int     `json:"stalled,omitempty"`
	Cameras   int     `json:"cameras"`
	WindowS   float64 `json:"window_s"`
	SourceFPS float64 `json:"source_fps"`

	FPSMin    float64 `json:"fps_min"`
	FPSMedian float64 `json:"fps_median"`
	GapP50    float64 `json:"gap_p50_ms"`
	GapP99    float64 `json:"gap_p99_ms"`
	GapMax    float64 `json:"gap_max_ms"`
	// Latency: server timestamp in the frame header to full receipt
	// (WebSocket); for MJPEG the timestamp comes from a reference
	// WebSocket viewer, matched by seq. Negative when unknown.
	LatP50 float64 `json:"lat_p50_ms"`
	LatP99 float64 `json:"lat_p99_ms"`
	// TTFF: from starting to connect to the first complete frame.
	TTFFP50 float64 `json:"ttff_p50_ms"`
	TTFFP99 float64 `json:"ttff_p99_ms"`
	TTFFMax float64 `json:"ttff_max_ms"`

	// ServerCores and ServerPeakMB cover the server process and its
	// descendants (decoder children); ChildrenPeakMB is the descendants'
	// part and Children their number at the end of the window.
	ServerCores    float64 `json:"server_cpu_cores"`
	ServerSysCores float64 `json:"server_sys_cpu_cores"`     // the kernel's part of ServerCores
	ServerOwnCores float64 `json:"server_process_cpu_cores"` // the server process's part of ServerCores
	ServerPeakMB   float64 `json:"server_peak_rss_mb"`
	ChildrenPeakMB float64 `json:"children_peak_rss_mb"`
	Children       int     `json:"children"`
	// PeakIsRun is true when the peak could not be reset per scenario and
	// is the process's peak so far.
	PeakIsRun    bool    `json:"peak_rss_since_start,omitempty"`
	BytesPerSec  float64 `json:"bytes_per_s"`
	FrameBytes   float64 `json:"frame_bytes_avg"`
	LoadGenCores float64 `json:"loadgen_cpu_cores"`
	OtherCores   float64 `json:"other_cpu_cores"` // without FakeCamCores
	// FakeCamCores is the fake camera's CPU (live scenario): a separate
	// process, not in ServerCores.
	FakeCamCores float64 `json:"fakecam_cpu_cores,omitempty"`
	Load1        float64 `json:"load1"`

	// Server side, over the window. PublishedFPS is the main camera's
	// (or, with several cameras, the mean camera's) output rate.
	PublishedFPS float64 `json:"published_fps"`
	Published    uint64  `json:"published"`
	Encoded      uint64  `json:"encoded"`
	Drops        uint64  `json:"drops"`

	Errors int               `json:"errors"`
	Notes  string            `json:"notes,omitempty"`
	Extra  map[string]string `json:"extra,omitempty"`
}

// analysis turns viewers' samples into a result's figures.
type analysis struct {
	winStart, winEnd int64 // monotonic ns since base
	clock            *seqClock
}

// fill computes the viewer figures of r from vs. Viewers that failed
// count as errors; stalled viewers (cfg.stallAfter > 0) are left out.
func (a analysis) fill(r *result, vs []*viewer) {
	var fps, gaps, lats, ttff []float64
	var bytes, frames float64
	win := float64(a.winEnd-a.winStart) / 1e9
	r.WindowS = round(win, 2)
	for _, v := range vs {
		st := v.snapshot()
		if st.err != nil {
			r.Errors++
		}
		if v.cfg.stallAfter > 0 {
			continue
		}
		if st.firstFrame > 0 {
			ttff = append(ttff, ms(st.firstFrame))
		}
		n := 0
		for i, s := range st.samples {
			if s.mono < a.winStart || s.mono >= a.winEnd {
				continue
			}
			n++
			bytes += float64(s.size)
			if i > 0 {
				gaps = append(gaps, float64(s.mono-st.samples[i-1].mono)/1e6)
			}
			ts, ok := s.ts, s.ts != 0
			if !ok && a.clock != nil {
				ts, ok = a.clock.get(s.seq)
			}
			if ok {
				lats = append(lats, float64(s.wall-ts*1000)/1e3)
			}
		}
		frames += float64(n)
		fps = append(fps, float64(n)/win)
	}
	r.FPSMin, r.FPSMedian = round(minOf(fps), 2), round(quantile(fps, 0.5), 2)
	r.GapP50, r.GapP99, r.GapMax = round(quantile(gaps, 0.5), 1), round(quantile(gaps, 0.99), 1), round(maxOf(gaps), 1)
	r.LatP50, r.LatP99 = -1, -1
	if len(lats) > 0 {
		r.LatP50, r.LatP99 = round(quantile(lats, 0.5), 1), round(quantile(lats, 0.99), 1)
	}
	r.TTFFP50, r.TTFFP99, r.TTFFMax = round(quantile(ttff, 0.5), 1), round(quantile(ttff, 0.99), 1), round(maxOf(ttff), 1)
	if win > 0 {
		r.BytesPerSec = math.Round(bytes / win)
	}
	if frames > 0 {
		r.FrameBytes = math.Round(bytes / frames)
	}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// quantile is the q-quantile of xs by linear interpolation; NaN if empty.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

func minOf(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return slices.Min(xs)
}

func maxOf(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return slices.Max(xs)
}

func round(x float64, digits int) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return -1
	}
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// slope is the least-squares slope of ys over xs.
func slope(xs, ys []float64) float64 {
	if len(xs) < 2 {
		return math.NaN()
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(ys))
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	return num / den
}

// printTable writes results as a Markdown table.
func printTable(w io.Writer, rs []result) {
	fmt.Fprintln(w, "| scenario | transport | viewers | published fps | fps min | fps med | gap p50 ms | gap p99 ms | lat p50 ms | lat p99 ms | TTFF p50 ms | TTFF p99 ms | server cores | of which kernel | server peak RSS MB | MB/s | loadgen cores | other cores | errors |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		name := r.Scenario
		viewers := fmt.Sprint(r.Viewers)
		if r.Stalled > 0 {
			viewers = fmt.Sprintf("%d (+%d stalled)", r.Viewers-r.Stalled, r.Stalled)
		}
		if r.Cameras > 1 {
			name = fmt.Sprintf("%s (%d cameras)", r.Scenario, r.Cameras)
		}
		pub := "-"
		if r.Cameras > 0 {
			pub = num(r.PublishedFPS, 1)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f | %s | %s | %d |\n",
			name, dash(r.Transport), viewers, pub,
			num(r.FPSMin, 1), num(r.FPSMedian, 1), num(r.GapP50, 1), num(r.GapP99, 1),
			num(r.LatP50, 1), num(r.LatP99, 1), num(r.TTFFP50, 1), num(r.TTFFP99, 1),
			num(r.ServerCores, 3), num(r.ServerSysCores, 3), num(r.ServerPeakMB, 0), r.BytesPerSec/1e6, num(r.LoadGenCores, 3), num(r.OtherCores, 2), r.Errors)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// num formats x, or "-" for the -1 that stands for "not measured".
func num(x float64, digits int) string {
	if x < 0 || math.IsNaN(x) {
		return "-"
	}
	return fmt.Sprintf("%.*f", digits, x)
}

// target is one of issue 9's goals and whether the run met it.
type target struct {
	Kind     string  `json:"kind"` // "target"
	Run      string  `json:"run"`
	Name     string  `json:"name"`
	Goal     string  `json:"goal"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Met      bool    `json:"met"`
	Measured bool    `json:"measured"`
	// Info marks a figure that is reported, not judged.
	Info bool `json:"info,omitempty"`
}

func printTargets(w io.Writer, ts []target) {
	fmt.Fprintln(w, "| target | goal | measured | met |")
	fmt.Fprintln(w, "|---|---|---:|---|")
	for _, t := range ts {
		met, val := "no", fmt.Sprintf("%.3g %s", t.Value, t.Unit)
		if t.Met {
			met = "yes"
		}
		switch {
		case !t.Measured:
			met, val = "not measured", "-"
		case t.Info:
			met = "(reported)"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", t.Name, t.Goal, strings.TrimSpace(val), met)
	}
}
