// Package decoder runs one supervised loop per running camera: it reads a
// video file through a Source, paces frames by a monotonic clock times the
// camera's speed, loops or ends, encodes a frame to JPEG only while someone
// watches, and publishes frames to the hub.
//
// Contract: Start launches the loop's goroutine; Stop (or cancelling the ctx
// given to Start) ends it, and Stop waits for it and for the Source to be
// closed. SetSpeed, SetLoop and Status may be called from any goroutine.
// OnStatus is called from the loop's goroutine and must not block.
// The Source is owned by the loop's goroutine; Opener.Open is called from it.
//
// Timeline: a run has a virtual clock that starts when the file is first
// opened and advances at speed times real (monotonic) time; SetSpeed
// re-anchors it so the position never jumps. Timeline frame t (counted at
// the file's fps from the run's start) has seq Config.Seq+1+t, so seqs keep
// growing across loops, speed changes, pauses in watching and restarts
// after errors; skipped frames leave gaps. A frame is published when the
// clock reaches it (no more often than MaxFPS); a late loop skips frames
// (Grab without Encode) instead of slowing down. A frame rate that is
// missing, NaN or not positive is taken as media.FallbackFPS, and one
// above media.MaxFileFPS too (the probe refuses such files; see
// media.PlaybackFPS).
//
// Looping wraps to file frame 0 (SeekFrame(0), or reopen if that fails).
// Without looping the state becomes ended at the end of the file: the last
// frame stays the latest and nothing more is published until SetLoop(true),
// which plays again from frame 0.
//
// Lazy encoding: while Watcher.Watched is false the file is not read at
// all (it is closed after 10s); the clock runs on and the loop only wakes
// every 250ms or on Watcher.Wake. When watched again it seeks to the
// current frame (or reopens and grabs forward) and publishes from there.
//
// A Limit (the cap on open Sources) refusing an open sets state error with
// ErrCode "decoder_limit"; the loop then waits for a freed slot, not its
// backoff, and such waits do not count in Restarts.
//
// Renditions (media.Rendition): the loop decodes a frame once and encodes
// from it each rendition someone watches (Watcher.RenditionWatched when
// the Watcher is a RenditionWatcher; a plain Watcher watches only full):
// full at the pace above, grid scaled down to at most Config.Grid.Width
// pixels wide (media.ScaledSize) on the frames that keep it at most
// Config.Grid.FPS a second (a grid-aligned schedule, like MaxFPS). While
// only grid is watched the loop paces its frames at the grid rate and
// grabs without encoding in between. Every rendition's frame of one
// picture carries the same epoch, seq and PTS. A Source that is a
// SizedEncoder produces all of them from one decode; another Source's
// grid frames are its full JPEGs (same bytes, full size). Status.EncodedBy
// counts the frames encoded per rendition.
//
// Errors (open or read failures) set state error with a readable Err that
// never names the file, and the loop retries after 0.5s, doubling to 30s,
// back to 0.5s after a published frame; each retry counts in Restarts. The
// retry reopens the file and seeks to where the timeline is now: same
// epoch, larger seq.
//
// Watchdog: a watched, running loop that publishes nothing for
// StallTimeout (20s) reopens the file; this catches a source that answers
// but makes no progress. A single call that never returns is the Source's
// to bound: an isolating Source (package isolate) fails a call that takes
// longer than StallTimeout, and a ContextOpener's Sources fail at once when
// the loop's ctx ends, so Stop does not wait for them. An in-process cgo
// call that never returns cannot be interrupted: Stop then blocks.
package decoder

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// Source is an open video file. One goroutine owns it.
type Source interface {
	// Info describes the file as opened.
	Info() media.VideoInfo
	// Grab advances to the next frame, doing as little work as the backend
	// allows. It returns io.EOF at the end of the file.
	Grab() error
	// Encode decodes the frame last grabbed and returns it as JPEG bytes
	// owned by the caller.
	Encode(quality int) ([]byte, error)
	// SeekFrame positions the source so the next Grab returns frame n
	// (0-based). (Not named Seek: go vet reserves Seek for io.Seeker's
	// signature.)
	SeekFrame(n int64) error
	Close() error
}

// Opener opens video files.
type Opener interface {
	Open(path string) (Source, error)
}

// Recycler is a Source that can tell it is worn: its backend (a decode
// child) nears a resource limit it would reach after hours of playing, a
// leak in the C decoder for one. After every frame it publishes, the loop
// asks; on true it closes the source and opens a fresh one for the next
// frame, at the timeline's position, as a failed read would, but without
// an error state, a backoff or a restart counted: viewers see the same
// epoch and seqs going on. Worn is called on the loop's goroutine.
type Recycler interface {
	Worn() bool
}

// ContextOpener is an Opener whose Sources can be abandoned: once ctx
// ends, an Open in progress and every call on the Source it returned fail
// promptly instead of finishing their work (Close still releases
// everything). When the decoder's Opener is one, the loop opens with its
// own ctx, so Stop never waits for a hung call.
type ContextOpener interface {
	Opener
	OpenContext(ctx context.Context, path string) (Source, error)
}

// StreamOpener opens live network streams (RTSP) for decoding. The Source
// is live: Grab blocks until the camera sends the next frame (failing
// after spec.Timeout without one) and SeekFrame fails. Once ctx ends the
// Source's calls fail promptly, as with ContextOpener.
type StreamOpener interface {
	OpenStream(ctx context.Context, spec media.StreamSpec) (Source, error)
}

// GrabEncoder is a Source that can grab its next frame and encode it in
// one call, which costs less than Grab then Encode when every call is a
// round trip to another process (package isolate). GrabEncode returns
// io.EOF, having encoded nothing, at the end of the file; the Source then
// stays at the end, so a Grab after it returns io.EOF too. The loop uses
// it to publish the frame right after the last one it read.
type GrabEncoder interface {
	Source
	GrabEncode(quality int) ([]byte, error)
}

// SizedEncoder is a Source that encodes the frame last grabbed at several
// sizes from one decode. Each entry of widths asks for one JPEG: 0 is the
// full picture; n > 0 is the picture scaled down with area interpolation
// to media.ScaledSize(width, height, n) (never enlarged). The JPEGs come
// back in the order of widths.
type SizedEncoder interface {
	Source
	EncodeSizes(quality int, widths []int) ([][]byte, error)
	// GrabEncodeSizes grabs the next frame and encodes it at widths, like
	// GrabEncoder.GrabEncode (io.EOF at the end of the file). ahead are
	// the widths the next call will probably ask for: a Source that reads
	// ahead prepares those.
	GrabEncodeSizes(quality int, widths, ahead []int) ([][]byte, error)
}

// EncodeTimer is a Source that knows how long producing the JPEG it last
// returned took, because the work was done elsewhere or ahead of the call
// (package isolate reads the next frame ahead while the loop sleeps). The
// loop reports that time to OnEncode instead of the call's duration.
type EncodeTimer interface {
	EncodeTime() time.Duration
}

// Scaler makes a smaller JPEG from a camera's JPEG (the grid rendition of
// a passthrough camera, package live): decoded at a reduced size, scaled
// with area interpolation to media.ScaledSize(w, h, width) and encoded at
// quality. Package isolate's Scaler does it in child processes. Scale may
// be called from any goroutine; it returns an error wrapping
// ErrScalerUnavailable or ErrSourceBroken when the scaler could not do
// the work (the caller may use the full JPEG instead), and another error
// when the JPEG itself cannot be decoded.
type Scaler interface {
	Scale(ctx context.Context, jpeg []byte, width, quality int) (ScaledJPEG, error)
}

// ScaledJPEG is a Scaler's result.
type ScaledJPEG struct {
	JPEG          []byte
	Width, Height int // the JPEG's size
	// DecodedWidth and DecodedHeight are the size the JPEG was decoded at
	// (a reduced decode: 1/2, 1/4 or 1/8 of the source, at least the
	// scaled size); 0 when nothing was decoded (the source was small
	// enough already and JPEG is the input).
	DecodedWidth, DecodedHeight int
	// Work is the time the scaling took where it was done.
	Work time.Duration
}

// ErrScalerUnavailable, wrapped in a Scaler's error, says the scaler could
// not take the work now (its process failed and waits to be restarted).
var ErrScalerUnavailable = errors.New("scaler unavailable")

// ErrSourceBroken, wrapped in an error returned by a Source method, says
// the Source cannot be used any more (for example, the process decoding
// for it died). The loop then closes it and retries after its backoff,
// rather than reading a failed SeekFrame as a file that cannot seek.
var ErrSourceBroken = errors.New("video source broken")

// Publisher receives frames; the hub implements it.
type Publisher interface {
	Publish(*media.Frame)
}

// Watcher tells whether anyone watches a camera; the hub implements it.
type Watcher interface {
	Watched(media.CameraID) bool
	// Wake receives a value when a viewer arrives.
	Wake(media.CameraID) <-chan struct{}
}

// RenditionWatcher is a Watcher that tells a camera's renditions apart;
// the hub implements it. Watched is then whether any rendition is.
type RenditionWatcher interface {
	Watcher
	RenditionWatched(media.CameraID, media.Rendition) bool
}

// Config is one run of a camera.
type Config struct {
	Camera media.CameraID
	Path   string // absolute path of the video file
	Epoch  uint64
	// Seq is the last seq of this epoch published so far (0 for a new run);
	// every frame this run publishes has a larger seq.
	Seq uint64
	// Frame is the 0-based file frame index to start at.
	Frame   int64
	Loop    bool
	Speed   float64 // media.MinSpeed to media.MaxSpeed
	Quality int     // JPEG quality 1-100; 0: media.DefaultJPEGQuality
	// MaxFPS caps the output frame rate (0: no cap beyond file fps * speed).
	MaxFPS float64
	// Grid is how the grid rendition is made; zero fields take
	// media.DefaultGrid's.
	Grid media.Grid
}

// Deps are what a decoder talks to.
type Deps struct {
	Opener    Opener
	Publisher Publisher
	Watcher   Watcher
	Logger    *slog.Logger
	// OnStatus, if set, is called on every state change.
	OnStatus func(Status)
	// OnEncode, if set, is called after each frame is decoded and encoded
	// with the time it took and the JPEG size (for metrics). It must not
	// block.
	OnEncode func(d time.Duration, size int)
	// Now replaces time.Now, for tests.
	Now func() time.Time
}

// Status is a point-in-time view of a decoder.
type Status struct {
	State    media.State
	Epoch    uint64
	Seq      uint64        // seq of the current timeline position
	Frame    int64         // file frame index of the current position
	Position time.Duration // Frame / fps
	Info     media.VideoInfo
	Err      string // readable reason while State is error
	// ErrCode is the API error code of Err when it has one (for example
	// "decoder_limit" while waiting for a Limit's slot), else "".
	ErrCode  string
	Restarts int
	FPS      float64 // measured output frames per second (published)
	Encoded  uint64  // frames decoded and encoded (to one JPEG or more)
	Grabbed  uint64  // frames read from the file
	// EncodedBy counts the JPEGs encoded per rendition.
	EncodedBy map[media.Rendition]uint64
}
