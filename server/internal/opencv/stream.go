package opencv

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
)

// captureOptionsEnv is where OpenCV's FFmpeg backend reads the demuxer
// options of the captures it opens.
const captureOptionsEnv = "OPENCV_FFMPEG_CAPTURE_OPTIONS"

// streamProtocols are the only FFmpeg protocols a stream may use: an RTSP
// server cannot redirect the decoder to a file or another protocol.
const streamProtocols = "rtsp,rtsps,rtp,udp,tcp,tls,srtp"

// OpenStream opens a live RTSP or RTSPS stream. It sets the process's
// FFmpeg capture options for the spec (transport, no demuxer buffering,
// short probing, socket timeout), so it is for a process that opens one
// stream, such as a decode child. The error never repeats the URL.
//
// The source is live: Grab blocks until the next frame arrives (at most
// spec.Timeout), SeekFrame fails, and Info has no frame count.
func (Opener) OpenStream(spec media.StreamSpec) (decoder.Source, error) {
	u, err := media.ParseSourceURL(spec.URL)
	if err != nil {
		return nil, err
	}
	if !media.IsRTSP(u) {
		return nil, media.Errorf(media.KindInvalid, "only rtsp:// and rtsps:// streams are decoded")
	}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	if err := os.Setenv(captureOptionsEnv, captureOptions(spec, timeout)); err != nil {
		return nil, fmt.Errorf("set capture options: %w", err)
	}
	c, ok := openStreamCapture(streamURL(u), timeout)
	if !ok {
		return nil, media.Errorf(media.KindUnusable, "the camera's RTSP stream could not be opened")
	}
	s := newSource(c)
	s.live = true
	s.info = captureInfo(c)
	s.info.Frames, s.info.Duration = 0, 0
	return s, nil
}

// captureOptions are FFmpeg's demuxer options for spec, in OpenCV's
// "key;value|key;value" form.
func captureOptions(spec media.StreamSpec, timeout time.Duration) string {
	transport := spec.Transport
	if transport == "" {
		transport = media.RTSPTCP
	}
	us := timeout.Microseconds()
	opts := []string{
		"rtsp_transport;" + string(transport),
		"protocol_whitelist;" + streamProtocols,
		// The shortest probe: the stream's parameters come in the SDP;
		// the probe's packets (the first key frame among them) stay
		// buffered for the decoder (no "nobuffer", which would drop
		// them and wait for the next key frame).
		"analyzeduration;0",
		"probesize;32",
		// The decoder's low-delay mode (no frame threading): a frame is
		// out as soon as it is decoded. On loopback, camera send to JPEG
		// went from p50 75 / p90 165 ms to p50 70 / p90 72 ms; what is
		// left is FFmpeg's H.264 parser holding a frame until the next
		// one starts (docs/architecture.md).
		"flags;low_delay",
		// The RTSP socket's own I/O timeout (microseconds).
		fmt.Sprintf("timeout;%d", us),
	}
	if transport == media.RTSPUDP {
		// Reorder at most a few packets rather than wait for late ones.
		opts = append(opts, "reorder_queue_size;16", "max_delay;100000")
	}
	return strings.Join(opts, "|")
}

// streamURL is u as FFmpeg wants it. FFmpeg's RTSP client reads the user
// and password from the URL, percent-decoded.
func streamURL(u *url.URL) string {
	c := *u
	c.Scheme = strings.ToLower(c.Scheme)
	return c.String()
}
