package fakecam

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/livemon/livemon/server/internal/marker"
)

// codec is a video coding format the RTSP camera serves.
type codec string

const (
	codecH264 codec = "h264"
	codecH265 codec = "h265"
)

// clip is an encoded looping marker clip: access unit k is frame k, its
// marker carries frame index k. Frames 0, fps, 2*fps ... are IDR frames
// that carry their parameter sets in band. A clip is never modified once
// made, so any number of goroutines may read it.
type clip struct {
	codec codec
	aus   [][][]byte // access units, each a list of NALUs without start codes
	// Parameter sets of the first IDR (vps for H.265 only), for the SDP.
	vps, sps, pps []byte
}

// ErrNoFFmpeg is returned when the ffmpeg binary the RTSP camera encodes
// its clips with is not on PATH.
var ErrNoFFmpeg = errors.New("the fake RTSP camera needs ffmpeg: run make deps")

// maxClipBytes bounds the encoder's output read into memory.
const maxClipBytes = 512 << 20

// clipKey says what a clip shows.
type clipKey struct {
	codec                      codec
	w, h, fps, frames, videoID int
}

// clips keeps the clips made in this process, so that the second camera
// with the same settings (tests start many) starts without encoding.
// Clips are never modified, so cameras share them.
var clips struct {
	mu sync.Mutex
	m  map[clipKey]*clip
}

// maxCachedClips bounds clips.m; tests use a handful of settings.
const maxCachedClips = 16

// getClip returns the clip for k from the cache, or encodes it.
func getClip(ctx context.Context, k clipKey) (*clip, error) {
	clips.mu.Lock()
	cl := clips.m[k]
	clips.mu.Unlock()
	if cl != nil {
		return cl, nil
	}
	cl, err := encodeClip(ctx, k.codec, k.w, k.h, k.fps, k.frames, k.videoID)
	if err != nil {
		return nil, err
	}
	clips.mu.Lock()
	defer clips.mu.Unlock()
	if clips.m == nil || len(clips.m) >= maxCachedClips {
		clips.m = make(map[clipKey]*clip)
	}
	clips.m[k] = cl
	return cl, nil
}

// encodeClip draws frames frames of w x h pictures (marker video id
// videoID, frame index k, and the moving band of draw) and encodes them
// with an ffmpeg child at fps frames per second, one IDR each second and
// no B-frames. The child is killed if ctx ends first and is always waited
// for.
func encodeClip(ctx context.Context, c codec, w, h, fps, frames, videoID int) (*clip, error) {
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil, ErrNoFFmpeg
	}
	cmd := exec.CommandContext(ctx, bin, ffmpegArgs(c, w, h, fps)...)
	cmd.WaitDelay = 2 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer // read after Wait, which waits for its copying
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ffmpeg: %w", err)
	}

	// The writer ends when every frame is written, or when the child
	// closes its input (killed, or failed).
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		werr = writeFrames(stdin, w, h, frames, videoID)
		stdin.Close()
	}()
	stream, rerr := io.ReadAll(io.LimitReader(stdout, maxClipBytes+1))
	if rerr == nil && len(stream) > maxClipBytes {
		rerr = fmt.Errorf("more than %d MB", maxClipBytes>>20)
	}
	if rerr != nil {
		cmd.Process.Kill() // it may be blocked writing what nobody reads
	}
	wg.Wait()
	err = cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("encode %s clip: %w", c, ctx.Err())
	case rerr != nil:
		return nil, fmt.Errorf("encode %s clip: read ffmpeg output: %w", c, rerr)
	case err != nil:
		msg := strings.TrimSpace(stderr.String())
		return nil, fmt.Errorf("encode %s clip: ffmpeg: %w: %s", c, err, msg[:min(len(msg), 1000)])
	case werr != nil:
		return nil, fmt.Errorf("encode %s clip: write frames: %w", c, werr)
	}
	return splitClip(c, stream, frames)
}

// ffmpegArgs makes ffmpeg read raw RGBA frames on stdin and write an
// Annex-B elementary stream on stdout: an access unit delimiter before
// every frame (splitClip cuts there), parameter sets repeated before
// every IDR, one IDR every fps frames, no B-frames.
func ffmpegArgs(c codec, w, h, fps int) []string {
	gop := strconv.Itoa(fps)
	common := "keyint=" + gop + ":min-keyint=" + gop + ":scenecut=0:bframes=0:repeat-headers=1:aud=1"
	args := []string{
		"-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "rawvideo", "-pix_fmt", "rgba", "-video_size", fmt.Sprintf("%dx%d", w, h),
		"-framerate", strconv.Itoa(fps), "-i", "pipe:0",
		"-pix_fmt", "yuv420p", "-preset", "ultrafast", "-tune", "zerolatency",
		// x264's zerolatency slices each frame per thread: a fixed count
		// keeps access units within mediacommon's NALU limit anywhere.
		"-threads", "4",
	}
	switch c {
	case codecH265:
		// open-gop=0: key frames are IDR, not CRA.
		args = append(args, "-c:v", "libx265", "-x265-params", common+":open-gop=0:log-level=error", "-f", "hevc")
	default:
		args = append(args, "-c:v", "libx264", "-x264-params", common, "-f", "h264")
	}
	return append(args, "pipe:1")
}

// writeFrames writes the RGBA pixels of frames 0..frames-1 to w.
func writeFrames(out io.Writer, w, h, frames, videoID int) error {
	bg := background(w, h)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for k := range frames {
		draw(img, bg, k)
		marker.Draw(img, videoID, k)
		if _, err := out.Write(img.Pix); err != nil {
			return err
		}
	}
	return nil
}

// audPrefix returns the start code and header of an access unit
// delimiter NALU, which ffmpegArgs has the encoder put before every frame.
func audPrefix(c codec) []byte {
	if c == codecH265 {
		return []byte{0, 0, 1, byte(h265.NALUType_AUD_NUT) << 1, 1}
	}
	return []byte{0, 0, 1, byte(h264.NALUTypeAccessUnitDelimiter)}
}

// splitClip cuts an Annex-B stream into access units at its access unit
// delimiters (a start code never occurs inside a NALU), drops the
// delimiters, and checks there are frames of them with the key frames
// where ffmpegArgs put them.
func splitClip(c codec, stream []byte, frames int) (*clip, error) {
	aud := audPrefix(c)
	cl := &clip{codec: c}
	for len(stream) > 0 {
		if !bytes.HasPrefix(stream, aud) && !bytes.HasPrefix(stream, append([]byte{0}, aud...)) {
			return nil, fmt.Errorf("%s stream: access unit %d does not start with a delimiter", c, len(cl.aus))
		}
		next := bytes.Index(stream[len(aud):], aud)
		end := len(stream)
		if next >= 0 {
			end = len(aud) + next
			if stream[end-1] == 0 { // the 4-byte start code's leading zero
				end--
			}
		}
		var au h264.AnnexB // Annex-B framing is the same for H.265
		if err := au.Unmarshal(stream[:end]); err != nil {
			return nil, fmt.Errorf("%s stream: access unit %d: %w", c, len(cl.aus), err)
		}
		cl.aus = append(cl.aus, au[1:]) // without the delimiter
		stream = stream[end:]
	}
	if len(cl.aus) != frames {
		return nil, fmt.Errorf("%s stream: %d access units, want %d", c, len(cl.aus), frames)
	}
	for _, nalu := range cl.aus[0] {
		if len(nalu) == 0 {
			continue
		}
		switch {
		case c == codecH264 && h264.NALUType(nalu[0]&0x1F) == h264.NALUTypeSPS,
			c == codecH265 && h265.NALUType(nalu[0]>>1&0x3F) == h265.NALUType_SPS_NUT:
			cl.sps = nalu
		case c == codecH264 && h264.NALUType(nalu[0]&0x1F) == h264.NALUTypePPS,
			c == codecH265 && h265.NALUType(nalu[0]>>1&0x3F) == h265.NALUType_PPS_NUT:
			cl.pps = nalu
		case c == codecH265 && h265.NALUType(nalu[0]>>1&0x3F) == h265.NALUType_VPS_NUT:
			cl.vps = nalu
		}
	}
	if cl.sps == nil || cl.pps == nil || (c == codecH265 && cl.vps == nil) {
		return nil, fmt.Errorf("%s stream: no parameter sets before the first frame", c)
	}
	return cl, nil
}

// randomAccess reports whether au is a key frame.
func (cl *clip) randomAccess(au [][]byte) bool {
	if cl.codec == codecH265 {
		return h265.IsRandomAccess(au)
	}
	return h264.IsRandomAccess(au)
}
