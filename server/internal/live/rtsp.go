package live

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
)

// rtspSession opens the RTSP stream in a decode child (Deps.Streams) and
// publishes each decoded frame as a JPEG until an error, ctx's end, or
// (with once, or when nobody watches any more) after one frame.
//
// A stream that sends nothing for FrameTimeout is offline ("no frames for
// 5 s"): the child's reads time out then, and a watchdog kills the child
// should it not answer. Why an open failed is asked of the camera itself
// with an RTSP DESCRIBE, so the operator reads "401 from camera" rather
// than "could not be opened".
func (r *Runner) rtspSession(ctx context.Context, once bool) (int, error) {
	if r.deps.Streams == nil {
		return 0, wrong("this server cannot decode RTSP streams", nil)
	}
	if err := r.dial(ctx); err != nil {
		return 0, err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	src, err := r.deps.Streams.OpenStream(cctx, media.StreamSpec{
		URL: r.cfg.URL, Transport: r.cfg.Transport, Timeout: r.t.FrameTimeout,
	})
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if media.IsKind(err, media.KindDecoderLimit) {
			return 0, wrong(err.Error(), err)
		}
		return 0, r.whyNotOpened(ctx, err)
	}
	defer src.Close()
	r.setKind(media.SourceRTSP)
	var stalled atomic.Bool
	watchdog := time.AfterFunc(r.t.FrameTimeout+time.Second, func() { stalled.Store(true); cancel() })
	defer watchdog.Stop()
	last := time.Now()
	n := 0
	for {
		jpeg, err := grabEncode(src)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return n, ctx.Err()
		case stalled.Load() || time.Since(last) >= r.t.FrameTimeout*9/10:
			return n, offline("no frames for "+seconds(r.t.FrameTimeout), err)
		case errors.Is(err, decoder.ErrSourceBroken):
			return n, offline(safeMessage(err, "the decoder stopped"), err)
		default:
			return n, offline("the camera closed the stream", err)
		}
		last = time.Now()
		watchdog.Reset(r.t.FrameTimeout + time.Second)
		if !r.publish(jpeg) {
			return n, wrong("the decoder sent a picture that is not a JPEG", nil)
		}
		n++
		if once || !r.watched() {
			return n, nil
		}
	}
}

// safeMessage is err's user-safe message, or fallback.
func safeMessage(err error, fallback string) string {
	var me *media.Error
	if errors.As(err, &me) {
		return me.Message
	}
	return fallback
}

// grabEncode reads the next frame as a JPEG, in one round trip when the
// source can.
func grabEncode(src decoder.Source) ([]byte, error) {
	if ge, ok := src.(decoder.GrabEncoder); ok {
		return ge.GrabEncode(media.DefaultJPEGQuality)
	}
	if err := src.Grab(); err != nil {
		return nil, err
	}
	return src.Encode(media.DefaultJPEGQuality)
}

// dial checks that the camera's RTSP port takes a TCP connection, so a
// camera that is off reads "connection refused" or "host not found" (and
// counts as unreachable, probed for its return) without a decode child
// being started for it.
func (r *Runner) dial(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, r.t.ConnectTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(dctx, "tcp", r.hostPort())
	if err != nil {
		return connectError(err, r.t.ConnectTimeout)
	}
	c.Close()
	return nil
}

// hostPort is the source's host and port, with the scheme's default port.
func (r *Runner) hostPort() string {
	port := r.req.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "rtsp": "554", "rtsps": "322"}[strings.ToLower(r.req.Scheme)]
	}
	return net.JoinHostPort(r.req.Hostname(), port)
}

// answers reports whether the camera answers an RTSP DESCRIBE with 200
// (a cheap check while it was busy).
func (r *Runner) answers(ctx context.Context) bool {
	c, u, err := r.rtspClient()
	if err != nil {
		return false
	}
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()
	defer c.Close()
	_, _, err = c.Describe(u)
	return err == nil
}

// rtspClient starts a gortsplib client for the source's URL, with the
// connect timeouts. The caller closes it.
func (r *Runner) rtspClient() (*gortsplib.Client, *base.URL, error) {
	u, err := base.ParseURL(r.cfg.URL)
	if err != nil {
		return nil, nil, wrong("invalid source url", err)
	}
	c := &gortsplib.Client{
		Scheme:       u.Scheme,
		Host:         u.Host,
		ReadTimeout:  r.t.ConnectTimeout,
		WriteTimeout: r.t.ConnectTimeout,
		// As FFmpeg, which decodes the stream: cameras serve RTSPS with
		// self-signed certificates (docs/security.md).
		TLSConfig: &tls.Config{InsecureSkipVerify: true},
		UserAgent: "livemon",
	}
	if err := c.Start(); err != nil {
		return nil, nil, connectError(err, r.t.ConnectTimeout)
	}
	return c, u, nil
}

// whyNotOpened asks the camera, with an RTSP DESCRIBE, why the decoder
// could not open its stream, and says it in plain words.
func (r *Runner) whyNotOpened(ctx context.Context, openErr error) error {
	c, u, err := r.rtspClient()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()
	defer c.Close()
	desc, _, err := c.Describe(u)
	var bad liberrors.ErrClientBadStatusCode
	switch {
	case errors.As(err, &bad) && int(bad.Code) >= 500:
		return &sourceError{state: media.StateOffline, reason: fmt.Sprintf("%d from camera", bad.Code), err: err, busy: true}
	case errors.As(err, &bad):
		return wrong(fmt.Sprintf("%d from camera", bad.Code), err)
	case err != nil:
		return describeError(err, r.t.ConnectTimeout)
	}
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			switch f.(type) {
			case *format.H264, *format.H265:
				return offline("the camera's stream could not be decoded", openErr)
			}
		}
	}
	return wrong("no H.264 or H.265 video in the camera's stream", openErr)
}

// describeError says why a DESCRIBE without a status failed: no answer
// in time, no connection, or an answer that is not RTSP (an HTTP server,
// SSH, a camera closing the connection at once).
func describeError(err error, timeout time.Duration) error {
	var ne net.Error
	var op *net.OpError
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return offline("no answer within "+seconds(timeout), err)
	case errors.As(err, &op) && op.Op == "dial":
		return connectError(err, timeout)
	}
	return wrong("no RTSP answer from the camera", err)
}
