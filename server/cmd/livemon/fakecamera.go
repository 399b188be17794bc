package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/livemon/livemon/server/internal/fakecam"
)

// fakeCamera serves a fake HTTP camera (see internal/fakecam) until ctx
// ends: marker frames as MJPEG at /mjpeg and as a snapshot at
// /snapshot.jpg, with POST /control?mode=up|down|stall to make it go
// offline, hang or come back. Tests, the e2e suite, the benchmark and
// people without a camera use it.
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
	fs.StringVar(&cfg.User, "user", "", "HTTP Basic user the camera requires (with --password)")
	fs.StringVar(&cfg.Password, "password", "", "HTTP Basic password the camera requires")
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
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("fake-camera: %w", err)
	}
	srv := &http.Server{
		Handler:           fakecam.New(cfg).Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		// Streams end with ctx: Shutdown does not wait for them forever.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	fmt.Fprintf(stdout, "fake-camera listening on http://%s\n", ln.Addr())
	fmt.Fprintf(stdout, "  MJPEG:    http://%s/mjpeg\n  snapshot: http://%s/snapshot.jpg\n", ln.Addr(), ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("fake-camera: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	<-errc // Serve returns ErrServerClosed once Shutdown starts
	return err
}
