package opencv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"time"

	"gocv.io/x/gocv"

	"github.com/livemon/livemon/server/internal/media"
)

// Defaults for Limits.
const (
	DefaultMaxDimension   = 4096
	DefaultMaxCountFrames = 200_000
)

// Limits bound what Probe accepts. Zero fields take the defaults.
type Limits struct {
	// MaxDimension is the largest accepted width or height in pixels.
	MaxDimension int
	// MaxCountFrames bounds counting frames by reading, for files whose
	// container does not say how many frames they hold; past it the count
	// is reported as unknown (0).
	MaxCountFrames int
}

func (l Limits) withDefaults() Limits {
	if l.MaxDimension <= 0 {
		l.MaxDimension = DefaultMaxDimension
	}
	if l.MaxCountFrames <= 0 {
		l.MaxCountFrames = DefaultMaxCountFrames
	}
	return l
}

func errNotVideo() error {
	return media.Errorf(media.KindUnsupported, "the file is not a video in a supported format")
}

// Probe opens the video at path, decodes at least its first frame and
// checks it is playable. It returns what it found, with FPS replaced by
// media.FallbackFPS when the file does not give its rate (see
// media.PlaybackFPS) and Frames 0 when the count is unknown.
//
// Errors are *media.Error values: KindUnsupported when the file is not a
// video at all, KindUnusable when it is one livemon cannot play (no
// decodable frame, too large, a frame rate above media.MaxFileFPS), or when ctx ends first
// (then the error also wraps ctx.Err()). The OpenCV work runs in its own
// goroutine, which finishes and closes its capture by itself after an
// early return.
func Probe(ctx context.Context, path string, limits Limits) (media.VideoInfo, error) {
	if err := ctx.Err(); err != nil {
		return media.VideoInfo{}, media.WrapError(media.KindUnusable, err, "the video could not be checked in time")
	}
	type result struct {
		info media.VideoInfo
		err  error
	}
	done := make(chan result, 1)
	go func() {
		info, err := probe(ctx, path, limits.withDefaults())
		done <- result{info, err}
	}()
	select {
	case r := <-done:
		return r.info, r.err
	case <-ctx.Done():
		return media.VideoInfo{}, media.WrapError(media.KindUnusable, ctx.Err(), "the video could not be checked in time")
	}
}

func probe(ctx context.Context, path string, limits Limits) (media.VideoInfo, error) {
	if err := sniff(path); err != nil {
		return media.VideoInfo{}, err
	}
	c, ok := openCapture(path)
	if !ok {
		return media.VideoInfo{}, errNotVideo()
	}
	defer c.close()
	info := captureInfo(c)

	m := gocv.NewMat()
	defer m.Close()
	if ok, err := c.grab(); err != nil || !ok {
		return media.VideoInfo{}, media.WrapError(media.KindUnusable, err, "the video has no frame that can be decoded")
	}
	if ok, err := c.retrieve(&m); err != nil || !ok {
		return media.VideoInfo{}, media.WrapError(media.KindUnusable, err, "the video has no frame that can be decoded")
	}
	// The decoded picture is the truth; containers can disagree with it.
	info.Width, info.Height = m.Cols(), m.Rows()
	if info.Width <= 0 || info.Height <= 0 {
		return media.VideoInfo{}, media.Errorf(media.KindUnusable, "the video has no picture size")
	}
	if info.Width > limits.MaxDimension || info.Height > limits.MaxDimension {
		return media.VideoInfo{}, media.Errorf(media.KindUnusable,
			"the video is %dx%d pixels; at most %d pixels per side are supported", info.Width, info.Height, limits.MaxDimension)
	}

	if err := checkFPS(info.FPS); err != nil {
		return media.VideoInfo{}, err
	}
	info.FPS = media.PlaybackFPS(info.FPS)

	if info.Frames <= 0 {
		n, err := countFrames(ctx, c, limits.MaxCountFrames)
		if err != nil {
			return media.VideoInfo{}, media.WrapError(media.KindUnusable, err, "the video could not be checked in time")
		}
		info.Frames = n
	}
	info.Duration = 0
	if info.Frames > 0 {
		info.Duration = durationOf(info.Frames, info.FPS)
	}
	return info, nil
}

// checkFPS refuses a frame rate above media.MaxFileFPS: taken as
// media.FallbackFPS it would play a 1,000 fps clip 40 times slowed down,
// and paced as it is it would make the decoder grab every frame. A rate
// that is missing (zero, negative, NaN) is not refused: it plays at
// media.FallbackFPS.
func checkFPS(fps float64) error {
	if fps > media.MaxFileFPS { // +Inf included
		if math.IsInf(fps, 0) {
			return media.Errorf(media.KindUnusable, "the video's frame rate is not usable")
		}
		return media.Errorf(media.KindUnusable, "the video's frame rate (%.0f per second) is above the %d per second livemon plays (some WebM files only declare their timebase as the rate: convert it, e.g. ffmpeg -i in.webm -r 30 out.mp4)", fps, media.MaxFileFPS)
	}
	return nil
}

// countFrames counts the frames after the first by grabbing them. It
// returns 0 (unknown) past limit.
func countFrames(ctx context.Context, c *capture, limit int) (int64, error) {
	n := int64(1) // the frame already grabbed
	for {
		if n%64 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, fmt.Errorf("count frames: %w", err)
			}
		}
		if n > int64(limit) {
			return 0, nil
		}
		ok, err := c.grab()
		if err != nil || !ok {
			return n, nil
		}
		n++
	}
}

func durationOf(frames int64, fps float64) time.Duration {
	return time.Duration(float64(frames) / fps * float64(time.Second))
}

// sniff rejects files that are empty or text playlists before FFmpeg sees
// them: a playlist would make FFmpeg open the files or URLs it lists.
func sniff(path string) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return media.WrapError(media.KindNotFound, fs.ErrNotExist, "the video file does not exist")
		}
		// The *PathError would carry the path; keep only its cause.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return media.WrapError(media.KindInternal, err, "the video file could not be opened")
	}
	defer f.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return media.WrapError(media.KindInternal, errors.Unwrap(err), "the video file could not be read")
	}
	head = bytes.TrimLeft(head[:n], "\xef\xbb\xbf \t\r\n")
	if n == 0 {
		return media.Errorf(media.KindUnsupported, "the file is empty")
	}
	for _, sig := range [][]byte{[]byte("#EXTM3U"), []byte("ffconcat"), []byte("[playlist]"), []byte("<?xml"), []byte("<MPD"), []byte("<smil")} {
		if bytes.HasPrefix(head, sig) {
			return errNotVideo()
		}
	}
	return nil
}
