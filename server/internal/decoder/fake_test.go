package decoder_test

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"sync"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/marker"
	"github.com/livemon/livemon/server/internal/media"
)

// fakeOpener serves an in-memory "file" of numbered frames whose JPEGs
// carry a marker with the frame index.
type fakeOpener struct {
	frames     int64   // real frames in the file
	fps        float64 // as the header says
	infoFrames int64   // header frame count; -1 means same as frames
	noSeek     bool    // SeekFrame always fails
	// slowGrab: the grab of this frame sleeps slowGrabFor once.
	slowGrab    int64
	slowGrabFor time.Duration

	mu       sync.Mutex
	openErrs int // the next openErrs opens fail
	grabErrs int // the next grabErrs grabs fail (not EOF)
	opens    int // successful opens
	closes   int // closes of opened sources
	grabs    int // successful grabs
	encodes  int // successful encodes
	seeks    []int64
	jpegs    map[int64][]byte

	// brokenSeeks: the next brokenSeeks seeks fail with ErrSourceBroken.
	brokenSeeks int
	// grabEncoder: sources are decoder.GrabEncoders; grabEncodes counts
	// successful GrabEncode calls.
	grabEncoder bool
	grabEncodes int
	// failGrab: the grab of this frame fails once (not EOF); -1: none.
	failGrab int64
}

func newFakeOpener(frames int64, fps float64) *fakeOpener {
	return &fakeOpener{frames: frames, fps: fps, infoFrames: -1, slowGrab: -1, failGrab: -1, jpegs: make(map[int64][]byte)}
}

func (o *fakeOpener) Open(path string) (decoder.Source, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.openErrs > 0 {
		o.openErrs--
		return nil, fmt.Errorf("open %s: no such file", path)
	}
	o.opens++
	if o.grabEncoder {
		return &fakeGrabEncoder{fakeSource{o: o, cur: -1}}, nil
	}
	return &fakeSource{o: o, cur: -1}, nil
}

// fakeGrabEncoder is a fakeSource that also grabs and encodes in one call
// and says each frame took fakeEncodeTime (decoder.EncodeTimer).
type fakeGrabEncoder struct{ fakeSource }

const fakeEncodeTime = 7 * time.Millisecond

func (s *fakeGrabEncoder) EncodeTime() time.Duration { return fakeEncodeTime }

func (s *fakeGrabEncoder) GrabEncode(quality int) ([]byte, error) {
	if err := s.Grab(); err != nil {
		return nil, err
	}
	b, err := s.Encode(quality)
	if err == nil {
		s.o.mu.Lock()
		s.o.grabEncodes++
		s.o.mu.Unlock()
	}
	return b, err
}

func (o *fakeOpener) counts() (opens, closes, grabs, encodes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.opens, o.closes, o.grabs, o.encodes
}

func (o *fakeOpener) seekLog() []int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]int64(nil), o.seeks...)
}

func (o *fakeOpener) jpeg(n int64) []byte {
	if b, ok := o.jpegs[n]; ok {
		return b
	}
	img := image.NewRGBA(image.Rect(0, 0, 96, 64))
	marker.Draw(img, 1, int(n))
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	o.jpegs[n] = buf.Bytes()
	return buf.Bytes()
}

type fakeSource struct {
	o      *fakeOpener
	next   int64 // frame the next Grab returns
	cur    int64 // frame last grabbed, -1 if none
	closed bool
}

func (s *fakeSource) Info() media.VideoInfo {
	n := s.o.infoFrames
	if n < 0 {
		n = s.o.frames
	}
	return media.VideoInfo{Width: 96, Height: 64, FPS: s.o.fps, Frames: n, Codec: "FAKE"}
}

func (s *fakeSource) Grab() error {
	s.o.mu.Lock()
	slow := s.o.slowGrab == s.next && s.o.slowGrabFor > 0
	if slow {
		s.o.slowGrab = -1
	}
	s.o.mu.Unlock()
	if slow {
		time.Sleep(s.o.slowGrabFor)
	}
	s.o.mu.Lock()
	defer s.o.mu.Unlock()
	if s.closed {
		return errors.New("grab on closed source")
	}
	if s.o.grabErrs > 0 || s.o.failGrab == s.next {
		if s.o.failGrab == s.next {
			s.o.failGrab = -1
		} else {
			s.o.grabErrs--
		}
		s.cur = -1
		return errors.New("read error")
	}
	if s.next >= s.o.frames {
		s.cur = -1
		return io.EOF
	}
	s.cur = s.next
	s.next++
	s.o.grabs++
	return nil
}

func (s *fakeSource) Encode(quality int) ([]byte, error) {
	s.o.mu.Lock()
	defer s.o.mu.Unlock()
	if s.closed || s.cur < 0 {
		return nil, errors.New("nothing grabbed")
	}
	s.o.encodes++
	return s.o.jpeg(s.cur), nil
}

func (s *fakeSource) SeekFrame(n int64) error {
	s.o.mu.Lock()
	defer s.o.mu.Unlock()
	s.o.seeks = append(s.o.seeks, n)
	s.cur = -1
	if s.o.brokenSeeks > 0 {
		s.o.brokenSeeks--
		return fmt.Errorf("seek: %w: decoding process died", decoder.ErrSourceBroken)
	}
	if s.o.noSeek || n < 0 || n >= s.o.frames {
		return errors.New("cannot seek")
	}
	s.next = n
	return nil
}

func (s *fakeSource) Close() error {
	s.o.mu.Lock()
	defer s.o.mu.Unlock()
	if s.closed {
		return errors.New("closed twice")
	}
	s.closed = true
	s.o.closes++
	return nil
}

// fakeHub records published frames and says whether the camera is watched.
type fakeHub struct {
	mu           sync.Mutex
	frames       []*media.Frame
	watched      bool
	watchedCalls int
	wake         chan struct{}
}

func newFakeHub(watched bool) *fakeHub {
	return &fakeHub{watched: watched, wake: make(chan struct{}, 1)}
}

func (h *fakeHub) Publish(f *media.Frame) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.frames = append(h.frames, f)
}

func (h *fakeHub) Watched(media.CameraID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.watchedCalls++
	return h.watched
}

func (h *fakeHub) Wake(media.CameraID) <-chan struct{} { return h.wake }

func (h *fakeHub) setWatched(w bool) {
	h.mu.Lock()
	h.watched = w
	h.mu.Unlock()
	if w {
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
}

func (h *fakeHub) published() []*media.Frame {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*media.Frame(nil), h.frames...)
}

func (h *fakeHub) calls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.watchedCalls
}

// fileFrame reads the frame index from a published frame's marker.
func fileFrame(f *media.Frame) int {
	img, err := jpeg.Decode(bytes.NewReader(f.JPEG))
	if err != nil {
		return -1
	}
	_, n, ok := marker.Read(img)
	if !ok {
		return -1
	}
	return n
}

// statusLog records OnStatus calls.
type statusLog struct {
	mu     sync.Mutex
	states []media.State
	errs   []string
}

func (l *statusLog) record(s decoder.Status) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.states = append(l.states, s.State)
	if s.Err != "" {
		l.errs = append(l.errs, s.Err)
	}
}

func (l *statusLog) get() ([]media.State, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]media.State(nil), l.states...), append([]string(nil), l.errs...)
}
