package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/livemon/livemon/server/internal/fakecam"
	"github.com/livemon/livemon/server/internal/synth"
)

// The rtsp scenario (issue 14): the fake camera's RTSP side (in this
// process) serves a 1280x720 30 fps H.264 clip with a key frame a second;
// the server decodes it in a decode child. Rows: unwatched cost; CPU per
// frame against the same clip uploaded as a file (side by side, in turns);
// latency from the fake camera writing a frame to a viewer receiving it
// (the frame's marker index names it; the camera keeps each index's send
// time); the first frame of the first viewer of an unwatched camera.

const (
	liveRTSP  = "live-rtsp"
	rtspFile  = "rtsp-file"
	rtspTurns = 2
	// rtspClipS is the clip's length: an index is sent again only after
	// this long, far more than any latency measured.
	rtspClipS = 5
	// rtspRefresh is the server's refresh of an unwatched RTSP camera
	// (live.DefaultRTSPRefresh).
	rtspRefresh = 30 * time.Second
)

// rtspLatency collects the frames one viewer received and, off the
// viewer's reading goroutine, the latency of each from the camera's send.
type rtspLatency struct {
	rt   *fakecam.RTSP
	in   chan rtspFrame
	done chan struct{}

	mu       sync.Mutex
	lat      []float64 // ms
	unread   int       // frames without a readable marker
	late     int       // frames whose index had no send time
	dropped  int       // frames the decoder could not keep up with
	foreign  int       // markers of another video
	wantVid  int
	received int
}

// rtspSettle is how long after its first frame a viewer's frames do not
// count for latency: the decoder's first frames come from the packets it
// buffered while it opened the stream, a catch-up of up to a second that
// is not the steady state.
const rtspSettle = 2 * time.Second

type rtspFrame struct {
	at   time.Time
	jpeg []byte
}

func newRTSPLatency(rt *fakecam.RTSP) *rtspLatency {
	l := &rtspLatency{rt: rt, in: make(chan rtspFrame, 64), done: make(chan struct{}), wantVid: rt.VideoID(fakecam.PathH264)}
	go l.run()
	return l
}

// frame is the viewer's hook: it must not block.
func (l *rtspLatency) frame(at time.Time, jpeg []byte) {
	select {
	case l.in <- rtspFrame{at, jpeg}:
	default:
		l.mu.Lock()
		l.dropped++
		l.mu.Unlock()
	}
}

func (l *rtspLatency) run() {
	defer close(l.done)
	var first time.Time
	for f := range l.in {
		if first.IsZero() {
			first = f.at
		}
		if f.at.Sub(first) < rtspSettle {
			continue
		}
		video, index, ok := synth.ReadMarker(f.jpeg)
		l.mu.Lock()
		l.received++
		switch {
		case !ok:
			l.unread++
		case video != l.wantVid:
			l.foreign++
		default:
			if sent, ok := l.rt.SentAt(fakecam.PathH264, index); ok && !sent.After(f.at) {
				l.lat = append(l.lat, float64(f.at.Sub(sent).Microseconds())/1000)
			} else {
				l.late++
			}
		}
		l.mu.Unlock()
	}
}

// close stops the decoding goroutine and waits for it.
func (l *rtspLatency) close() {
	close(l.in)
	<-l.done
}

// rtsp runs the RTSP rows.
func (b *bench) rtsp(ctx context.Context) error {
	cam := fakecam.New(fakecam.Config{})
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	begin := time.Now()
	rt, err := cam.ServeRTSP(rctx, fakecam.RTSPConfig{Width: 1280, Height: 720, FPS: liveFPS, ClipSeconds: rtspClipS})
	if err != nil {
		return fmt.Errorf("fake RTSP camera: %w", err)
	}
	defer rt.Close()
	b.logf("  fake RTSP camera on %s (1280x720 H.264, %d fps, key frame every 1 s), clips encoded in %v", rt.URL(fakecam.PathH264), liveFPS, time.Since(begin).Round(time.Millisecond))
	clip, err := b.rtspClipFile(ctx, rt)
	if err != nil {
		return err
	}
	defer func() {
		for _, id := range []string{liveRTSP, rtspFile} {
			_ = b.srv.deleteCamera(id)
		}
		b.waitNoViewers()
	}()
	if err := b.addLive(ctx, liveRTSP, rt.URL(fakecam.PathH264), "rtsp"); err != nil {
		return err
	}
	saved := b.sourceFPS
	b.sourceFPS = liveFPS
	defer func() { b.sourceFPS = saved }()

	// Unwatched.
	if err := b.leaveUnwatched(ctx, liveRTSP); err != nil {
		return err
	}
	// One whole refresh period (30 s), so the window holds exactly one
	// refresh wherever it falls.
	w, err := b.measure(ctx, max(b.o.window, rtspRefresh))
	if err != nil {
		return err
	}
	r := result{Scenario: "live rtsp: unwatched", Cameras: 1, SourceFPS: liveFPS, LatP50: -1, LatP99: -1, TTFFP50: -1, TTFFP99: -1, FPSMin: -1, FPSMedian: -1, GapP50: -1, GapP99: -1, GapMax: -1, TTFFMax: -1}
	b.fillWindow(&r, w, liveRTSP)
	r.Notes = fmt.Sprintf("RTSP H.264 1280x720 at %d fps from the fake camera (in the bench process), measured from %v after the last viewer left; frames published in the window: %d (a one-frame refresh every 30 s: start a decode child, connect, decode to the next key frame, disconnect)",
		liveFPS, b.o.linger+time.Second, r.Published)
	b.add(r)

	// The same clip as a file camera.
	if _, err := b.srv.upload(rtspFile, clip); err != nil {
		return err
	}
	if _, err := b.srv.waitUntil(30*time.Second, func(st stats) bool {
		c, ok := st.camera(rtspFile)
		return ok && c.State == "running"
	}); err != nil {
		return fmt.Errorf("file camera of the clip not running: %w", err)
	}

	// CPU per frame, in turns, each camera watched by one viewer while the
	// other is stopped; latency during the RTSP turns.
	perFrame := map[string][]float64{}
	var lat []float64
	var unread, late, dropped, received int
	for turn := 0; turn < rtspTurns; turn++ {
		for _, id := range []string{liveRTSP, rtspFile} {
			other := rtspFile
			if id == rtspFile {
				other = liveRTSP
			}
			if err := b.srv.control(other, "stop"); err != nil {
				return err
			}
			if err := b.srv.control(id, "start"); err != nil {
				return err
			}
			cfg := viewerConfig{transport: transportWS, host: b.srv.host, camera: id, expect: b.expect(b.o.window)}
			var l *rtspLatency
			if id == liveRTSP {
				l = newRTSPLatency(rt)
				cfg.onJPEG = l.frame
			}
			r, err := b.watchConfigs(ctx, "rtsp vs file: "+id, transportWS, []viewerConfig{cfg}, b.o.window, false)
			if l != nil {
				l.close()
				lat = append(lat, l.lat...)
				unread, late, dropped, received = unread+l.unread, late+l.late, dropped+l.dropped, received+l.received
			}
			if err != nil {
				return err
			}
			if r.PublishedFPS > 0 && r.ServerCores > 0 {
				perFrame[id] = append(perFrame[id], 1000*r.ServerCores/r.PublishedFPS)
			}
			r.Notes = fmt.Sprintf("turn %d: %.2f ms of server CPU (server and decode child) per published frame at %.1f fps", turn+1, 1000*r.ServerCores/nonZero(r.PublishedFPS), r.PublishedFPS)
			b.add(r)
		}
	}
	if err := b.srv.control(rtspFile, "stop"); err != nil {
		return err
	}
	if err := b.srv.control(liveRTSP, "start"); err != nil {
		return err
	}
	var ratios []float64
	for i := range min(len(perFrame[liveRTSP]), len(perFrame[rtspFile])) {
		ratios = append(ratios, perFrame[liveRTSP][i]/perFrame[rtspFile][i])
	}
	r = result{Scenario: "live rtsp: cpu per frame vs file", Transport: string(transportWS), Viewers: 1, Cameras: 1, SourceFPS: liveFPS,
		LatP50: round(quantile(lat, 0.5), 1), LatP99: round(quantile(lat, 0.99), 1),
		TTFFP50: -1, TTFFP99: -1, TTFFMax: -1, FPSMin: -1, FPSMedian: -1, GapP50: -1, GapP99: -1, GapMax: -1, PublishedFPS: -1,
		ServerCores: -1, ServerSysCores: -1, ServerOwnCores: -1, ServerPeakMB: -1, LoadGenCores: -1, OtherCores: -1}
	r.Load1 = loadAvg()
	r.Extra = map[string]string{
		"rtsp_ms_per_frame": joinMs(perFrame[liveRTSP]),
		"file_ms_per_frame": joinMs(perFrame[rtspFile]),
		"ratio":             joinFixed(ratios, 3),
		"ratio_max":         fmt.Sprintf("%.3f", maxOf(ratios)),
		"latency_frames":    strconv.Itoa(len(lat)),
		"latency_max_ms":    fmt.Sprintf("%.1f", maxOf(lat)),
	}
	r.Notes = fmt.Sprintf("server CPU (server and decode child) per published frame, RTSP camera vs the same H.264 clip uploaded as a file, %d turns side by side: RTSP %s ms, file %s ms, ratio %s; latency = viewer receipt minus the fake camera's send of the frame's marker index, from 2 s after the viewer's first frame (the decoder's catch-up after opening is not steady state), over %d frames of %d received (%d without a marker, %d without a send time, %d not decoded in time)",
		rtspTurns, joinMs(perFrame[liveRTSP]), joinMs(perFrame[rtspFile]), joinFixed(ratios, 3), len(lat), received, unread, late, dropped)
	b.add(r)
	if err := b.srv.deleteCamera(rtspFile); err != nil {
		return err
	}

	// First frame for the first viewer of the unwatched camera.
	return b.liveFirstFrames(ctx, liveRTSP, "rtsp")
}

// rtspClipFile writes the camera's H.264 clip as an MP4 file (ffmpeg
// copies the stream, no re-encode) for the file camera.
func (b *bench) rtspClipFile(ctx context.Context, rt *fakecam.RTSP) (string, error) {
	dir := filepath.Join(b.o.out, "input")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	raw := filepath.Join(dir, "rtsp-clip.h264")
	out := filepath.Join(dir, "rtsp-clip.mp4")
	f, err := os.Create(raw)
	if err != nil {
		return "", err
	}
	err = rt.WriteClip(fakecam.PathH264, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write clip: %w", err)
	}
	defer os.Remove(raw)
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-framerate", strconv.Itoa(liveFPS), "-f", "h264", "-i", raw, "-c", "copy", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("mux clip: %w: %s", err, msg)
	}
	return out, nil
}

// rtspTargets adds issue 14's RTSP goals.
func (b *bench) rtspTargets(add func(name, goal string, v float64, unit string, met func(float64) bool, measured bool), le func(float64) func(float64) bool) {
	r, ok := b.find("live rtsp: unwatched", "", 0)
	add("live RTSP 720p30 camera, unwatched (whole server)", "<= 0.02 cores", r.ServerCores, "cores", le(0.02), ok)
	c, ok := b.find("live rtsp: cpu per frame vs file", string(transportWS), 1)
	ratio := math.NaN()
	if ok {
		if v, err := strconv.ParseFloat(c.Extra["ratio_max"], 64); err == nil {
			ratio = v
		}
	}
	add("RTSP H.264 720p30 to JPEG: CPU per frame vs the same video from a file (max of turns)", "<= 1.1x", ratio, "x", le(1.1), ok)
	add("RTSP: camera send to viewer receipt, p50", "(reported)", c.LatP50, "ms", le(100), ok)
	add("RTSP: camera send to viewer receipt, p99", "<= 100 ms", c.LatP99, "ms", le(100), ok)
	f, ok := b.find("live rtsp: first frame", string(transportWS), 1)
	fresh := math.NaN()
	if ok {
		if v, err := strconv.ParseFloat(f.Extra["fresh_max_ms"], 64); err == nil {
			fresh = v
		}
	}
	add(fmt.Sprintf("live rtsp: first viewer of an unwatched camera, subscribe to first frame (max of %d)", b.o.liveTries), "<= 1000 ms", f.TTFFMax, "ms", le(1000), ok)
	add(fmt.Sprintf("live rtsp: subscribe to the first frame decoded after it, 1 s key frames (max of %d)", b.o.liveTries), "<= 1000 ms", fresh, "ms", le(1000), ok)
}
