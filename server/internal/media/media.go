// Package media holds livemon's domain types: camera identifiers, frames,
// camera state, video descriptions and error kinds. It imports only the
// standard library so every other package can depend on it.
package media

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
)

// CameraID names a camera. Valid ids match ^[A-Za-z0-9_-]{1,64}$.
type CameraID string

var cameraIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ParseCameraID validates s as a camera id.
func ParseCameraID(s string) (CameraID, error) {
	if !cameraIDPattern.MatchString(s) {
		return "", Errorf(KindInvalid, "invalid camera id: must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
	}
	return CameraID(s), nil
}

// MaxNameRunes is the longest camera name, in characters.
const MaxNameRunes = 100

// ParseCameraName validates a camera's display name and returns it without
// leading and trailing white space. It refuses control characters (line
// breaks, tabs, NUL...), line and paragraph separators and bidirectional
// formatting characters (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F,
// U+061C), which could make a name display as something it is not. This is
// the only place names are checked.
func ParseCameraName(s string) (string, error) {
	n := strings.TrimSpace(s)
	if n == "" || len([]rune(n)) > MaxNameRunes {
		return "", Errorf(KindInvalid, "name must be 1 to %d characters", MaxNameRunes)
	}
	for _, r := range n {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp, unicode.Bidi_Control) || r == '\uFFFD' {
			return "", Errorf(KindInvalid, "name must not contain control, bidirectional formatting or invalid characters (found U+%04X)", r)
		}
	}
	return n, nil
}

// Frame is one encoded picture of a camera's run. A published Frame is
// immutable: every viewer receives the same pointer and the same bytes.
type Frame struct {
	Camera CameraID
	// Epoch identifies the camera's video run; it grows when the run is
	// replaced (new upload, explicit restart).
	Epoch uint64
	// Seq is the frame's place on the run's timeline. It strictly increases
	// within an epoch; gaps are frames that were skipped.
	Seq uint64
	// PTS is the position of the frame in the current video file.
	PTS time.Duration
	// Captured is when the frame was produced (wall clock).
	Captured time.Time
	Width    int
	Height   int
	JPEG     []byte
	// Rendition is the stream the frame belongs to; "" is RenditionFull.
	// Frames of every rendition made from one picture share Epoch, Seq
	// and PTS.
	Rendition Rendition
}

// State is a camera's run state.
type State string

const (
	StateStopped  State = "stopped"  // operator stopped it, or it has no video
	StateStarting State = "starting" // decoder opening the file
	StateRunning  State = "running"  // producing frames
	StateEnded    State = "ended"    // a non-looping video reached its end; last frame kept
	StateError    State = "error"    // the decoder failed and is retrying
	// StateOffline: a live source does not answer (refused, timed out, no
	// frames for 5 s); the last frame is kept and the source is retried
	// with backoff, forever.
	StateOffline State = "offline"
)

// VideoInfo is what probing a video file found.
type VideoInfo struct {
	Width    int           `json:"width"`
	Height   int           `json:"height"`
	FPS      float64       `json:"fps"`
	Frames   int64         `json:"frames"`
	Duration time.Duration `json:"-"`
	Codec    string        `json:"codec,omitempty"`
}

// DurationSeconds reports Duration in seconds, for JSON.
func (v VideoInfo) DurationSeconds() float64 { return v.Duration.Seconds() }

// Kind classifies errors. Each kind has one HTTP status and one API error
// code (see Kind.Status and Kind.Code): this table is the only list of
// error codes; the web client's list and its translations are checked
// against it by tests.
type Kind int

const (
	KindInternal          Kind = iota // 500 internal
	KindInvalid                       // 400 invalid_argument
	KindNotFound                      // 404 not_found
	KindConflict                      // 409 conflict
	KindTooLarge                      // 413 too_large
	KindUnsupported                   // 415 unsupported_media: not a video at all
	KindUnusable                      // 422 unusable_video: a video we cannot play
	KindOverCapacity                  // 503 over_capacity
	KindDiskFull                      // 507 disk_full
	KindUnauthorized                  // 401 unauthorized
	KindForbidden                     // 403 forbidden
	KindRateLimited                   // 429 rate_limited: too many failed attempts or requests
	KindHostNotAllowed                // 421 unknown_host: Host header not one this server answers to
	KindTimeout                       // 408 request_timeout: a request body stopped arriving
	KindCameraLimit                   // 503 camera_limit: --max-cameras reached
	KindSubscriptionLimit             // 503 subscription_limit: per-connection subscription cap
	KindDecoderLimit                  // 503 decoder_limit: cap on concurrently decoding cameras
	KindUploadLimit                   // 503 upload_limit: too many uploads at once
	KindCameraUnavailable             // 503 camera_unavailable: no node serves the camera right now (cluster)
	kindEnd
)

var kindTable = [kindEnd]struct {
	status int
	code   string
}{
	KindInternal:          {500, "internal"},
	KindInvalid:           {400, "invalid_argument"},
	KindNotFound:          {404, "not_found"},
	KindConflict:          {409, "conflict"},
	KindTooLarge:          {413, "too_large"},
	KindUnsupported:       {415, "unsupported_media"},
	KindUnusable:          {422, "unusable_video"},
	KindOverCapacity:      {503, "over_capacity"},
	KindDiskFull:          {507, "disk_full"},
	KindUnauthorized:      {401, "unauthorized"},
	KindForbidden:         {403, "forbidden"},
	KindRateLimited:       {429, "rate_limited"},
	KindHostNotAllowed:    {421, "unknown_host"},
	KindTimeout:           {408, "request_timeout"},
	KindCameraLimit:       {503, "camera_limit"},
	KindSubscriptionLimit: {503, "subscription_limit"},
	KindDecoderLimit:      {503, "decoder_limit"},
	KindUploadLimit:       {503, "upload_limit"},
	KindCameraUnavailable: {503, "camera_unavailable"},
}

// Kinds lists every error kind.
func Kinds() []Kind {
	out := make([]Kind, 0, kindEnd)
	for k := Kind(0); k < kindEnd; k++ {
		out = append(out, k)
	}
	return out
}

func (k Kind) valid() bool { return k >= 0 && k < kindEnd }

// Status is the HTTP status of errors of this kind (500 for an unknown one).
func (k Kind) Status() int {
	if !k.valid() {
		return 500
	}
	return kindTable[k].status
}

// Code is the API error code of this kind ("internal" for an unknown one).
func (k Kind) Code() string {
	if !k.valid() {
		return "internal"
	}
	return kindTable[k].code
}

// IsKind reports whether err is, or wraps, an *Error of kind k.
func IsKind(err error, k Kind) bool {
	var me *Error
	return errors.As(err, &me) && me.Kind == k
}

// Error is an error with a kind and a message that is safe to show users.
// Err, if set, carries internal detail that must never reach a client.
type Error struct {
	Kind    Kind
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k with a formatted, user-safe message.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error of kind k that keeps err for logs only.
func WrapError(k Kind, err error, message string) error {
	return &Error{Kind: k, Message: message, Err: err}
}
