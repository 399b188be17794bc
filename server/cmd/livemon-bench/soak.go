package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/livemon/livemon/server/internal/fakecam"
)

// The soak (issue 17): `livemon-bench soak` runs the real binary for
// --duration under churn and faults at once and fails unless nothing
// leaked and nothing was lost. docs/reliability.md explains it.
//
// Cameras: "loop" (uploaded, looping), "once" (uploaded, not looping),
// "mjpeg" and "rtsp" (in-process fake cameras that go down every few
// minutes). Clients: WebSocket viewers that connect, watch, resume,
// reload and leave at random; MJPEG viewers that come and go; stalled
// viewers that never read. Operator: every minute an upload (good,
// aborted halfway or invalid), speed and loop changes and a camera
// restart; every 10 minutes a decode child SIGKILLed; at 40 % of the run
// the server is stopped with SIGTERM and started again, at 70 % killed
// with SIGKILL and started again. Every --sample the sampler writes one
// JSON line; the checks at the end read them.

// soak camera ids.
const (
	camLoop  = "loop"
	camOnce  = "once"
	camMJPEG = "mjpeg"
	camRTSP  = "rtsp"
)

var soakCameras = []string{camLoop, camOnce, camMJPEG, camRTSP}

// soakOptions are the soak's flags.
type soakOptions struct {
	serverBin  string
	out        string
	duration   time.Duration
	sample     time.Duration
	warmup     time.Duration
	wsViewers  int
	mjpegN     int
	stalled    int
	sessionTTL time.Duration
	operator   time.Duration // operator tick (uploads, changes, restarts)
	plot       string
	keep       bool
}

func parseSoakOptions(args []string, stderr io.Writer) (soakOptions, error) {
	var o soakOptions
	fs := flag.NewFlagSet("livemon-bench soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.serverBin, "server", "bin/livemon", "livemon binary to start")
	fs.StringVar(&o.out, "out", "bench/results", "directory for results (JSON lines, summary, plot, server logs)")
	fs.DurationVar(&o.duration, "duration", 60*time.Minute, "length of the soak (at least 2m)")
	fs.DurationVar(&o.sample, "sample", 10*time.Second, "sampling interval")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Minute, "skipped at the start of every server life before fitting slopes (at most a quarter of the life)")
	fs.IntVar(&o.wsViewers, "ws-viewers", 50, "WebSocket viewers with churn")
	fs.IntVar(&o.mjpegN, "mjpeg-viewers", 10, "MJPEG viewers with churn")
	fs.IntVar(&o.stalled, "stalled", 3, "stalled viewers (WebSocket and MJPEG alternately) that never read")
	fs.DurationVar(&o.sessionTTL, "session-ttl", 2*time.Minute, "server --session-ttl (short, so expiry shows within the run)")
	fs.DurationVar(&o.operator, "operator-interval", time.Minute, "interval of uploads, speed/loop changes and camera restarts")
	fs.StringVar(&o.plot, "plot", "", "also write the SVG plot here (e.g. docs/reliability-soak.svg)")
	fs.BoolVar(&o.keep, "keep", false, "keep the server's data dir")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.duration < 2*time.Minute || o.duration > 24*time.Hour:
		return o, errors.New("--duration: 2m to 24h")
	case o.sample < time.Second || o.sample > time.Minute:
		return o, errors.New("--sample: 1s to 1m")
	case o.wsViewers < 1 || o.wsViewers > 500 || o.mjpegN < 0 || o.mjpegN > 200 || o.stalled < 0 || o.stalled > 20:
		return o, errors.New("--ws-viewers 1-500, --mjpeg-viewers 0-200, --stalled 0-20")
	case o.sessionTTL < 30*time.Second:
		return o, errors.New("--session-ttl: at least 30s (viewers pause up to 20s before resuming)")
	case o.operator < 10*time.Second:
		return o, errors.New("--operator-interval: at least 10s")
	}
	return o, nil
}

// soak is one run.
type soak struct {
	o       soakOptions
	runID   string
	prefix  string
	dataDir string
	addr    string
	began   time.Time
	logf    func(string, ...any)
	videos  [2]string // good uploads (marker video 1 and 2)
	invalid string    // a file that is not a video

	jmu sync.Mutex
	enc *json.Encoder

	mu        sync.Mutex
	srv       *server // nil while the server is down
	life      int
	lifeStart []float64 // start of every server life, seconds since began
	children  map[int]string
	orphans   []string
	fails     map[string]int    // assertion failures by kind
	examples  map[string]string // first example of each failure kind
	noted     map[string]bool   // client errors logged already
	counts    map[string]int    // what happened, by kind
	created   []time.Time       // new WebSocket sessions
	srvUp     chan struct{}     // closed while the server is up; replaced when it goes down
}

// event records something that happened (a fault, an operator action).
type soakEvent struct {
	Kind  string  `json:"kind"` // "event"
	T     float64 `json:"t"`
	What  string  `json:"what"`
	Note  string  `json:"note,omitempty"`
	Error string  `json:"error,omitempty"`
}

func (s *soak) since() float64 { return time.Since(s.began).Seconds() }

func (s *soak) jsonl(v any) {
	s.jmu.Lock()
	defer s.jmu.Unlock()
	_ = s.enc.Encode(v)
}

func (s *soak) event(what, note string, err error) {
	e := soakEvent{Kind: "event", T: s.since(), What: what, Note: note}
	if err != nil {
		e.Error = err.Error()
	}
	s.jsonl(e)
	s.count(what)
	if err != nil {
		s.logf("%s %s: %v", what, note, err)
	} else {
		s.logf("%s %s", what, note)
	}
}

// fail records an assertion failure of kind with a description.
func (s *soak) fail(kind, format string, a ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails[kind]++
	if _, ok := s.examples[kind]; !ok {
		msg := fmt.Sprintf(format, a...)
		s.examples[kind] = fmt.Sprintf("t=%.0fs %s", s.since(), msg)
		s.logf("FAIL %s: %s", kind, msg)
	}
}

// note counts an error of kind and logs the first few distinct ones.
func (s *soak) note(kind string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[kind]++
	msg := err.Error()
	if s.noted[msg] || len(s.noted) > 50 {
		return
	}
	s.noted[msg] = true
	s.logf("%s: %s", kind, msg)
}

func (s *soak) count(kind string) {
	s.mu.Lock()
	s.counts[kind]++
	s.mu.Unlock()
}

// current returns the running server and a channel closed while it is up
// (never closed while it is down).
func (s *soak) current() (*server, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv, s.srvUp
}

// waitUp waits until the server is up or ctx ends.
func (s *soak) waitUp(ctx context.Context) (*server, bool) {
	for range 1000 {
		srv, up := s.current()
		select {
		case <-up:
			if srv != nil {
				return srv, true
			}
		case <-ctx.Done():
			return nil, false
		}
		// The server went down between the two reads: wait again.
	}
	return nil, false
}

func runSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseSoakOptions(args, stderr)
	if err != nil {
		return err
	}
	s := &soak{o: o, began: time.Now(), children: map[int]string{}, fails: map[string]int{}, examples: map[string]string{}, noted: map[string]bool{},
		counts: map[string]int{}, srvUp: make(chan struct{})}
	s.runID = s.began.UTC().Format("20060102T150405Z")
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	s.prefix = filepath.Join(o.out, "soak-"+s.runID)
	jf, err := os.Create(s.prefix + ".jsonl")
	if err != nil {
		return err
	}
	defer jf.Close()
	s.enc = json.NewEncoder(jf)
	s.logf = func(format string, a ...any) {
		fmt.Fprintf(stdout, "[%6.0fs] %s\n", time.Since(s.began).Seconds(), fmt.Sprintf(format, a...))
	}
	mach := describeMachine(s.runID)
	mach.Kind = "machine"
	s.jsonl(mach)
	s.jsonl(map[string]any{"kind": "config", "duration_s": o.duration.Seconds(), "sample_s": o.sample.Seconds(),
		"warmup_s": o.warmup.Seconds(), "ws_viewers": o.wsViewers, "mjpeg_viewers": o.mjpegN, "stalled": o.stalled,
		"session_ttl_s": o.sessionTTL.Seconds(), "operator_s": o.operator.Seconds(), "thresholds": soakThresholds})
	s.logf("soak %s for %v: %d WebSocket + %d MJPEG viewers with churn, %d stalled; results in %s.*", s.runID, o.duration, o.wsViewers, o.mjpegN, o.stalled, s.prefix)

	if err := s.makeInputs(ctx); err != nil {
		return err
	}
	s.dataDir, err = os.MkdirTemp("", "livemon-soak-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(s.dataDir)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	// Fake live cameras, in this process.
	fctx, fcancel := context.WithCancel(context.Background())
	defer fcancel()
	mcam := fakecam.New(fakecam.Config{FPS: 10, Width: 320, Height: 180, VideoID: 7})
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	msrv := &http.Server{Handler: mcam.Handler(), ReadHeaderTimeout: 5 * time.Second}
	mdone := make(chan struct{})
	go func() { defer close(mdone); _ = msrv.Serve(mln) }()
	defer func() { _ = msrv.Close(); <-mdone }()
	rcam := fakecam.New(fakecam.Config{FPS: 10, Width: 320, Height: 180})
	rt, err := rcam.ServeRTSP(fctx, fakecam.RTSPConfig{Width: 320, Height: 180, FPS: 10, ClipSeconds: 4})
	if err != nil {
		return fmt.Errorf("fake RTSP camera: %w", err)
	}
	defer rt.Close()

	if err := s.startServer(); err != nil {
		return err
	}
	defer s.stopServer(false)
	if err := s.setupCameras(ctx, "http://"+mln.Addr().String()+"/mjpeg", rt.URL(fakecam.PathH264)); err != nil {
		return err
	}
	s.logf("server pid %d on %s, data %s; cameras %s", s.srv.pid, s.addr, s.dataDir, strings.Join(soakCameras, ", "))

	// The churn, until the end of the run.
	wctx, wcancel := context.WithTimeout(ctx, o.duration)
	defer wcancel()
	var wg sync.WaitGroup
	spawn := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	spawn(func() { s.sampler(wctx) })
	for i := range o.wsViewers {
		spawn(func() { s.wsViewer(wctx, i, false) })
	}
	for i := range o.mjpegN {
		spawn(func() { s.mjpegViewer(wctx, i, false) })
	}
	for i := range o.stalled {
		if i%2 == 0 {
			spawn(func() { s.wsViewer(wctx, 1000+i, true) })
		} else {
			spawn(func() { s.mjpegViewer(wctx, 1000+i, true) })
		}
	}
	spawn(func() { s.operatorLoop(wctx) })
	spawn(func() { s.flapLoop(wctx, mcam, camMJPEG, 3*time.Minute, 40*time.Second) })
	spawn(func() { s.flapLoop(wctx, rcam, camRTSP, 4*time.Minute, 100*time.Second) })
	spawn(func() { s.serverFaults(wctx) })
	<-wctx.Done()
	s.logf("churn over; waiting for the clients")
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(2 * time.Minute):
		s.fail("harness", "clients did not stop within 2 min")
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	mcam.SetMode(fakecam.ModeUp)
	rcam.SetMode(fakecam.ModeUp)

	s.finalChecks(ctx)
	s.stopServer(false)
	s.checkNoChildren("after the final stop")
	return s.report(stdout)
}

// makeInputs generates the uploads: two marker videos and a file that is
// not a video.
func (s *soak) makeInputs(ctx context.Context) error {
	dir := filepath.Join(s.o.out, "input")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := range s.videos {
		path := filepath.Join(dir, fmt.Sprintf("soak-320x180-15fps-150frames-v%d.avi", i+1))
		s.videos[i] = path
		if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
			continue
		}
		tmp := path + ".tmp.avi"
		gctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		out, err := exec.CommandContext(gctx, s.o.serverBin, "gen-video", "--out", tmp, "--video-id", strconv.Itoa(i+1),
			"--frames", "150", "--width", "320", "--height", "180", "--fps", "15", "--label", "soak").CombinedOutput()
		cancel()
		if err != nil {
			os.Remove(tmp)
			return fmt.Errorf("gen-video: %w: %s", err, out)
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	s.invalid = filepath.Join(dir, "soak-invalid.mp4")
	junk := bytes.Repeat([]byte("this is not a video, "), 20000)
	return os.WriteFile(s.invalid, junk, 0o644)
}

// startServer starts a server life on s.addr.
func (s *soak) startServer() error {
	s.mu.Lock()
	s.life++
	life := s.life
	s.mu.Unlock()
	var srv *server
	var err error
	for try := range 5 { // the port may still be held for a moment after a kill
		srv, err = startServer(serverOptions{bin: s.o.serverBin, dataDir: s.dataDir, addr: s.addr,
			logPath: fmt.Sprintf("%s-server-%d.log", s.prefix, life), quality: 80, maxFPS: 30, linger: 5 * time.Second,
			extra: []string{"--session-ttl", s.o.sessionTTL.String()}})
		if err == nil {
			break
		}
		s.logf("start server (try %d): %v", try+1, err)
		time.Sleep(time.Second)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.srv = srv
	s.lifeStart = append(s.lifeStart, s.since())
	close(s.srvUp)
	s.mu.Unlock()
	return nil
}

// stopServer stops the server: SIGTERM (kill false) or SIGKILL.
func (s *soak) stopServer(kill bool) error {
	s.mu.Lock()
	srv := s.srv
	if srv == nil {
		s.mu.Unlock()
		return nil
	}
	s.srv = nil
	s.srvUp = make(chan struct{})
	s.mu.Unlock()
	if !kill {
		return srv.stop()
	}
	srv.stopOnce.Do(func() {
		defer srv.log.Close()
		_ = srv.cmd.Process.Kill()
		<-srv.done
	})
	return nil
}

// setupCameras creates the four cameras and waits until each plays.
func (s *soak) setupCameras(ctx context.Context, mjpegURL, rtspURL string) error {
	if err := s.uploadFile(ctx, camLoop, s.videos[0]); err != nil {
		return err
	}
	if err := s.uploadFile(ctx, camOnce, s.videos[1]); err != nil {
		return err
	}
	if err := s.api(ctx, http.MethodPatch, "/api/cameras/"+camOnce, map[string]any{"loop": false}, nil); err != nil {
		return err
	}
	for id, url := range map[string]string{camMJPEG: mjpegURL, camRTSP: rtspURL} {
		if err := s.api(ctx, http.MethodPost, "/api/cameras", map[string]any{"id": id, "name": id, "source": map[string]string{"url": url}}, nil); err != nil {
			return err
		}
	}
	return nil
}

// ---- HTTP with the 5xx bookkeeping ----

// documented503 are the 503 codes docs/api.md lists.
var documented503 = []string{"over_capacity", "camera_limit", "decoder_limit", "upload_limit"}

// checkStatus records a 5xx answer that is not a documented 503.
func (s *soak) checkStatus(what string, status int, body []byte) {
	if status < 500 {
		return
	}
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	if status == http.StatusServiceUnavailable && slices.Contains(documented503, e.Error.Code) {
		s.count("503 " + e.Error.Code)
		return
	}
	s.fail("5xx", "%s: %d %s", what, status, bytes.TrimSpace(body))
}

// api sends a JSON request and decodes a 2xx answer into out.
func (s *soak) api(ctx context.Context, method, path string, in, out any) error {
	srv, ok := s.waitUp(ctx)
	if !ok {
		return ctx.Err()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, method, srv.url(path), body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return s.send(req, out)
}

func (s *soak) send(req *http.Request, out any) error { return doJSON(req, out, s.checkStatus) }

// uploadFile uploads path as camera's video.
func (s *soak) uploadFile(ctx context.Context, camera, path string) error {
	srv, ok := s.waitUp(ctx)
	if !ok {
		return ctx.Err()
	}
	body, ctype, err := multipartBody(path)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, srv.url("/api/cameras/"+camera+"/video"), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ctype)
	return s.send(req, nil)
}

// abortUpload sends half of a multipart upload announcing its full length,
// then closes the connection.
func (s *soak) abortUpload(ctx context.Context, camera, path string) error {
	srv, ok := s.waitUp(ctx)
	if !ok {
		return ctx.Err()
	}
	body, ctype, err := multipartBody(path)
	if err != nil {
		return err
	}
	c, err := net.DialTimeout("tcp", srv.host, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	head := fmt.Sprintf("POST /api/cameras/%s/video HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", camera, srv.host, ctype, len(body))
	if _, err := io.WriteString(c, head); err != nil {
		return err
	}
	_, err = c.Write(body[:len(body)/2])
	return err
}

func multipartBody(path string) ([]byte, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("video", filepath.Base(path))
	if err != nil {
		return nil, "", err
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// ---- operator and faults ----

// operatorLoop does, every --operator-interval, an upload (good, aborted
// halfway, good to the non-looping camera, invalid, in turn), a speed
// change, a loop change and a camera restart; every 10 intervals, starting
// at the second, it SIGKILLs a decode child.
func (s *soak) operatorLoop(ctx context.Context) {
	t := time.NewTicker(s.o.operator)
	defer t.Stop()
	speeds := []float64{2, 0.5, 4, 1}
	for k := 0; ; k++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		switch k % 4 {
		case 0:
			err := s.uploadFile(ctx, camLoop, s.videos[k/4%2])
			s.event("upload-good", camLoop, err)
		case 1:
			err := s.abortUpload(ctx, camLoop, s.videos[1])
			s.event("upload-aborted", camLoop, err)
		case 2:
			err := s.uploadFile(ctx, camOnce, s.videos[k/4%2])
			s.event("upload-good", camOnce, err)
		case 3:
			err := s.uploadFile(ctx, camOnce, s.invalid)
			var he *httpError
			if errors.As(err, &he) && (he.status == 415 || he.status == 422) {
				err = nil
			} else if err == nil {
				err = errors.New("an invalid upload was accepted")
				s.fail("invalid-upload", "an invalid upload was accepted")
			}
			s.event("upload-invalid", camOnce, err)
		}
		if ctx.Err() != nil {
			return
		}
		sp := speeds[k%len(speeds)]
		s.event("speed", fmt.Sprintf("%s %g", camLoop, sp), s.api(ctx, http.MethodPatch, "/api/cameras/"+camLoop, map[string]any{"speed": sp}, nil))
		loop := k%2 == 0
		s.event("loop", fmt.Sprintf("%s %v", camOnce, loop), s.api(ctx, http.MethodPatch, "/api/cameras/"+camOnce, map[string]any{"loop": loop}, nil))
		cam := soakCameras[k%len(soakCameras)]
		s.event("restart", cam, s.api(ctx, http.MethodPost, "/api/cameras/"+cam+"/restart", nil, nil))
		if k%10 == 1 {
			s.killDecodeChild()
		}
	}
}

// killDecodeChild SIGKILLs one of the server's decode children.
func (s *soak) killDecodeChild() {
	srv, _ := s.current()
	if srv == nil {
		return
	}
	var kids []int
	for _, c := range descendants(srv.pid) {
		if strings.Contains(cmdline(c), "decode-child") {
			kids = append(kids, c)
		}
	}
	if len(kids) == 0 {
		s.event("kill-child", "no decode child", nil)
		return
	}
	pid := kids[rand.IntN(len(kids))]
	err := syscall.Kill(pid, syscall.SIGKILL)
	s.event("kill-child", fmt.Sprintf("pid %d (of %d)", pid, len(kids)), err)
}

// cmdline returns the command line of pid, arguments space-separated.
func cmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
}

// flapLoop takes a fake camera down for a while every period, starting at
// offset.
func (s *soak) flapLoop(ctx context.Context, cam *fakecam.Camera, id string, period, offset time.Duration) {
	next := time.NewTimer(offset)
	defer next.Stop()
	for range 100000 {
		select {
		case <-ctx.Done():
			return
		case <-next.C:
		}
		down := time.Duration(5+rand.IntN(16)) * time.Second
		cam.SetMode(fakecam.ModeDown)
		s.event("camera-down", fmt.Sprintf("%s for %v", id, down), nil)
		select {
		case <-ctx.Done():
			cam.SetMode(fakecam.ModeUp)
			return
		case <-time.After(down):
		}
		cam.SetMode(fakecam.ModeUp)
		s.event("camera-up", id, nil)
		next.Reset(period - down)
	}
}

// serverFaults stops the server with SIGTERM at 40 % of the run and kills
// it with SIGKILL at 70 %, starting it again each time.
func (s *soak) serverFaults(ctx context.Context) {
	for _, f := range []struct {
		at   float64
		kill bool
	}{{0.4, false}, {0.7, true}} {
		at := time.Until(s.began.Add(time.Duration(f.at * float64(s.o.duration))))
		select {
		case <-ctx.Done():
			return
		case <-time.After(at):
		}
		srv, _ := s.current()
		kids := descendants(srv.pid)
		what := "server-sigterm"
		if f.kill {
			what = "server-sigkill"
		}
		began := time.Now()
		err := s.stopServer(f.kill)
		s.event(what, fmt.Sprintf("pid %d with %d children, stopped in %v", srv.pid, len(kids), time.Since(began).Round(time.Millisecond)), err)
		if err != nil {
			s.fail("server-stop", "%s: %v", what, err)
		}
		s.waitChildrenGone(kids, what)
		began = time.Now()
		if err := s.startServer(); err != nil {
			s.fail("server-start", "start after %s: %v", what, err)
			return
		}
		cur, _ := s.current()
		s.event("server-start", fmt.Sprintf("pid %d, healthy in %v", cur.pid, time.Since(began).Round(time.Millisecond)), nil)
	}
}

// waitChildrenGone checks the children of a stopped server exit within
// 5 s (they must not be orphaned).
func (s *soak) waitChildrenGone(kids []int, what string) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		var alive []int
		for _, k := range kids {
			if st, err := statFields(k); err == nil && st[0] != "Z" && strings.Contains(cmdline(k), "child") {
				alive = append(alive, k)
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.fail("orphan", "%s: children %v still alive 5 s later", what, alive)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkNoChildren checks no child process the sampler ever saw is alive.
func (s *soak) checkNoChildren(when string) {
	s.mu.Lock()
	kids := make([]int, 0, len(s.children))
	for pid := range s.children {
		kids = append(kids, pid)
	}
	s.mu.Unlock()
	s.waitChildrenGone(kids, when)
}
