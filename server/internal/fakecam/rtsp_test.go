package fakecam

import (
	"context"
	"crypto/tls"
	"errors"
	"image"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"

	"github.com/livemon/livemon/server/internal/marker"
)

// testRTSP is the small camera the RTSP tests serve: 2 s clips of
// 320x180 at 30 fps.
var testRTSP = RTSPConfig{Width: 320, Height: 180, FPS: 30, ClipSeconds: 2}

// serveRTSP starts cam's RTSP side with cfg and closes it at cleanup.
func serveRTSP(t *testing.T, cam *Camera, cfg RTSPConfig) *RTSP {
	t.Helper()
	start := time.Now()
	r, err := cam.ServeRTSP(context.Background(), cfg)
	if err != nil {
		t.Fatalf("ServeRTSP: %v", err)
	}
	t.Logf("RTSP camera %dx%d, %d s clips, ready in %v", r.Config().Width, r.Config().Height, r.Config().ClipSeconds, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// unit is an access unit a reader received.
type unit struct {
	au  [][]byte
	pts int64 // 90 kHz, from the RTP timestamps
	key bool
}

// reader is a gortsplib client playing one path. Its callbacks hand the
// access units to units; when that is full they count a drop, which the
// tests that need every unit check.
type reader struct {
	c     *gortsplib.Client
	units chan unit
	drops chan struct{}
	done  chan struct{} // closed when the session has ended, with err set
	err   error
}

type readOptions struct {
	protocol gortsplib.Protocol
	scheme   string // default rtsp
	url      string
}

// read plays url's only media. It returns the error of DESCRIBE, SETUP or
// PLAY; the client is closed at cleanup.
func read(t *testing.T, o readOptions) (*reader, error) {
	t.Helper()
	u, err := base.ParseURL(o.url)
	if err != nil {
		t.Fatal(err)
	}
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &o.protocol}
	if u.Scheme == "rtsps" {
		c.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	rd := &reader{c: c, units: make(chan unit, 1024), drops: make(chan struct{}, 1), done: make(chan struct{})}
	started := false
	defer func() {
		if !started {
			c.Close()
		}
	}()
	desc, _, err := c.Describe(u)
	if err != nil {
		return nil, err
	}
	if len(desc.Medias) != 1 || len(desc.Medias[0].Formats) != 1 {
		t.Fatalf("medias %v", desc.Medias)
	}
	medi := desc.Medias[0]
	forma := medi.Formats[0]
	var decode func(*rtp.Packet) ([][]byte, error)
	var key func([][]byte) bool
	switch f := forma.(type) {
	case *format.H264:
		if f.SPS == nil || f.PPS == nil {
			t.Error("no SPS/PPS in the SDP")
		}
		d, err := f.CreateDecoder()
		if err != nil {
			t.Fatal(err)
		}
		decode, key = d.Decode, (&clip{codec: codecH264}).randomAccess
	case *format.H265:
		if f.VPS == nil || f.SPS == nil || f.PPS == nil {
			t.Error("no VPS/SPS/PPS in the SDP")
		}
		d, err := f.CreateDecoder()
		if err != nil {
			t.Fatal(err)
		}
		decode, key = d.Decode, (&clip{codec: codecH265}).randomAccess
	default:
		t.Fatalf("format %T", forma)
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return nil, err
	}
	c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		pts, ok := c.PacketPTS(medi, pkt)
		au, err := decode(pkt)
		if !ok || err != nil {
			return // more packets needed, or the stream's first packets
		}
		select {
		case rd.units <- unit{au: au, pts: pts, key: key(au)}:
		default:
			select {
			case rd.drops <- struct{}{}:
			default:
			}
		}
	})
	if _, err := c.Play(nil); err != nil {
		return nil, err
	}
	started = true
	go func() {
		rd.err = c.Wait()
		close(rd.done)
	}()
	t.Cleanup(func() {
		c.Close()
		<-rd.done
	})
	if got := c.Transport().Session.Protocol; got != o.protocol {
		t.Errorf("transport %v, want %v", got, o.protocol)
	}
	return rd, nil
}

func mustRead(t *testing.T, o readOptions) *reader {
	t.Helper()
	rd, err := read(t, o)
	if err != nil {
		t.Fatalf("read %s: %v", o.url, err)
	}
	return rd
}

func (rd *reader) next(t *testing.T) unit {
	t.Helper()
	select {
	case u := <-rd.units:
		return u
	case <-rd.done:
		t.Fatalf("session ended: %v", rd.err)
	case <-time.After(wait):
		t.Fatal("no access unit within", wait)
	}
	return unit{}
}

// nextKey skips to the next key frame.
func (rd *reader) nextKey(t *testing.T) unit {
	t.Helper()
	for range 4 * testRTSP.FPS {
		if u := rd.next(t); u.key {
			return u
		}
	}
	t.Fatalf("no key frame in %d access units", 4*testRTSP.FPS)
	return unit{}
}

func statusOf(err error) base.StatusCode {
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) {
		return bad.Code
	}
	return 0
}

// TestRTSPKeyFramesEverySecond reads both paths over TCP and UDP: a key
// frame every FPS frames, one second apart in RTP time, each IDR with its
// parameter sets, and SentAt knowing every frame once a clip has gone by.
func TestRTSPKeyFramesEverySecond(t *testing.T) {
	r := serveRTSP(t, New(Config{}), testRTSP)
	fps := testRTSP.FPS
	for _, path := range []string{PathH264, PathH265} {
		for _, proto := range []gortsplib.Protocol{gortsplib.ProtocolTCP, gortsplib.ProtocolUDP} {
			t.Run(strings.TrimPrefix(path, "/")+"/"+proto.String(), func(t *testing.T) {
				t.Parallel()
				rd := mustRead(t, readOptions{url: r.URL(path), protocol: proto})
				first := rd.nextKey(t)
				last, frames := first, 0
				for keys := 0; keys < 2; {
					u := rd.next(t)
					frames++
					if u.pts-last.pts != 90000/int64(fps) {
						t.Fatalf("frame %d: pts step %d, want %d", frames, u.pts-last.pts, 90000/fps)
					}
					last = u
					if !u.key {
						continue
					}
					keys++
					if frames != keys*fps {
						t.Fatalf("key frame after %d frames, want %d", frames, keys*fps)
					}
					if !hasParameterSets(path, u.au) {
						t.Fatalf("key frame without in-band parameter sets: %d NALUs", len(u.au))
					}
				}
				select {
				case <-rd.drops:
					t.Fatal("the test's reader dropped access units")
				default:
				}
				// Two key frames after the first: a whole clip went by.
				for i := range fps * testRTSP.ClipSeconds {
					if at, ok := r.SentAt(path, i); !ok || time.Since(at) > 10*time.Second {
						t.Fatalf("SentAt(%s, %d) = %v, %v", path, i, at, ok)
					}
				}
			})
		}
	}
	t.Run("unknown", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			path  string
			index int
		}{{"/nope", 0}, {PathH264, -1}, {PathH264, fps * testRTSP.ClipSeconds}} {
			if at, ok := r.SentAt(tt.path, tt.index); ok {
				t.Errorf("SentAt(%s, %d) = %v, true", tt.path, tt.index, at)
			}
		}
	})
}

func hasParameterSets(path string, au [][]byte) bool {
	seen := map[int]bool{}
	for _, nalu := range au {
		if path == PathH265 {
			seen[int(nalu[0]>>1&0x3F)] = true
		} else {
			seen[int(nalu[0]&0x1F)] = true
		}
	}
	if path == PathH265 {
		return seen[32] && seen[33] && seen[34]
	}
	return seen[7] && seen[8]
}

// TestRTSPMarkersRoundTrip decodes what a reader receives with ffmpeg and
// reads the markers: the path's video id, consecutive frame indexes from
// a key frame on a whole second, and a SentAt for each before it arrived.
func TestRTSPMarkersRoundTrip(t *testing.T) {
	r := serveRTSP(t, New(Config{}), testRTSP)
	for _, path := range []string{PathH264, PathH265} {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			rd := mustRead(t, readOptions{url: r.URL(path), protocol: gortsplib.ProtocolTCP})
			var stream []byte
			var received []time.Time
			var sent [][]time.Time // SentAt of every index when frame i arrived
			u := rd.nextKey(t)
			for i := range 5 {
				if i > 0 {
					u = rd.next(t)
				}
				received = append(received, time.Now())
				sent = append(sent, sentTimes(r, path))
				b, err := h264.AnnexB(u.au).Marshal()
				if err != nil {
					t.Fatal(err)
				}
				stream = append(stream, b...)
			}
			frames := decodeWithFFmpeg(t, path, stream, testRTSP.Width, testRTSP.Height)
			if len(frames) != len(received) {
				t.Fatalf("ffmpeg decoded %d frames of %d", len(frames), len(received))
			}
			for i, img := range frames {
				video, index, ok := marker.Read(img)
				if !ok || video != r.VideoID(path) {
					t.Fatalf("frame %d: marker video %d ok %v, want %d", i, video, ok, r.VideoID(path))
				}
				first := index - i
				if first%testRTSP.FPS != 0 {
					t.Fatalf("frame %d has index %d: the key frame's index is not a whole second", i, index)
				}
				if at := sent[i][index]; at.IsZero() || at.After(received[i]) {
					t.Errorf("frame %d (index %d) received %v, SentAt then %v", i, index, received[i], at)
				}
			}
		})
	}
}

// sentTimes returns SentAt of every index of path's clip, zero where
// there is none.
func sentTimes(r *RTSP, path string) []time.Time {
	times := make([]time.Time, r.Config().FPS*r.Config().ClipSeconds)
	for i := range times {
		times[i], _ = r.SentAt(path, i)
	}
	return times
}

// decodeWithFFmpeg decodes an Annex-B stream into RGBA pictures.
func decodeWithFFmpeg(t *testing.T, path string, stream []byte, w, h int) []*image.RGBA {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f := "h264"
	if path == PathH265 {
		f = "hevc"
	}
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-f", f, "-i", "pipe:0",
		"-f", "rawvideo", "-pix_fmt", "rgba", "pipe:1")
	cmd.Stdin = strings.NewReader(string(stream))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg decode: %v", err)
	}
	var frames []*image.RGBA
	for size := 4 * w * h; len(out) >= size; out = out[size:] {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		copy(img.Pix, out[:size])
		frames = append(frames, img)
	}
	return frames
}

func TestRTSPCredentials(t *testing.T) {
	cfg := testRTSP
	cfg.User, cfg.Password = "admin", "s3cret"
	r := serveRTSP(t, New(Config{}), cfg)
	withUser := func(userinfo string) string {
		return strings.Replace(r.URL(PathH264), "rtsp://", "rtsp://"+userinfo, 1)
	}
	for _, tt := range []struct {
		name, url string
		ok        bool
	}{
		{"none", r.URL(PathH264), false},
		{"wrong password", withUser("admin:guess@"), false},
		{"right", withUser("admin:s3cret@"), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := read(t, readOptions{url: tt.url, protocol: gortsplib.ProtocolTCP})
			if !tt.ok {
				if err == nil {
					t.Fatal("played without the right credentials")
				}
				if tt.name == "none" && statusOf(err) != base.StatusUnauthorized {
					t.Fatalf("error %v, want 401", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rd.next(t)
		})
	}
}

// TestRTSPDownAndUp switches the camera through its HTTP /control: down
// ends the open sessions (TCP and UDP) and answers DESCRIBE 503; up serves
// again.
func TestRTSPDownAndUp(t *testing.T) {
	cam, srv := newServer(t, Config{})
	r := serveRTSP(t, cam, testRTSP)
	tcp := mustRead(t, readOptions{url: r.URL(PathH264), protocol: gortsplib.ProtocolTCP})
	udp := mustRead(t, readOptions{url: r.URL(PathH265), protocol: gortsplib.ProtocolUDP})
	tcp.next(t)
	udp.next(t)

	if code := control(t, srv.URL, "down"); code != http.StatusOK {
		t.Fatalf("control down: %d", code)
	}
	for name, rd := range map[string]*reader{"tcp": tcp, "udp": udp} {
		select {
		case <-rd.done:
			t.Logf("%s session ended: %v", name, rd.err)
		case <-time.After(wait):
			t.Fatalf("%s session still open %v after down", name, wait)
		}
	}
	for _, path := range []string{PathH264, PathH265} {
		if _, err := read(t, readOptions{url: r.URL(path), protocol: gortsplib.ProtocolTCP}); statusOf(err) != base.StatusServiceUnavailable {
			t.Errorf("DESCRIBE %s while down: %v, want 503", path, err)
		}
	}

	control(t, srv.URL, "up")
	again := mustRead(t, readOptions{url: r.URL(PathH264), protocol: gortsplib.ProtocolUDP})
	again.nextKey(t)
}

func TestRTSPStall(t *testing.T) {
	cam := New(Config{})
	r := serveRTSP(t, cam, testRTSP)
	rd := mustRead(t, readOptions{url: r.URL(PathH264), protocol: gortsplib.ProtocolTCP})
	before := rd.next(t)
	cam.SetMode(ModeStall)
	// Drain what was on its way, then expect silence for ten frame
	// intervals with the session open.
	for drained := 0; drained >= 0; drained++ {
		if drained > testRTSP.FPS {
			t.Fatal("the stalled camera goes on sending")
		}
		select {
		case <-rd.units:
		case <-time.After(100 * time.Millisecond):
			drained = -2
		}
	}
	select {
	case u := <-rd.units:
		t.Fatalf("stalled camera sent an access unit (pts %d)", u.pts)
	case <-rd.done:
		t.Fatalf("session ended while stalled: %v", rd.err)
	case <-time.After(10 * time.Second / time.Duration(testRTSP.FPS)):
	}
	cam.SetMode(ModeUp)
	after := rd.next(t)
	if after.pts <= before.pts {
		t.Errorf("pts %d after the stall, %d before", after.pts, before.pts)
	}
}

func TestRTSPS(t *testing.T) {
	cfg := testRTSP
	cfg.TLSAddr = "127.0.0.1:0"
	r := serveRTSP(t, New(Config{}), cfg)
	if !strings.HasPrefix(r.TLSURL(PathH265), "rtsps://127.0.0.1:") {
		t.Fatalf("TLSURL %q", r.TLSURL(PathH265))
	}
	rd := mustRead(t, readOptions{url: r.TLSURL(PathH265), protocol: gortsplib.ProtocolTCP})
	rd.nextKey(t)
}

// TestRTSPCloseLeavesNothing: Close (and a cancelled start) leaves no
// ffmpeg child; goleak (TestMain) checks the goroutines.
func TestRTSPCloseLeavesNothing(t *testing.T) {
	r, err := New(Config{}).ServeRTSP(context.Background(), testRTSP)
	if err != nil {
		t.Fatal(err)
	}
	rd := mustRead(t, readOptions{url: r.URL(PathH264), protocol: gortsplib.ProtocolUDP})
	rd.next(t)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-rd.done:
	case <-time.After(wait):
		t.Fatal("reader still playing after Close")
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// A start cancelled while ffmpeg encodes kills it: encoding a minute
	// of 720p takes far longer than the 5 s allowed after the cancel.
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan time.Time, 1)
	go func() {
		for range 500 { // until ffmpeg runs, up to 5 s
			if len(children()) > 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		cancelled <- time.Now()
	}()
	big := RTSPConfig{Width: 1280, Height: 720, FPS: 30, ClipSeconds: 60}
	_, err = New(Config{}).ServeRTSP(ctx, big)
	returned := time.Now()
	at := <-cancelled
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled start: %v", err)
	}
	if d := returned.Sub(at); d > 5*time.Second {
		t.Fatalf("ServeRTSP returned %v after the cancel: ffmpeg was not killed", d)
	}
	if kids := children(); len(kids) > 0 {
		t.Fatalf("child processes left: %v", kids)
	}
}

// children lists the test process's child processes.
func children() []string {
	files, _ := filepath.Glob("/proc/self/task/*/children")
	var kids []string
	for _, f := range files {
		b, _ := os.ReadFile(f) // a thread may have ended
		kids = append(kids, strings.Fields(string(b))...)
	}
	return kids
}

func TestRTSPWithoutFFmpeg(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	cfg := testRTSP
	cfg.VideoID = 99 // not in the clip cache
	_, err := New(Config{}).ServeRTSP(context.Background(), cfg)
	if !errors.Is(err, ErrNoFFmpeg) || !strings.Contains(err.Error(), "make deps") {
		t.Fatalf("error %v, want ErrNoFFmpeg", err)
	}
}

func TestRTSPConfigErrors(t *testing.T) {
	for _, cfg := range []RTSPConfig{
		{Width: 321, Height: 180},
		{Width: 32, Height: 32},
		{FPS: 500},
		{ClipSeconds: -1},
		{FPS: 120, ClipSeconds: 1000},
		{VideoID: 255},
		{Password: "p"},
		{Addr: "no port"},
	} {
		if _, err := New(Config{}).ServeRTSP(context.Background(), cfg); err == nil {
			t.Errorf("ServeRTSP(%+v): no error", cfg)
		}
	}
}
