package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// soakThreshold bounds the growth of one figure after warm-up: the
// least-squares slope, fitted within each server life (a restart starts
// from scratch), must stay below PerHour.
type soakThreshold struct {
	Name    string  `json:"name"`
	Unit    string  `json:"unit"`
	PerHour float64 `json:"per_hour"`
	// perConn: fitted with the open viewer connections as a second
	// variable (each connection holds goroutines, a descriptor, buffers).
	perConn bool
}

// soakThresholds are generous against the noise of a shared 2-core
// machine and tight against a leak of one thing per churn event (viewers
// reconnect about 100 times a minute: a goroutine or descriptor leaked
// per reconnect grows 6000 an hour).
var soakThresholds = []soakThreshold{
	{"goroutines", "", 100, true},
	{"fds", "", 50, true},
	{"heap", "MiB", 16, true},
	{"server_pss", "MiB", 32, false},
	{"child_pss", "MiB", 100, false},
	{"children", "", 2, false},
}

func (t soakThreshold) value(s soakSample) float64 {
	switch t.Name {
	case "goroutines":
		return s.Goroutines
	case "fds":
		return float64(s.FDs)
	case "heap":
		return s.HeapBytes / (1 << 20)
	case "server_pss":
		return float64(s.PSS) / 1024
	case "child_pss":
		return float64(s.ChildPSS) / 1024
	case "children":
		return float64(s.Children)
	}
	return 0
}

// slopeResult is one fitted figure.
type slopeResult struct {
	soakThreshold
	Slope    float64 `json:"slope_per_hour"`
	Samples  int     `json:"samples"`
	Span     float64 `json:"span_min"` // post-warm-up minutes fitted
	Mean     float64 `json:"mean"`
	Asserted bool    `json:"asserted"`
	OK       bool    `json:"ok"`
}

// pooledSlope fits y = a_life + b*t + c*x (one intercept per server life,
// one slope b over time t in hours, one coefficient c for the number x of
// open viewer connections, which churn moves up and down) by least squares
// and returns b. Without x (all zero) it is the plain slope.
func pooledSlope(lives map[int][]slopePoint) (slope float64, n int) {
	var stt, stx, sxx, sty, sxy float64
	for _, pts := range lives {
		if len(pts) < 2 {
			continue
		}
		var mt, mx, my float64
		for _, p := range pts {
			mt, mx, my = mt+p.t, mx+p.x, my+p.y
		}
		k := float64(len(pts))
		mt, mx, my = mt/k, mx/k, my/k
		for _, p := range pts {
			dt, dx, dy := p.t-mt, p.x-mx, p.y-my
			stt, stx, sxx, sty, sxy = stt+dt*dt, stx+dt*dx, sxx+dx*dx, sty+dt*dy, sxy+dx*dy
		}
		n += len(pts)
	}
	det := stt*sxx - stx*stx
	switch {
	case stt == 0:
		return 0, n
	case sxx == 0 || det <= 1e-9*stt*sxx:
		return sty / stt, n
	}
	return (sty*sxx - sxy*stx) / det, n
}

type slopePoint struct{ t, x, y float64 }

// minFitSpan is the post-warm-up time the slopes need before they are
// asserted: over a shorter run (a smoke run) the noise of viewers coming
// and going dwarfs any leak, and the slopes are only reported.
const minFitSpan = 10 * time.Minute

// fitSlopes fits every threshold's figure on the samples taken after
// warm-up in every server life.
func fitSlopes(samples []soakSample, warmup time.Duration) []slopeResult {
	start, end := map[int]float64{}, map[int]float64{}
	for _, s := range samples {
		if !s.Up || s.Goroutines == 0 {
			continue
		}
		if _, ok := start[s.Life]; !ok {
			start[s.Life] = s.T
		}
		end[s.Life] = s.T
	}
	var out []slopeResult
	for _, th := range soakThresholds {
		lives := map[int][]slopePoint{}
		var sum, span float64
		for life := range start {
			w := min(warmup.Seconds(), (end[life]-start[life])/4)
			span += end[life] - start[life] - w
		}
		for _, s := range samples {
			if !s.Up || s.Goroutines == 0 {
				continue
			}
			w := min(warmup.Seconds(), (end[s.Life]-start[s.Life])/4)
			if s.T < start[s.Life]+w {
				continue
			}
			v := th.value(s)
			p := slopePoint{t: s.T / 3600, y: v}
			if th.perConn {
				p.x = float64(s.WS + s.MJPEG)
			}
			lives[s.Life] = append(lives[s.Life], p)
			sum += v
		}
		r := slopeResult{soakThreshold: th, Span: span / 60}
		r.Slope, r.Samples = pooledSlope(lives)
		if r.Samples > 0 {
			r.Mean = sum / float64(r.Samples)
		}
		r.Asserted = span >= minFitSpan.Seconds()
		r.OK = !r.Asserted || r.Samples >= 6 && r.Slope < th.PerHour
		out = append(out, r)
	}
	return out
}

// readSoakJSONL reads the samples and events of a soak's JSON lines.
func readSoakJSONL(r io.Reader) (samples []soakSample, events []soakEvent, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var k struct {
			Kind string `json:"kind"`
		}
		if json.Unmarshal(sc.Bytes(), &k) != nil {
			continue
		}
		switch k.Kind {
		case "sample":
			var s soakSample
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				return nil, nil, err
			}
			samples = append(samples, s)
		case "event":
			var e soakEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				return nil, nil, err
			}
			events = append(events, e)
		}
	}
	return samples, events, sc.Err()
}

// finalChecks runs the end-of-run assertions that need the server up.
func (s *soak) finalChecks(ctx context.Context) {
	srv, ok := s.waitUp(ctx)
	if !ok {
		s.fail("final", "server not up at the end")
		return
	}
	poll := func(d time.Duration, cond func() (bool, string)) (bool, string) {
		deadline := time.Now().Add(d)
		for {
			ok, why := cond()
			if ok || time.Now().After(deadline) {
				return ok, why
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	// No file left in tmp/; videos/ holds exactly the uploads the
	// database references.
	if ok, why := poll(time.Minute, func() (bool, string) {
		n := countFiles(filepath.Join(s.dataDir, "tmp"))
		return n == 0, fmt.Sprintf("%d files in tmp/", n)
	}); !ok {
		s.fail("tmp", "%s a minute after the churn", why)
	}
	if ok, why := poll(30*time.Second, func() (bool, string) {
		db, err := readDB(ctx, s.dataDir)
		if err != nil {
			return false, err.Error()
		}
		files := listFiles(filepath.Join(s.dataDir, "videos"))
		if !maps.Equal(files, db.files) {
			return false, fmt.Sprintf("videos/ %v, database %v", slices.Sorted(maps.Keys(files)), slices.Sorted(maps.Keys(db.files)))
		}
		return true, ""
	}); !ok {
		s.fail("videos", "videos/ and the database disagree: %s", why)
	}
	// Every camera playing.
	if ok, why := poll(time.Minute, func() (bool, string) {
		st, err := srv.stats()
		if err != nil {
			return false, err.Error()
		}
		var bad []string
		for _, id := range soakCameras {
			c, found := st.camera(id)
			playing := found && (c.State == "running" || id == camOnce && c.State == "ended")
			if !playing {
				bad = append(bad, fmt.Sprintf("%s %q", id, c.State))
			}
		}
		return len(bad) == 0, strings.Join(bad, ", ")
	}); !ok {
		s.fail("playing", "cameras not playing at the end: %s", why)
	}
	// No zombie child.
	if ok, why := poll(10*time.Second, func() (bool, string) {
		var z []int
		for _, c := range descendants(srv.pid) {
			if f, err := statFields(c); err == nil && f[0] == "Z" {
				z = append(z, c)
			}
		}
		return len(z) == 0, fmt.Sprint(z)
	}); !ok {
		s.fail("zombie", "zombie children %s", why)
	}
	// Sessions expire: the table holds at most the sessions created within
	// the last TTL plus the sweep interval (a minute) and a margin, plus
	// one per viewer.
	db, err := readDB(ctx, s.dataDir)
	if err != nil {
		s.fail("final", "read database: %v", err)
		return
	}
	s.mu.Lock()
	recent, total := 0, len(s.created)
	for _, t := range s.created {
		if time.Since(t) < s.o.sessionTTL+2*time.Minute {
			recent++
		}
	}
	s.mu.Unlock()
	bound := recent + s.o.wsViewers + s.o.stalled
	s.jsonl(map[string]any{"kind": "sessions", "t": s.since(), "rows": db.sessions, "created": total, "recent": recent, "bound": bound})
	s.logf("sessions: %d rows at the end, %d created in the run, %d within TTL+2m; bound %d", db.sessions, total, recent, bound)
	if db.sessions > bound {
		s.fail("sessions", "%d session rows, more than %d (sessions created within TTL+2m plus viewers): expiry does not keep up", db.sessions, bound)
	}
}

// report fits the slopes, writes the summary (JSON line, Markdown, SVG)
// and returns an error if any check failed.
func (s *soak) report(stdout io.Writer) error {
	s.jmu.Lock()
	f, err := os.Open(s.prefix + ".jsonl")
	s.jmu.Unlock()
	if err != nil {
		return err
	}
	samples, events, err := readSoakJSONL(f)
	f.Close()
	if err != nil {
		return err
	}
	slopes := fitSlopes(samples, s.o.warmup)
	for _, r := range slopes {
		if !r.OK {
			s.fail("trend", "%s grows %.1f%s/h (threshold %g) over %d samples", r.Name, r.Slope, r.Unit, r.PerHour, r.Samples)
		}
	}
	s.mu.Lock()
	fails := maps.Clone(s.fails)
	examples := maps.Clone(s.examples)
	counts := maps.Clone(s.counts)
	s.mu.Unlock()
	s.jsonl(map[string]any{"kind": "summary", "run": s.runID, "duration_s": s.o.duration.Seconds(), "slopes": slopes,
		"failures": fails, "examples": examples, "counts": counts, "samples": len(samples), "events": len(events)})

	var md bytes.Buffer
	fmt.Fprintf(&md, "Soak %s: %v, %d WebSocket + %d MJPEG viewers with churn, %d stalled, session TTL %v.\n\n",
		s.runID, s.o.duration, s.o.wsViewers, s.o.mjpegN, s.o.stalled, s.o.sessionTTL)
	printSoakSlopes(&md, slopes)
	fmt.Fprintf(&md, "\n%s\n", soakFigures(samples))
	fmt.Fprintf(&md, "\n| event | count |\n|---|---|\n")
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(&md, "| %s | %d |\n", k, counts[k])
	}
	if len(fails) == 0 {
		fmt.Fprintf(&md, "\nAll checks passed.\n")
	} else {
		fmt.Fprintf(&md, "\n| failure | count | first |\n|---|---|---|\n")
		for _, k := range slices.Sorted(maps.Keys(fails)) {
			fmt.Fprintf(&md, "| %s | %d | %s |\n", k, fails[k], examples[k])
		}
	}
	if err := os.WriteFile(s.prefix+".md", md.Bytes(), 0o644); err != nil {
		return err
	}
	svg := soakPlot(samples, events, s.runID)
	if err := os.WriteFile(s.prefix+".svg", svg, 0o644); err != nil {
		return err
	}
	if s.o.plot != "" {
		if err := os.WriteFile(s.o.plot, svg, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout)
	_, _ = stdout.Write(md.Bytes())
	s.logf("results: %s.jsonl, %s.md, %s.svg", s.prefix, s.prefix, s.prefix)
	if len(fails) > 0 {
		return fmt.Errorf("soak failed: %d kinds of failure (%s)", len(fails), strings.Join(slices.Sorted(maps.Keys(fails)), ", "))
	}
	return nil
}

func printSoakSlopes(w io.Writer, slopes []slopeResult) {
	fmt.Fprintf(w, "| figure | mean after warm-up | slope per hour | threshold | samples (minutes) | verdict |\n|---|---|---|---|---|---|\n")
	for _, r := range slopes {
		verdict := map[bool]string{true: "ok", false: "GROWS"}[r.OK]
		if !r.Asserted {
			verdict = fmt.Sprintf("not asserted (< %v fitted)", minFitSpan)
		}
		fmt.Fprintf(w, "| %s | %.1f %s | %+.2f %s | < %g | %d (%.0f) | %s |\n", r.Name, r.Mean, r.Unit, r.Slope, r.Unit, r.PerHour, r.Samples, r.Span, verdict)
	}
}

// soakFigures summarises the samples: ranges of the figures the slopes do
// not cover.
func soakFigures(samples []soakSample) string {
	var maxSess, maxUp, maxTmp, maxVid, maxWS, maxMJ, zomb int
	var maxDB int64
	fps := map[string][]float64{}
	for _, s := range samples {
		maxSess, maxUp, maxTmp, maxVid = max(maxSess, s.Sessions), max(maxUp, s.Uploads), max(maxTmp, s.TmpFiles), max(maxVid, s.VideoFiles)
		maxWS, maxMJ, zomb, maxDB = max(maxWS, s.WS), max(maxMJ, s.MJPEG), max(zomb, s.Zombies), max(maxDB, s.DBBytes)
		for k, v := range s.FPS {
			if s.State[k] == "running" {
				fps[k] = append(fps[k], v)
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Maxima over the run: %d session rows, %d upload rows, %d files in tmp/, %d in videos/, database %.1f MiB, %d WebSocket connections, %d MJPEG viewers, %d zombies at a sample.\n\n",
		maxSess, maxUp, maxTmp, maxVid, float64(maxDB)/(1<<20), maxWS, maxMJ, zomb)
	b.WriteString("Per-camera fps while running (median, min):")
	for _, k := range slices.Sorted(maps.Keys(fps)) {
		v := slices.Sorted(slices.Values(fps[k]))
		fmt.Fprintf(&b, " %s %.1f (%.1f);", k, v[len(v)/2], v[0])
	}
	return b.String()
}
