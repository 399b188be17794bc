package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/livemon/livemon/server/internal/fakecam"
)

// fakeCamera serves a fake camera (see internal/fakecam) until ctx ends:
// over HTTP, marker frames as MJPEG at /mjpeg and as a snapshot at
// /snapshot.jpg, with POST /control?mode=up|down|stall to make it go
// offline, hang or come back; over RTSP (unless --rtsp-addr is empty),
// looping H.264 and H.265 marker clips at /h264 and /h265 that follow the
// same /control. Tests, the e2e suite, the benchmark and people without a
// camera use it.
func fakeCamera(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("livemon fake-camera", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg fakecam.Config
	addr := fs.String("addr", "127.0.0.1:8090", "listen address (port 0 picks a free one)")
	fs.Float64Var(&cfg.FPS, "fps", fakecam.DefaultFPS, "frames per second")
	fs.IntVar(&cfg.Width, "width", fakecam.DefaultWidth, "width in pixels")
	fs.IntVar(&cfg.Height, "height", fakecam.DefaultHeight, "height in pixels")
	fs.IntVar(&cfg.VideoID, "video-id", fakecam.DefaultVideoID, "marker video id, 1-255")
	fs.IntVar(&cfg.Quality, "quality", fakecam.DefaultQuality, "JPEG quality, 1-100")
	fs.BoolVar(&cfg.AVI1, "avi1", false, "send frames without Huffman tables, as USB cameras do")
	fs.IntVar(&cfg.Loop, "loop", 0, "repeat the pictures of the first N frames, each encoded once (0: every frame new)")
	fs.StringVar(&cfg.User, "user", "", "user the camera requires, HTTP Basic and RTSP (with --password)")
	fs.StringVar(&cfg.Password, "password", "", "password the camera requires")
	var rcfg fakecam.RTSPConfig
	fs.StringVar(&rcfg.Addr, "rtsp-addr", "127.0.0.1:8554", "RTSP listen address (port 0 picks a free one; empty: no RTSP)")
	fs.StringVar(&rcfg.TLSAddr, "rtsps-addr", "", "RTSPS listen address, self-signed certificate (empty: no RTSPS)")
	rtspSize := fs.String("rtsp-size", fmt.Sprintf("%dx%d", fakecam.DefaultRTSPWidth, fakecam.DefaultRTSPHeight), "RTSP picture size WIDTHxHEIGHT, even sizes")
	fs.IntVar(&rcfg.FPS, "rtsp-fps", fakecam.DefaultRTSPFPS, "RTSP frames per second (a key frame each second)")
	fs.IntVar(&rcfg.ClipSeconds, "rtsp-clip", fakecam.DefaultRTSPClipSeconds, "RTSP clip length in seconds (encoded at start, looped)")
	fs.IntVar(&rcfg.VideoID, "rtsp-video-id", fakecam.DefaultRTSPVideoID, "marker video id of /h264 (/h265: one more), 1-254")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("fake-camera: unexpected argument %q", fs.Arg(0))
	case cfg.FPS <= 0 || cfg.FPS > 1000:
		return errors.New("fake-camera: --fps must be above 0 and at most 1000")
	case cfg.Width < 24 || cfg.Height < 8 || cfg.Width > 7680 || cfg.Height > 4320:
		return errors.New("fake-camera: --width and --height must be 24x8 to 7680x4320")
	case cfg.VideoID < 1 || cfg.VideoID > 255:
		return errors.New("fake-camera: --video-id must be 1-255")
	case cfg.Quality < 1 || cfg.Quality > 100:
		return errors.New("fake-camera: --quality must be 1-100")
	case rcfg.Addr == "" && rcfg.TLSAddr != "":
		return errors.New("fake-camera: --rtsps-addr needs --rtsp-addr")
	}
	if _, err := fmt.Sscanf(*rtspSize, "%dx%d", &rcfg.Width, &rcfg.Height); err != nil || fmt.Sprintf("%dx%d", rcfg.Width, rcfg.Height) != *rtspSize {
		return fmt.Errorf("fake-camera: --rtsp-size %q: want WIDTHxHEIGHT, e.g. 1280x720", *rtspSize)
	}
	if rcfg.FPS < 1 || rcfg.ClipSeconds < 1 || rcfg.VideoID < 1 {
		// Zero would mean "default" to fakecam.
		return errors.New("fake-camera: --rtsp-fps, --rtsp-clip and --rtsp-video-id must be at least 1")
	}
	rcfg.User, rcfg.Password = cfg.User, cfg.Password
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("fake-camera: %w", err)
	}
	cam := fakecam.New(cfg)
	srv := &http.Server{
		Handler:           cam.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		// Streams end with ctx: Shutdown does not wait for them forever.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	fmt.Fprintf(stdout, "fake-camera listening on http://%s\n", ln.Addr())
	fmt.Fprintf(stdout, "  MJPEG:    http://%s/mjpeg\n  snapshot: http://%s/snapshot.jpg\n", ln.Addr(), ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	explicit := false // --rtsp-addr given
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "rtsp-addr" })
	err = serveRTSP(ctx, cam, rcfg, explicit, stdout, errc)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); err == nil {
		err = serr
	}
	<-errc // Serve returns ErrServerClosed once Shutdown starts
	return err
}

// serveRTSP serves cam over RTSP (unless cfg.Addr is empty) until ctx ends
// or the HTTP server fails (errc).
func serveRTSP(ctx context.Context, cam *fakecam.Camera, cfg fakecam.RTSPConfig, explicit bool, stdout io.Writer, errc chan error) error {
	rtsp, err := startRTSP(ctx, cam, cfg, explicit, stdout)
	if err != nil {
		return err
	}
	if rtsp != nil {
		defer rtsp.Close()
	}
	select {
	case err := <-errc:
		errc <- err // for the caller's wait
		return fmt.Errorf("fake-camera: %w", err)
	case <-ctx.Done():
		return nil
	}
}

// startRTSP starts the RTSP side and prints its URLs. It returns nil, nil
// without RTSP: cfg.Addr empty, ctx ended, or the default address (not
// explicit) taken, as by another fake camera; then it serves HTTP only and
// says so, so scripts that start fake cameras on port 0 for HTTP go on
// working.
func startRTSP(ctx context.Context, cam *fakecam.Camera, cfg fakecam.RTSPConfig, explicit bool, stdout io.Writer) (*fakecam.RTSP, error) {
	if cfg.Addr == "" {
		return nil, nil
	}
	rtsp, err := cam.ServeRTSP(ctx, cfg)
	switch {
	case ctx.Err() != nil:
		if err == nil {
			rtsp.Close()
		}
		return nil, nil
	case !explicit && errors.Is(err, syscall.EADDRINUSE):
		fmt.Fprintf(stdout, "  RTSP:     off: %v (choose an address with --rtsp-addr)\n", err)
		return nil, nil
	case errors.Is(err, fakecam.ErrNoFFmpeg):
		return nil, fmt.Errorf("fake-camera: %w (or --rtsp-addr '' for HTTP only)", err)
	case err != nil:
		return nil, fmt.Errorf("fake-camera: %w", err)
	}
	c := rtsp.Config()
	fmt.Fprintf(stdout, "  RTSP:     %s  %s  (%dx%d at %d fps, %d s clip)\n",
		rtsp.URL(fakecam.PathH264), rtsp.URL(fakecam.PathH265), c.Width, c.Height, c.FPS, c.ClipSeconds)
	if c.TLSAddr != "" {
		fmt.Fprintf(stdout, "  RTSPS:    %s  %s  (self-signed)\n", rtsp.TLSURL(fakecam.PathH264), rtsp.TLSURL(fakecam.PathH265))
	}
	return rtsp, nil
}
