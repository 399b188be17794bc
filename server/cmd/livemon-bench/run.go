package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// options are the benchmark's flags.
type options struct {
	serverBin string
	out       string
	input     string
	inputQ    int
	frames    int
	quality   int
	maxFPS    float64
	linger    time.Duration
	extraArgs []string // more server flags

	scenarios  map[string]bool
	fanout     []int
	duration   time.Duration // fan-out and slow-viewer windows
	window     time.Duration // idle and cameras windows
	warmup     time.Duration
	resumeN    int
	rounds     int
	slowN      int
	maxCameras int
	isoRounds  int
	// renditions scenario
	renditionCameras int
	renditionRounds  int
	renditionSources map[string]bool
	// cluster scenario
	natsBin        string
	clusterViewers []int
	clusterRounds  int
	failovers      int
	// clusterTransport is the viewers' transport in the CPU windows.
	clusterTransport transport
	liveTries        int
	liveQ            int
	budget           time.Duration
	micro            bool
	keep             bool
}

var allScenarios = []string{"idle", "live", "rtsp", "isolation", "fanout", "slow", "flow", "resume", "cameras", "renditions", "cluster"}

// fileScenarios are the scenarios that need the uploaded camera.
var fileScenarios = []string{"idle", "isolation", "fanout", "slow", "flow", "resume", "cameras", "renditions", "cluster"}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("livemon-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var scen, only, fan, extra, rsrc, cview, ctrans string
	var quick bool
	fs.StringVar(&o.serverBin, "server", "bin/livemon", "livemon binary to start")
	fs.StringVar(&o.out, "out", "bench/results", "directory for results (JSON lines, table, server log)")
	fs.StringVar(&o.input, "input", "", "input video (default: generated into --out/input, reused when present)")
	fs.IntVar(&o.inputQ, "input-quality", 75, "JPEG quality of the generated MJPG input (with noise: server frames of 100-150 KB)")
	fs.IntVar(&o.frames, "frames", 300, "frames in the generated input (30 fps)")
	fs.IntVar(&o.quality, "quality", 80, "server --quality")
	fs.Float64Var(&o.maxFPS, "max-fps", 30, "server --max-fps")
	fs.DurationVar(&o.linger, "linger", 2*time.Second, "server --linger")
	fs.StringVar(&extra, "server-args", "", "more server flags, space-separated (e.g. \"--decoder inprocess\")")
	fs.StringVar(&scen, "scenarios", strings.Join(allScenarios, ","), "scenarios to run, in this order: "+strings.Join(allScenarios, ","))
	fs.StringVar(&only, "only", "", "run only these scenarios, without the micro-benchmarks (--scenarios X --micro=false)")
	fs.StringVar(&fan, "viewers", "1,10,50,100,200", "fan-out viewer counts")
	fs.DurationVar(&o.duration, "duration", 15*time.Second, "measurement window of fan-out and slow-viewer scenarios")
	fs.DurationVar(&o.window, "window", 10*time.Second, "measurement window of idle and cameras steps")
	fs.DurationVar(&o.warmup, "warmup", 1500*time.Millisecond, "wait after every viewer got a frame, before measuring")
	fs.IntVar(&o.resumeN, "resume-viewers", 200, "viewers reconnecting at once in the resume scenario")
	fs.IntVar(&o.rounds, "resume-rounds", 3, "reconnect rounds in the resume scenario")
	fs.IntVar(&o.slowN, "slow-viewers", 200, "viewers in the slow-viewer scenario (10% stall)")
	fs.IntVar(&o.maxCameras, "max-cameras", 8, "upper bound of the cameras scenario")
	fs.IntVar(&o.renditionCameras, "rendition-cameras", 16, "cameras of the renditions scenario (one viewer each, grid then full)")
	fs.IntVar(&o.renditionRounds, "rendition-rounds", 2, "side-by-side grid/full rounds of the renditions scenario")
	fs.StringVar(&rsrc, "rendition-sources", "mjpeg,file", "camera kinds of the renditions scenario, in this order: mjpeg (HTTP MJPEG fake cameras), file")
	fs.IntVar(&o.isoRounds, "isolation-rounds", 5, "rounds of the isolation scenario (each watches both decoder modes for --window)")
	fs.DurationVar(&o.budget, "budget", 11*time.Minute, "total time limit; the cameras scenario stops stepping near it")
	fs.IntVar(&o.liveQ, "live-quality", 99, "JPEG quality of the live scenario's fake camera (99: ~128 KB frames at 720p, like the file input's)")
	fs.IntVar(&o.liveTries, "live-tries", 5, "first-frame tries per live source kind (live scenario)")
	fs.StringVar(&o.natsBin, "nats-server", "bin/nats-server", "nats-server binary of the cluster scenario (make bench builds it from go.mod's pinned module)")
	fs.StringVar(&cview, "cluster-viewers", "1,10,50", "viewer counts of the cluster scenario, on an edge and on the single node at once (the first is the base of the per-viewer cost)")
	fs.StringVar(&ctrans, "cluster-transport", "ws", "viewers of the cluster scenario's CPU windows: ws, or mjpeg (no sessions; no latency figures)")
	fs.IntVar(&o.clusterRounds, "cluster-rounds", 3, "rounds of the cluster scenario's viewer counts")
	fs.IntVar(&o.failovers, "failovers", 20, "edge kills of the cluster scenario (first frame after a failover)")
	fs.BoolVar(&o.micro, "micro", true, "run the Go micro-benchmarks (go test -bench) first")
	fs.BoolVar(&o.keep, "keep", false, "keep the server's temporary data dir")
	fs.BoolVar(&quick, "quick", false, "short windows (3 s) and fewer steps, for a smoke run")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range map[string]string{"duration": "3s", "window": "3s", "warmup": "1s", "resume-rounds": "1", "max-cameras": "3", "isolation-rounds": "1", "live-tries": "2", "cluster-rounds": "1", "failovers": "3"} {
			if !set[name] {
				_ = fs.Set(name, v)
			}
		}
	}
	o.extraArgs = strings.Fields(extra)
	if only != "" {
		scen = only
		o.micro = false
	}
	o.scenarios = map[string]bool{}
	for _, s := range strings.Split(scen, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(allScenarios, s) {
			return o, fmt.Errorf("unknown scenario %q", s)
		}
		o.scenarios[s] = true
	}
	o.renditionSources = map[string]bool{}
	for _, s := range strings.Split(rsrc, ",") {
		switch s = strings.TrimSpace(s); s {
		case "":
		case renditionMJPEG, renditionFile:
			o.renditionSources[s] = true
		default:
			return o, fmt.Errorf("--rendition-sources: unknown kind %q (mjpeg, file)", s)
		}
	}
	var err error
	if o.fanout, err = parseCounts(fan, 2000); err != nil {
		return o, fmt.Errorf("--viewers: %w", err)
	}
	if o.clusterViewers, err = parseCounts(cview, 2000); err != nil || len(o.clusterViewers) < 2 || !slices.IsSorted(o.clusterViewers) {
		return o, fmt.Errorf("--cluster-viewers: two or more increasing counts of 1-2000 (got %q)", cview)
	}
	o.clusterTransport = transport(ctrans)
	if o.clusterTransport != transportWS && o.clusterTransport != transportMJPEG {
		return o, fmt.Errorf("--cluster-transport: ws or mjpeg (got %q)", ctrans)
	}
	if o.clusterRounds < 1 || o.clusterRounds > 10 || o.failovers < 1 || o.failovers > 100 {
		return o, errors.New("--cluster-rounds 1-10, --failovers 1-100")
	}
	if o.resumeN < 1 || o.resumeN > 2000 || o.slowN < 10 || o.slowN > 2000 || o.maxCameras < 1 || o.maxCameras > 32 || o.renditionCameras < 1 || o.renditionCameras > 32 || o.renditionRounds < 1 || o.renditionRounds > 10 || o.isoRounds < 1 || o.isoRounds > 20 || o.liveTries < 1 || o.liveTries > 50 || o.liveQ < 1 || o.liveQ > 100 {
		return o, errors.New("--resume-viewers 1-2000, --slow-viewers 10-2000, --max-cameras 1-32, --isolation-rounds 1-20, --live-tries 1-50, --live-quality 1-100")
	}
	if o.duration <= 0 || o.window <= 0 || o.rounds < 1 || o.rounds > 10 {
		return o, errors.New("--duration and --window must be positive, --resume-rounds 1-10")
	}
	return o, nil
}

// parseCounts parses comma-separated counts of 1 to most.
func parseCounts(list string, most int) ([]int, error) {
	var ns []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > most {
			return nil, fmt.Errorf("bad count %q (1-%d)", s, most)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// needsUpload reports whether a selected scenario watches the uploaded
// camera.
func (o options) needsUpload() bool {
	return slices.ContainsFunc(fileScenarios, func(s string) bool { return o.scenarios[s] })
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "load":
			return runLoad(ctx, args[1:], stdout, stderr)
		case "soak":
			return runSoak(ctx, args[1:], stdout, stderr)
		case "crash":
			return runCrash(ctx, args[1:], stdout, stderr)
		}
	}
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	began := time.Now()
	deadline := began.Add(o.budget)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	runID := began.UTC().Format("20060102T150405Z")
	prefix := filepath.Join(o.out, "bench-"+runID)
	jf, err := os.Create(prefix + ".jsonl")
	if err != nil {
		return err
	}
	defer jf.Close()
	enc := json.NewEncoder(jf)
	mach := describeMachine(runID)
	_ = enc.Encode(mach)
	logf := func(format string, a ...any) {
		fmt.Fprintf(stdout, "[%5.0fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, a...))
	}
	logf("run %s: %d cores (%s), %s, load %.2f; results in %s.*", runID, mach.NProc, mach.CPUModel, mach.GoVersion, mach.Load1, prefix)

	var micros []microResult
	if o.micro {
		logf("micro-benchmarks (go test -bench)")
		micros, err = runMicro(ctx, prefix+"-micro.txt")
		if err != nil {
			return fmt.Errorf("micro-benchmarks: %w", err)
		}
		for _, m := range micros {
			m.Run = runID
			_ = enc.Encode(m)
		}
	}

	input := o.input
	if input == "" && o.needsUpload() {
		input, err = ensureInput(ctx, o, logf)
		if err != nil {
			return err
		}
	}

	dataDir, err := os.MkdirTemp("", "livemon-bench-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(dataDir)
	}
	srv, err := startServer(serverOptions{bin: o.serverBin, dataDir: dataDir, logPath: prefix + "-server.log", quality: o.quality, maxFPS: o.maxFPS, linger: o.linger, extra: o.extraArgs})
	if err != nil {
		return err
	}
	defer srv.stop() // on a panic; the normal path stops it below
	logf("server pid %d on %s, data %s", srv.pid, srv.host, dataDir)
	b := &bench{o: o, srv: srv, base: time.Now(), run: runID, prefix: prefix, input: input, deadline: deadline, logf: logf,
		jsonl: func(v any) { _ = enc.Encode(v) }}
	runErr := b.runAll(ctx)
	if err := srv.stop(); err != nil {
		logf("server stop: %v", err)
	}
	if runErr != nil {
		return runErr
	}

	targets := b.targets(micros)
	for _, t := range targets {
		t.Kind, t.Run = "target", runID
		_ = enc.Encode(t)
	}
	var tbl bytes.Buffer
	fmt.Fprintf(&tbl, "Run %s: %d x %s, %.0f GiB, Linux %s, %s, commit %s; load average %.2f at start.\n\n",
		runID, mach.NProc, mach.CPUModel, mach.MemGiB, mach.Kernel, mach.GoVersion, mach.Commit, mach.Load1)
	printTable(&tbl, b.results)
	fmt.Fprintln(&tbl)
	printSlopes(&tbl, b.slopes)
	fmt.Fprintln(&tbl)
	if b.iso != nil {
		printIsolation(&tbl, b.iso)
		fmt.Fprintln(&tbl)
	}
	if b.clusterSum != nil {
		printCluster(&tbl, b.clusterSum)
		fmt.Fprintln(&tbl)
	}
	if len(micros) > 0 {
		printMicro(&tbl, micros)
		fmt.Fprintln(&tbl)
	}
	printTargets(&tbl, targets)
	if err := os.WriteFile(prefix+".md", tbl.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	_, _ = stdout.Write(tbl.Bytes())
	logf("done in %s; %s.jsonl, %s.md", time.Since(began).Round(time.Second), prefix, prefix)
	return nil
}

// ensureInput returns the generated input video, generating it with
// `livemon gen-video` unless a file made with the same settings exists.
// The noise layer is seeded, so the file is the same on every run.
func ensureInput(ctx context.Context, o options, logf func(string, ...any)) (string, error) {
	dir := filepath.Join(o.out, "input")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("noise-1280x720-30fps-%dframes-q%d.avi", o.frames, o.inputQ))
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		logf("input %s (cached)", path)
		return path, nil
	}
	logf("generating input %s", path)
	tmp := path + ".tmp.avi"
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.serverBin, "gen-video", "--out", tmp, "--video-id", "1",
		"--frames", strconv.Itoa(o.frames), "--width", "1280", "--height", "720", "--fps", "30",
		"--noise", "--quality", strconv.Itoa(o.inputQ), "--label", "bench")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("gen-video: %w: %s", err, out)
	}
	return path, os.Rename(tmp, path)
}
