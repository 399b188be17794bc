// Package fakecam is a camera for tests, the e2e suite, the benchmark and
// people without one: an HTTP server that streams generated marker frames
// (see internal/marker) as MJPEG and serves snapshots, like the cheap IP
// cameras livemon watches, and an RTSP server (ServeRTSP) that streams
// H.264 and H.265; both can be told to go down, stall or come back.
//
// Frame i is the picture of time start + i/FPS: the index counts up from
// New, whoever watches, so a test can tell from a frame's marker which
// moment it shows. Frames are encoded with Go's image/jpeg (no OpenCV)
// when someone asks for them, once per index whatever the number of
// streams.
//
// # RTSP
//
// ServeRTSP serves PathH264 (H.264) and PathH265 (H.265) over RTSP, TCP
// (interleaved) and UDP transports, and optionally RTSPS. Each path loops
// a clip encoded at start: Go draws ClipSeconds*FPS frames (marker video
// id, frame index k = 0..N-1 within the clip, a moving band) and pipes
// them to an ffmpeg child (libx264/libx265, ultrafast, zerolatency, no
// B-frames, an IDR with its parameter sets every FPS frames, so a key
// frame each second and at every loop). The first start with given
// settings encodes: about a second at 320x180 with a 2 s clip on a quiet
// machine, a few seconds at 720p. The process keeps the clips (they are
// never modified), so later starts with the same settings take
// milliseconds: start one camera per test freely.
//
// The fake camera stamps its send time in the frame's marker this way:
// the marker carries the frame's index k in the clip, and SentAt(path, k)
// returns the wall time frame k was last written to the stream. A viewer
// that reads index k from a picture it receives subtracts SentAt(path, k)
// from its receive time to get the latency, as long as that is below the
// clip's length. RTP timestamps follow the frame times across loops and
// pauses, and RTCP sender reports carry the send times as NTP.
//
// The camera's Mode drives RTSP too (one /control switch for both):
// down closes every RTSP connection and session at once and answers
// DESCRIBE, SETUP and PLAY with 503 until it is up (like the HTTP side:
// the camera answers but has no picture); stall keeps sessions open and
// sends no RTP packets (gortsplib's RTCP sender reports, every 10 s, go
// on); up resumes the clip where it paused. With User set, every request
// needs the credentials (401 with a Basic and a Digest challenge).
//
// Concurrency: Handler's handlers run on the HTTP server's goroutines and
// end when their request's context ends, when the camera goes down, or on
// a write error; Handler starts no goroutine of its own. SetMode and
// Mode may be called from any goroutine. ServeRTSP starts the RTSP
// server(s), one sender goroutine per path and one mode watcher, and an
// ffmpeg child per path while it encodes (killed if its ctx ends, waited
// for in every case); all of them stop when its ctx ends or on
// (*RTSP).Close, which waits for them. The methods of RTSP may be called
// from any goroutine.
package fakecam

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"sync"
	"time"

	"github.com/livemon/livemon/server/internal/marker"
	"github.com/livemon/livemon/server/internal/mjpeg"
)

// Mode is what the camera does.
type Mode string

const (
	// ModeUp serves streams and snapshots.
	ModeUp Mode = "up"
	// ModeDown drops every open connection and refuses new requests (503)
	// until the camera is up again.
	ModeDown Mode = "down"
	// ModeStall keeps connections open and sends nothing.
	ModeStall Mode = "stall"
)

// ParseMode returns the Mode named s.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeUp, ModeDown, ModeStall:
		return m, nil
	}
	return "", fmt.Errorf("mode %q: want up, down or stall", s)
}

// Config says what the camera sends. Zero fields take the defaults.
type Config struct {
	FPS     float64 // frames per second, default 10
	Width   int     // default 640
	Height  int     // default 360
	VideoID int     // marker video id 0-255, default 7
	Quality int     // JPEG quality 1-100, default 80
	// AVI1 sends frames without Huffman tables, as USB cameras do.
	AVI1 bool
	// Loop > 0 repeats the pictures of frames 0..Loop-1: frame i shows
	// (and its marker carries) i mod Loop, and each of those Loop JPEGs is
	// encoded once, so after the first pass the camera costs only its
	// sending (the benchmark runs many 720p30 streams this way).
	Loop int
	// User and Password, when either is set, are the HTTP Basic
	// credentials /mjpeg and /snapshot.jpg require (401 without them).
	// /control stays open: it is the tests' remote, not the camera's.
	User, Password string
}

// Defaults of Config.
const (
	DefaultFPS     = 10
	DefaultWidth   = 640
	DefaultHeight  = 360
	DefaultVideoID = 7
	DefaultQuality = 80
)

func (c Config) withDefaults() Config {
	if c.FPS <= 0 {
		c.FPS = DefaultFPS
	}
	if c.Width <= 0 {
		c.Width = DefaultWidth
	}
	if c.Height <= 0 {
		c.Height = DefaultHeight
	}
	if c.VideoID == 0 {
		c.VideoID = DefaultVideoID
	}
	if c.Quality <= 0 {
		c.Quality = DefaultQuality
	}
	c.VideoID &= 0xFF
	c.Loop = max(c.Loop, 0)
	c.Quality = min(c.Quality, 100)
	return c
}

// Camera is one fake camera.
type Camera struct {
	cfg   Config
	start time.Time

	mu      sync.Mutex
	mode    Mode
	changed chan struct{} // closed and replaced by SetMode

	frameMu sync.Mutex
	bg      *image.RGBA // the still background, never modified
	img     *image.RGBA
	index   int      // index of frame; -1 before the first
	frame   []byte   // JPEG of index, never modified once made
	loop    [][]byte // with Config.Loop: the JPEG of each picture, once made
}

// New returns a camera whose frame index starts counting now.
func New(cfg Config) *Camera {
	cfg = cfg.withDefaults()
	return &Camera{
		cfg:     cfg,
		start:   time.Now(),
		mode:    ModeUp,
		changed: make(chan struct{}),
		bg:      background(cfg.Width, cfg.Height),
		img:     image.NewRGBA(image.Rect(0, 0, cfg.Width, cfg.Height)),
		index:   -1,
	}
}

// Config returns the camera's configuration with defaults filled in.
func (c *Camera) Config() Config { return c.cfg }

// SetMode switches the camera to mode; open streams follow at once.
func (c *Camera) SetMode(mode Mode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if mode == c.mode {
		return
	}
	c.mode = mode
	close(c.changed)
	c.changed = make(chan struct{})
}

// Mode returns the current mode.
func (c *Camera) Mode() Mode {
	m, _ := c.state()
	return m
}

// state returns the mode and a channel closed when it changes.
func (c *Camera) state() (Mode, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mode, c.changed
}

// indexAt returns the index of the frame showing at t.
func (c *Camera) indexAt(t time.Time) int {
	return int(t.Sub(c.start).Seconds() * c.cfg.FPS)
}

// timeOf returns when frame i starts showing.
func (c *Camera) timeOf(i int) time.Time {
	return c.start.Add(time.Duration(float64(i) / c.cfg.FPS * float64(time.Second)))
}

// Frame returns the index and JPEG of the frame showing now. The JPEG is
// shared: callers must not modify it.
func (c *Camera) Frame() (int, []byte, error) {
	return c.frameAt(c.indexAt(time.Now()))
}

func (c *Camera) frameAt(i int) (int, []byte, error) {
	c.frameMu.Lock()
	defer c.frameMu.Unlock()
	if i <= c.index {
		return c.index, c.frame, nil
	}
	k := i
	if c.cfg.Loop > 0 {
		k = i % c.cfg.Loop
		if c.loop == nil {
			c.loop = make([][]byte, c.cfg.Loop)
		}
		if b := c.loop[k]; b != nil {
			c.index, c.frame = i, b
			return i, b, nil
		}
	}
	draw(c.img, c.bg, k)
	marker.Draw(c.img, c.cfg.VideoID, k)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, c.img, &jpeg.Options{Quality: c.cfg.Quality}); err != nil {
		return 0, nil, fmt.Errorf("encode frame %d: %w", i, err)
	}
	frame := buf.Bytes()
	if c.cfg.AVI1 {
		frame = avi1(frame)
	}
	if c.cfg.Loop > 0 {
		c.loop[k] = frame
	}
	c.index, c.frame = i, frame
	return i, frame, nil
}

// background returns the still part of every picture: a gradient.
func background(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for x := 0; x < w; x++ {
			p := row[4*x : 4*x+4 : 4*x+4]
			p[0] = uint8(x * 255 / max(w-1, 1))
			p[1] = uint8(y * 255 / max(h-1, 1))
			p[2], p[3] = 96, 255
		}
	}
	return img
}

// draw paints the picture of frame i into img: the background with a
// band that moves, so consecutive frames differ.
func draw(img, bg *image.RGBA, i int) {
	copy(img.Pix, bg.Pix)
	w, h := img.Rect.Dx(), img.Rect.Dy()
	band := (i * 4) % w
	end := min(band+max(w/16, 1), w)
	for y := 0; y < h; y++ {
		row := img.Pix[y*img.Stride+4*band : y*img.Stride+4*end]
		for x := 2; x < len(row); x += 4 {
			row[x] = 255
		}
	}
}

// avi1 turns a JPEG into the form USB cameras send: an APP0 "AVI1"
// segment and no Huffman tables.
func avi1(j []byte) []byte {
	j = mjpeg.StripHuffman(j)
	app0 := []byte{0xFF, 0xE0, 0x00, 0x10, 'A', 'V', 'I', '1', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	out := make([]byte, 0, len(j)+len(app0))
	out = append(out, j[:2]...)
	out = append(out, app0...)
	return append(out, j[2:]...)
}
