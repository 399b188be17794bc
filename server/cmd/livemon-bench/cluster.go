package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The cluster scenario (issue 16): three clustered NATS servers with
// JetStream, one `--role ingest` and two `--role edge` livemon processes,
// all started here on loopback, against the bench's own `--role all`
// server (the single node), both playing the same input as camera
// "bench".
//
//   - CPU: in --cluster-rounds rounds, for each of --cluster-viewers, that
//     many WebSocket viewers watch edge 1 and as many the single node, in
//     the same window; the edge's and the single node's CPU per added
//     viewer (first count to last) and their ratio per round, the ingest's
//     and the NATS servers' CPU at each count.
//   - Latency: the same windows' frame timestamp (set where the frame is
//     captured: the ingest, or the single node) to receipt, on the edge
//     and on the single node; their difference is what NATS adds.
//   - Failover: --failovers times, a viewer subscribed on edge 1 sees it
//     SIGKILLed and at once resumes its session on edge 2 (hello with the
//     session); the time from its connection dropping to the first frame
//     from edge 2. Edge 1 is restarted between rounds.

// clusterNodes are the processes of the cluster under test.
type clusterNodes struct {
	nats   *natsCluster
	ingest *server
	edges  [2]*server
	// edgeOpts start each edge again on the same address.
	edgeOpts [2]serverOptions
}

// startCluster starts NATS, the ingest and the edges under dir.
func (b *bench) startCluster(dir string) (*clusterNodes, error) {
	n := &clusterNodes{}
	var err error
	if n.nats, err = startNATS(b.o.natsBin, dir, b.prefix+"-cluster", 3); err != nil {
		return nil, err
	}
	b.logf("  NATS %s (pids %v)", strings.Join(n.nats.urls, ","), n.nats.pids())
	nodeOpts := func(role, name string) serverOptions {
		extra := append(slices.Clone(b.o.extraArgs), "--role", role, "--nats", strings.Join(n.nats.urls, ","))
		return serverOptions{bin: b.o.serverBin, dataDir: filepath.Join(dir, name), logPath: b.prefix + "-cluster-" + name + ".log",
			quality: b.o.quality, maxFPS: b.o.maxFPS, linger: b.o.linger, extra: extra}
	}
	if n.ingest, err = startServer(nodeOpts("ingest", "ingest")); err != nil {
		n.stop()
		return nil, err
	}
	for i := range n.edges {
		n.edgeOpts[i] = nodeOpts("edge", fmt.Sprintf("edge%d", i+1))
		if n.edges[i], err = startServer(n.edgeOpts[i]); err != nil {
			n.stop()
			return nil, err
		}
		n.edgeOpts[i].addr = n.edges[i].host
	}
	b.logf("  ingest pid %d, edges pid %d on %s and pid %d on %s", n.ingest.pid, n.edges[0].pid, n.edges[0].host, n.edges[1].pid, n.edges[1].host)
	return n, nil
}

// stop stops the edges, then the ingest (it hands its camera back), then
// NATS, waiting for each.
func (n *clusterNodes) stop() error {
	var errs []error
	for _, s := range []*server{n.edges[1], n.edges[0], n.ingest} {
		if s != nil {
			errs = append(errs, s.stop())
		}
	}
	if n.nats != nil {
		errs = append(errs, n.nats.stop())
	}
	return errors.Join(errs...)
}

// restartEdge starts edge i again on its address after it was killed.
func (n *clusterNodes) restartEdge(i int) error {
	s, err := startServer(n.edgeOpts[i])
	if err != nil {
		return fmt.Errorf("restart edge %d: %w", i+1, err)
	}
	n.edges[i] = s
	return nil
}

// clusterSummary is the scenario's figures. Per-count slices are indexed
// like Viewers, then by round.
type clusterSummary struct {
	Kind    string `json:"kind"` // "cluster"
	Run     string `json:"run"`
	Viewers []int  `json:"viewers"`
	// Transport of the CPU and latency windows' viewers (ws, or mjpeg:
	// no sessions, no latency figures).
	Transport string `json:"transport"`
	Rounds    int    `json:"rounds"`
	// Incomplete rounds had a window with viewer errors: no per-viewer
	// cost for them, and that window is left out of the per-count figures.
	Incomplete int     `json:"rounds_incomplete"`
	WindowS    float64 `json:"window_s"`
	// Per round: millicores per added viewer (first count to last) of the
	// edge, of the single node's server process (without its decode
	// child, whose work does not depend on viewers but whose noise is
	// larger than what 50 viewers add) and of the whole single node, and
	// edge / single node process.
	EdgeMC      []float64 `json:"edge_millicores_per_viewer"`
	SingleMC    []float64 `json:"single_process_millicores_per_viewer"`
	SingleAllMC []float64 `json:"single_millicores_per_viewer"`
	Ratio       []float64 `json:"ratio"`
	// Cores per count and round; SingleOwnCores is the single node's
	// server process alone.
	EdgeCores      [][]float64 `json:"edge_cores"`
	SingleCores    [][]float64 `json:"single_cores"`
	SingleOwnCores [][]float64 `json:"single_process_cores"`
	IngestCores    [][]float64 `json:"ingest_cores"`
	NATSCores      [][]float64 `json:"nats_cores"`
	// SessionWrites: writes per second to the sessions KV bucket (all
	// edges: the delivered positions of connected sessions, flushed every
	// 2 s).
	SessionWrites [][]float64 `json:"session_kv_writes_per_s"`
	// Latency per count and round, ms.
	EdgeLatP50   [][]float64 `json:"edge_lat_p50_ms"`
	EdgeLatP99   [][]float64 `json:"edge_lat_p99_ms"`
	SingleLatP50 [][]float64 `json:"single_lat_p50_ms"`
	SingleLatP99 [][]float64 `json:"single_lat_p99_ms"`
	Load1        []float64   `json:"load1"`
	// The NATS server (1-3) the ingest and edge 1 were connected to in the
	// CPU and latency windows; 0 if unknown.
	IngestNATS int `json:"ingest_nats_server"`
	EdgeNATS   int `json:"edge_nats_server"`
	// Failover: time from the connection drop to the first frame from
	// the other edge, and from the SIGKILL.
	Failovers   int       `json:"failovers"`
	Failed      int       `json:"failovers_failed"`
	NotResumed  int       `json:"not_resumed"`
	FailoverMS  []float64 `json:"failover_ms"`
	FromKillMS  []float64 `json:"failover_from_kill_ms"`
	FailoverP50 float64   `json:"failover_p50_ms"`
	FailoverP99 float64   `json:"failover_p99_ms"`
	FailoverMax float64   `json:"failover_max_ms"`
}

func newClusterSummary(run string, viewers []int, rounds int) *clusterSummary {
	grid := func() [][]float64 { return make([][]float64, len(viewers)) }
	return &clusterSummary{Kind: "cluster", Run: run, Viewers: viewers, Rounds: rounds,
		EdgeCores: grid(), SingleCores: grid(), SingleOwnCores: grid(), IngestCores: grid(), NATSCores: grid(), SessionWrites: grid(),
		EdgeLatP50: grid(), EdgeLatP99: grid(), SingleLatP50: grid(), SingleLatP99: grid()}
}

// cluster runs the scenario.
func (b *bench) cluster(ctx context.Context) error {
	if b.external {
		return fmt.Errorf("needs servers the bench starts")
	}
	dir, err := os.MkdirTemp("", "livemon-bench-cluster-")
	if err != nil {
		return err
	}
	if !b.o.keep {
		defer os.RemoveAll(dir)
	}
	nodes, err := b.startCluster(dir)
	if err != nil {
		return err
	}
	defer func() {
		if err := nodes.stop(); err != nil {
			b.logf("  warning: cluster stop: %v", err)
		}
	}()
	// The same input through an edge: it lands in the object store and the
	// ingest that takes the camera plays it.
	if _, err := nodes.edges[0].upload(mainCamera, b.input); err != nil {
		return fmt.Errorf("upload through edge 1: %w", err)
	}
	for _, e := range nodes.edges {
		if _, err := e.waitUntil(60*time.Second, func(st stats) bool {
			c, ok := st.camera(mainCamera)
			return ok && c.State == "running"
		}); err != nil {
			return fmt.Errorf("cluster camera not running on edge %s: %w", e.host, err)
		}
	}

	sum := newClusterSummary(b.run, b.o.clusterViewers, b.o.clusterRounds)
	sum.Transport = string(b.o.clusterTransport)
	if cl, err := nodes.nats.clients(); err == nil {
		// Node names end in "/" + listen address (cmd/livemon nodeName).
		sum.IngestNATS = serverOf(cl, "/"+nodes.ingest.host) + 1
		sum.EdgeNATS = serverOf(cl, "/"+nodes.edges[0].host) + 1
		b.logf("  NATS server of the ingest: %d, of edge 1: %d (a frame crosses a route between NATS servers when they differ)", sum.IngestNATS, sum.EdgeNATS)
	}
	for rd := range b.o.clusterRounds {
		var edge, single, singleOwn []float64
		complete := true
		for i, n := range b.o.clusterViewers {
			if err := ctx.Err(); err != nil {
				return err
			}
			out, err := b.clusterStep(ctx, nodes, n)
			if err != nil {
				return err
			}
			re, rs, ri, nats := out.edge, out.single, out.ingest, out.natsCores
			note := fmt.Sprintf("round %d of %d; the same window as the other cluster rows of %d viewers", rd+1, b.o.clusterRounds, n)
			re.Notes, rs.Notes = note, note
			ri.Notes = fmt.Sprintf("%s; the ingest and its decode child, whatever the viewers; the 3 NATS servers used %.3f cores; session KV writes %.1f/s", note, nats, out.sessionWrites)
			b.add(re)
			b.add(rs)
			b.add(ri)
			if re.Errors > 0 || rs.Errors > 0 {
				// A viewer failed: the window's figures are not those of n
				// viewers. The rows stay in the table with their errors.
				b.logf("  warning: round %d, %d viewers: viewer errors (edge %d, single node %d); the window is left out of the summary", rd+1, n, re.Errors, rs.Errors)
				complete = false
				continue
			}
			edge, single, singleOwn = append(edge, re.ServerCores), append(single, rs.ServerCores), append(singleOwn, rs.ServerOwnCores)
			sum.EdgeCores[i] = append(sum.EdgeCores[i], re.ServerCores)
			sum.SingleCores[i] = append(sum.SingleCores[i], rs.ServerCores)
			sum.SingleOwnCores[i] = append(sum.SingleOwnCores[i], rs.ServerOwnCores)
			sum.IngestCores[i] = append(sum.IngestCores[i], ri.ServerCores)
			sum.NATSCores[i] = append(sum.NATSCores[i], round(nats, 3))
			sum.SessionWrites[i] = append(sum.SessionWrites[i], round(out.sessionWrites, 1))
			sum.EdgeLatP50[i] = append(sum.EdgeLatP50[i], re.LatP50)
			sum.EdgeLatP99[i] = append(sum.EdgeLatP99[i], re.LatP99)
			sum.SingleLatP50[i] = append(sum.SingleLatP50[i], rs.LatP50)
			sum.SingleLatP99[i] = append(sum.SingleLatP99[i], rs.LatP99)
			sum.Load1 = append(sum.Load1, re.Load1)
			sum.WindowS = re.WindowS
		}
		if !complete {
			sum.Incomplete++
			continue
		}
		sum.addRound(edge, singleOwn, single)
		k := len(sum.Ratio) - 1
		b.logf("  round %d: %.2f vs %.2f millicores per added viewer (edge vs single node's process; with its decode child %.2f): %.2fx", rd+1,
			sum.EdgeMC[k], sum.SingleMC[k], sum.SingleAllMC[k], sum.Ratio[k])
	}

	if err := b.failovers(ctx, nodes, sum); err != nil {
		return err
	}
	b.clusterSum = sum
	b.jsonl(sum)
	b.logf("  failover: first frame p50 %.0f ms, p99 %.0f ms over %d (failed %d, not resumed %d)",
		sum.FailoverP50, sum.FailoverP99, len(sum.FailoverMS), sum.Failed, sum.NotResumed)
	return nil
}

// addRound records one round's per-viewer cost from the cores at each
// viewer count (in the order of Viewers): the edge's, the single node's
// server process's and the whole single node's.
func (s *clusterSummary) addRound(edge, single, singleAll []float64) {
	last := len(s.Viewers) - 1
	dv := float64(s.Viewers[last] - s.Viewers[0])
	per := func(c []float64) float64 { return 1000 * (c[last] - c[0]) / dv }
	e, g := per(edge), per(single)
	s.EdgeMC = append(s.EdgeMC, round(e, 3))
	s.SingleMC = append(s.SingleMC, round(g, 3))
	s.SingleAllMC = append(s.SingleAllMC, round(per(singleAll), 3))
	s.Ratio = append(s.Ratio, round(e/nonZero(g), 2))
}

// clusterStepOut is one window of the cluster scenario.
type clusterStepOut struct {
	edge, single, ingest result  // rows
	natsCores            float64 // the 3 NATS servers
	sessionWrites        float64 // per second, to KV livemon-sessions
}

// clusterStep watches edge 1 and the single node with n viewers each over
// the same window.
func (b *bench) clusterStep(ctx context.Context, nodes *clusterNodes, n int) (out clusterStepOut, err error) {
	d := b.o.duration
	hosts := []*server{nodes.edges[0], b.srv}
	groups := make([]*group, len(hosts))
	for i, s := range hosts {
		cfgs := make([]viewerConfig, n)
		for k := range cfgs {
			cfgs[k] = viewerConfig{transport: b.o.clusterTransport, host: s.host, camera: mainCamera, expect: b.expect(d)}
		}
		groups[i] = b.startGroup(cfgs)
	}
	defer func() {
		for _, g := range groups {
			g.closeAll()
		}
		for _, s := range hosts {
			b.waitReleased(s)
		}
	}()
	for i, g := range groups {
		if bad := g.waitFirst(ctx, 20*time.Second); bad > 0 {
			b.logf("  warning: %s: %d of %d viewers got no first frame (%v)", hosts[i].host, bad, n, firstErr(g))
		}
	}
	if err = sleepCtx(ctx, b.o.warmup); err != nil {
		return
	}
	procs := append([]*server{nodes.edges[0], b.srv, nodes.ingest}, nodes.nats.srvs...)
	seq0 := nodes.nats.streamSeqs()
	ws, err := b.measureProcs(ctx, d, procs, 2)
	if err != nil {
		return
	}
	const sessions = "KV_livemon-sessions"
	if seq1 := nodes.nats.streamSeqs(); seq0 != nil && seq1 != nil {
		out.sessionWrites = float64(seq1[sessions]-seq0[sessions]) / (float64(ws[0].end-ws[0].start) / 1e9)
	}
	for _, g := range groups {
		g.closeAll()
	}
	rows := []*result{&out.edge, &out.single, &out.ingest}
	for i, name := range []string{"cluster: edge", "cluster: single node", "cluster: ingest"} {
		r := rows[i]
		*r = result{Scenario: name, Viewers: n, Cameras: 1, SourceFPS: b.sourceFPS}
		if i < len(groups) {
			r.Transport = string(b.o.clusterTransport)
			analysis{winStart: ws[i].start, winEnd: ws[i].end}.fill(r, groups[i].vs)
			b.fillWindow(r, ws[i], mainCamera)
			continue
		}
		r.FPSMin, r.FPSMedian, r.GapP50, r.GapP99, r.GapMax, r.LatP50, r.LatP99, r.TTFFP50, r.TTFFP99, r.TTFFMax = -1, -1, -1, -1, -1, -1, -1, -1, -1, -1
		r.PublishedFPS = -1
		b.fillWindow(r, ws[i])
	}
	for _, w := range ws[3:] {
		out.natsCores += w.cpu.Server
	}
	return out, nil
}

// firstErr is the first error of g's viewers, if any.
func firstErr(g *group) error {
	for _, v := range g.vs {
		if err := v.snapshot().err; err != nil {
			return err
		}
	}
	return nil
}

// measureProcs sleeps for d while recording the CPU and peak RSS of each
// process (and its descendants); the first withAPI of them are livemon
// servers whose /api/stats counters the windows keep. Other cores are
// the machine's busy time minus all of them and the bench.
func (b *bench) measureProcs(ctx context.Context, d time.Duration, procs []*server, withAPI int) ([]window, error) {
	ws := make([]window, len(procs))
	c0 := make([]cpuSnap, len(procs))
	load := loadAvg()
	for i, s := range procs {
		ws[i].load1 = load
		if i < withAPI {
			ws[i].st0, _ = s.stats()
		}
		ws[i].peakReset = resetPeakRSS(s.pid)
	}
	for i, s := range procs {
		c0[i] = snapCPU(s.pid)
	}
	start := b.mono()
	if err := sleepCtx(ctx, d); err != nil {
		return nil, err
	}
	end := b.mono()
	var sum float64
	for i, s := range procs {
		c1 := snapCPU(s.pid)
		ws[i].start, ws[i].end = start, end
		ws[i].cpu = cpuBetween(c0[i], c1)
		ws[i].children = c1.children
		sum += ws[i].cpu.Server
	}
	for i, s := range procs {
		// cpuBetween's Other left out only this process and the bench.
		ws[i].cpu.Other = max(ws[i].cpu.Other+ws[i].cpu.Server-sum, 0)
		ws[i].peakKB, ws[i].childKB = peakRSS(s.pid)
		if i < withAPI {
			ws[i].st1, _ = s.stats()
		}
	}
	return ws, nil
}

// failovers kills edge 1 under a viewer --failovers times; the viewer
// resumes its session on edge 2 as soon as its connection drops (a client
// that reconnects at once, to the next edge of its list). Each try is
// bounded: 10 s for a first frame on each side, 5 s for the drop.
func (b *bench) failovers(ctx context.Context, nodes *clusterNodes, sum *clusterSummary) error {
	sum.Failovers = b.o.failovers
	for i := range b.o.failovers {
		if err := ctx.Err(); err != nil {
			return err
		}
		ms, fromKill, resumed, err := b.failoverOnce(ctx, nodes)
		if err != nil {
			sum.Failed++
			b.logf("  failover %d: %v", i+1, err)
		} else {
			sum.FailoverMS = append(sum.FailoverMS, round(ms, 1))
			sum.FromKillMS = append(sum.FromKillMS, round(fromKill, 1))
			if !resumed {
				sum.NotResumed++
			}
		}
		if nodes.edges[0].exited() {
			if err := nodes.restartEdge(0); err != nil {
				return err
			}
		}
	}
	sum.FailoverP50 = round(quantile(sum.FailoverMS, 0.5), 1)
	sum.FailoverP99 = round(quantile(sum.FailoverMS, 0.99), 1)
	sum.FailoverMax = round(maxOf(sum.FailoverMS), 1)
	return nil
}

// failoverOnce is one kill: it returns the milliseconds from the viewer's
// connection drop, and from the SIGKILL, to its first frame from edge 2,
// and whether edge 2 resumed the session.
func (b *bench) failoverOnce(ctx context.Context, nodes *clusterNodes) (fromDrop, fromKill float64, resumed bool, err error) {
	a := b.startGroup([]viewerConfig{{transport: transportWS, host: nodes.edges[0].host, camera: mainCamera, expect: b.expect(2 * time.Second)}})
	defer a.closeAll()
	if a.waitFirst(ctx, 10*time.Second) > 0 {
		return 0, 0, false, fmt.Errorf("no first frame on edge 1: %v", a.vs[0].snapshot().err)
	}
	// A second of frames: the session is stored and has positions.
	if err := sleepCtx(ctx, time.Second); err != nil {
		return 0, 0, false, err
	}
	killed := time.Now()
	nodes.edges[0].kill()
	if !a.vs[0].wait(5 * time.Second) {
		return 0, 0, false, errors.New("the viewer's connection did not drop within 5 s of the SIGKILL")
	}
	st := a.vs[0].snapshot()
	if st.ended.IsZero() || st.session == "" {
		return 0, 0, false, fmt.Errorf("viewer ended without a drop or a session: %v", st.err)
	}
	bg := b.startGroup([]viewerConfig{{transport: transportWS, host: nodes.edges[1].host, camera: mainCamera, session: st.session, expect: b.expect(time.Second)}})
	defer bg.closeAll()
	if bg.waitFirst(ctx, 10*time.Second) > 0 {
		return 0, 0, false, fmt.Errorf("no first frame on edge 2 within 10 s: %v", bg.vs[0].snapshot().err)
	}
	s2 := bg.vs[0].snapshot()
	first := b.base.Add(time.Duration(s2.first.mono))
	return ms(first.Sub(st.ended)), ms(first.Sub(killed)), s2.resumed, nil
}

// clusterTargets compares the scenario with issue 16's goals.
func (b *bench) clusterTargets(add func(name, goal string, v float64, unit string, met func(float64) bool, measured bool), le func(float64) func(float64) bool, info func()) {
	s := b.clusterSum
	if s == nil {
		add("cluster: CPU per added viewer, edge / single node", "<= 1.2", 0, "x", nil, false)
		add("cluster: latency NATS adds, p99", "<= 10 ms", 0, "ms", nil, false)
		add("cluster: first frame after an edge failover, p99", "<= 3000 ms", 0, "ms", nil, false)
		return
	}
	add("cluster: CPU per added viewer, edge / single node (median of rounds)", "<= 1.2", median(s.Ratio), "x", le(1.2), len(s.Ratio) > 0)
	add("cluster: latency NATS adds, p99 (largest over viewer counts of the median over rounds)", "<= 10 ms", s.addedP99(), "ms", le(10), true)
	add("cluster: first frame after an edge failover, p99", "<= 3000 ms", s.FailoverP99, "ms", le(3000), len(s.FailoverMS) > 0)
	add("cluster: ingest CPU spread over viewer counts (max - min of the medians)", "independent of viewers", s.ingestSpread(), "cores", func(float64) bool { return true }, true)
	info()
}

// addedP99 is the largest, over viewer counts, of the median over rounds
// of edge p99 minus single-node p99.
func (s *clusterSummary) addedP99() float64 {
	worst := math.Inf(-1)
	for i := range s.Viewers {
		worst = max(worst, s.addedAt(i, s.EdgeLatP99, s.SingleLatP99))
	}
	return worst
}

// addedAt is the median over rounds of edge minus single at count i.
func (s *clusterSummary) addedAt(i int, edge, single [][]float64) float64 {
	var d []float64
	for r := range edge[i] {
		if edge[i][r] >= 0 && single[i][r] >= 0 {
			d = append(d, edge[i][r]-single[i][r])
		}
	}
	return median(d)
}

// ingestSpread is the largest minus the smallest of the ingest's median
// cores per viewer count.
func (s *clusterSummary) ingestSpread() float64 {
	var ms []float64
	for _, c := range s.IngestCores {
		ms = append(ms, median(c))
	}
	return maxOf(ms) - minOf(ms)
}

// printCluster writes the scenario's summary tables.
func printCluster(w io.Writer, s *clusterSummary) {
	if s == nil {
		return
	}
	fmt.Fprintf(w, "Cluster (3 NATS servers, 1 ingest, 2 edges) against one --role all node, one 720p30 camera each, %s viewers on edge 1 and on the single node in the same %.0f s windows, %d rounds; ranges over rounds:\n\n", s.Transport, s.WindowS, s.Rounds)
	fmt.Fprintln(w, "| viewers (each side) | edge cores | single node process cores | single node with decode child | ingest cores (with decode child) | NATS cores | session KV writes/s | edge lat p50 / p99 ms | single lat p50 / p99 ms | added p50 / p99 ms (median) |")
	fmt.Fprintln(w, "|---:|---|---|---|---|---|---|---|---|---|")
	for i, n := range s.Viewers {
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s / %s |\n", n,
			span(s.EdgeCores[i], 3), span(s.SingleOwnCores[i], 3), span(s.SingleCores[i], 3), span(s.IngestCores[i], 3), span(s.NATSCores[i], 3), span(s.SessionWrites[i], 1),
			span(s.EdgeLatP50[i], 1), span(s.EdgeLatP99[i], 1), span(s.SingleLatP50[i], 1), span(s.SingleLatP99[i], 1),
			signed(s.addedAt(i, s.EdgeLatP50, s.SingleLatP50)), signed(s.addedAt(i, s.EdgeLatP99, s.SingleLatP99)))
	}
	route := "the same NATS server"
	if s.IngestNATS != s.EdgeNATS {
		route = fmt.Sprintf("different NATS servers (%d and %d): frames cross a route", s.IngestNATS, s.EdgeNATS)
	}
	fmt.Fprintf(w, "\nThe ingest and edge 1 used %s.\n", route)
	if s.Incomplete > 0 {
		fmt.Fprintf(w, "\n%d of %d rounds had viewer errors in a window (see the rows): left out of the figures here.\n", s.Incomplete, s.Rounds)
	}
	fmt.Fprintf(w, "\nCPU per added viewer (%d to %d viewers), per round: edge %s millicores, single node's process %s (with its decode child %s), edge / single %s; load average %s.\n",
		s.Viewers[0], s.Viewers[len(s.Viewers)-1], list(s.EdgeMC, 2), list(s.SingleMC, 2), list(s.SingleAllMC, 2), list(s.Ratio, 2), span(s.Load1, 1))
	fmt.Fprintf(w, "\nEdge failover (SIGKILL under a viewer, which resumes its session on the other edge at once), %d of %d tries: first frame p50 %.0f ms, p99 %.0f ms, max %.0f ms after the connection dropped (from the kill: p50 %.0f ms); not resumed %d.\n",
		len(s.FailoverMS), s.Failovers, s.FailoverP50, s.FailoverP99, s.FailoverMax, quantile(s.FromKillMS, 0.5), s.NotResumed)
}

// list formats xs as "a, b, c".
func list(xs []float64, digits int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.*f", digits, x)
	}
	return strings.Join(parts, ", ")
}

// signed formats a difference with one decimal, "-" if unknown (NaN).
func signed(x float64) string {
	if math.IsNaN(x) {
		return "-"
	}
	return fmt.Sprintf("%.1f", x)
}

// span formats the range of xs ("a-b", or "a" when they are equal),
// leaving out the -1 of "not measured"; "-" if none is left.
func span(xs []float64, digits int) string {
	xs = slices.DeleteFunc(slices.Clone(xs), func(x float64) bool { return x < 0 })
	if len(xs) == 0 {
		return "-"
	}
	lo, hi := num(minOf(xs), digits), num(maxOf(xs), digits)
	if lo == hi {
		return lo
	}
	return lo + "-" + hi
}
