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
	"github.com/livemon/livemon/server/internal/mjpeg"
)

// rtspSession opens the RTSP stream in a decode child (Deps.Streams) and
// publishes each decoded frame as a JPEG until an error, ctx's end, or
// (with once, or when nobody watches any more) after one frame.
//
// A decode child that reports itself worn (decoder.Recycler: near its
// memory limit) ends the session after a frame; the next one reconnects
// in a fresh child at once, in the same epoch.
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
		full, grid, err := r.rtspFrame(src, once)
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
		if !r.publishDecoded(src.Info(), full, grid) {
			return n, wrong("the decoder sent a picture that is not a JPEG", nil)
		}
		n++
		if once || !r.watched() {
			return n, nil
		}
		if w, ok := src.(decoder.Recycler); ok && w.Worn() {
			// Near its memory limit: reconnect in a fresh child (the
			// caller's next session), same epoch, seqs going on.
			r.log.Info("replacing a worn stream decoder")
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

// rtspFrame reads the stream's next frame and encodes the renditions
// that are watched, from one decode: full unless only the grid is watched
// (with once, or with nobody watching, always full: that frame ends the
// session and is kept for the next viewer), grid scaled down to the grid width when its slot has come.
// With neither, it only decodes (the stream must be decoded frame after
// frame) and returns no JPEG. A source that cannot encode sizes gives its
// full JPEG as the grid frame, like a passthrough camera.
func (r *Runner) rtspFrame(src decoder.Source, once bool) (full, grid []byte, err error) {
	// Nobody watching at all: this frame ends the session and stays the
	// camera's kept frame, so it is full too.
	wantFull := once || r.fullWatched() || !r.watched()
	wantGrid := !once && r.gridWatched() && r.gridSlot(time.Now())
	widths := make([]int, 0, 2)
	if wantFull {
		widths = append(widths, 0)
	}
	if wantGrid {
		widths = append(widths, r.gridConfig().Width)
	}
	if se, ok := src.(decoder.SizedEncoder); ok && len(widths) > 0 {
		jpegs, err := se.GrabEncodeSizes(media.DefaultJPEGQuality, widths, widths)
		if err != nil {
			return nil, nil, err
		}
		if wantFull {
			full, jpegs = jpegs[0], jpegs[1:]
		}
		if wantGrid {
			grid = jpegs[0]
		}
		return full, grid, nil
	}
	if len(widths) == 0 {
		return nil, nil, src.Grab()
	}
	if ge, ok := src.(decoder.GrabEncoder); ok {
		full, err = ge.GrabEncode(media.DefaultJPEGQuality)
	} else if err = src.Grab(); err == nil {
		full, err = src.Encode(media.DefaultJPEGQuality)
	}
	if err != nil {
		return nil, nil, err
	}
	if wantGrid {
		grid = full
	}
	if !wantFull {
		full = nil
	}
	return full, grid, nil
}

// publishDecoded publishes one decoded frame: its full JPEG and its grid
// JPEG, either of which may be nil, with one identity (seq, PTS). A frame
// decoded but not encoded (nobody watches the rendition it would have
// been) still counts: seq numbers pictures, not JPEGs. False if a JPEG
// does not parse.
func (r *Runner) publishDecoded(info media.VideoInfo, full, grid []byte) bool {
	w, h := info.Width, info.Height
	if full != nil {
		var err error
		if w, h, err = mjpeg.Size(full); err != nil {
			return false
		}
	}
	f := r.next(w, h)
	if full != nil {
		f.JPEG = full
		r.deps.Publisher.Publish(f)
	}
	if grid != nil {
		gw, gh, err := mjpeg.Size(grid)
		if err != nil {
			return false
		}
		gf := *f
		gf.Rendition, gf.JPEG, gf.Width, gf.Height = media.RenditionGrid, grid, gw, gh
		r.deps.Publisher.Publish(&gf)
	}
	r.setState(media.StateRunning, "")
	return true
}

// dial checks that the camera's RTSP port takes a TCP connection, so a
// camera that is off reads "connection refused" or "host not found" (and
// counts as unreachable, probed for its return) without a decode child
// being started for it.
func (r *Runner) dial(ctx context.Context) error {
	if err := r.connectTCP(ctx, r.t.ConnectTimeout); err != nil {
		return connectError(err, r.t.ConnectTimeout)
	}
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
