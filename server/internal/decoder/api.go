// Package decoder runs one supervised loop per running camera: it reads a
// video file through a Source, paces frames by a monotonic clock times the
// camera's speed, loops or ends, encodes a frame to JPEG only while someone
// watches, and publishes frames to the hub.
//
// Contract: Start launches the loop's goroutine; Stop (or cancelling the ctx
// given to Start) ends it, and Stop waits for it and for the Source to be
// closed. SetSpeed, SetLoop and Status may be called from any goroutine.
// OnStatus is called from the loop's goroutine and must not block.
package decoder

import (
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
	// Seek positions the source so the next Grab returns frame n (0-based).
	Seek(n int64) error
	Close() error
}

// Opener opens video files.
type Opener interface {
	Open(path string) (Source, error)
}

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
	Speed   float64 // 0.1 to 8
	Quality int     // JPEG quality 1-100
	// MaxFPS caps the output frame rate (0: no cap beyond file fps * speed).
	MaxFPS float64
}

// Deps are what a decoder talks to.
type Deps struct {
	Opener    Opener
	Publisher Publisher
	Watcher   Watcher
	Logger    *slog.Logger
	// OnStatus, if set, is called on every state change.
	OnStatus func(Status)
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
	Restarts int
	FPS      float64 // measured output frames per second (published)
	Encoded  uint64  // frames encoded to JPEG
	Grabbed  uint64  // frames read from the file
}
