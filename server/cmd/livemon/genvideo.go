package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/livemon/livemon/server/internal/opencv"
)

// genVideo writes a test video whose every frame carries a machine-readable
// marker (video id, frame index; see internal/marker). The end-to-end suite
// and the benchmark use it.
func genVideo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("livemon gen-video", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var spec opencv.VideoSpec
	out := fs.String("out", "", "output file (.avi, MJPG)")
	fs.IntVar(&spec.VideoID, "video-id", 1, "marker video id, 0-255")
	fs.IntVar(&spec.Frames, "frames", 300, "number of frames")
	fs.IntVar(&spec.Width, "width", 640, "width in pixels")
	fs.IntVar(&spec.Height, "height", 360, "height in pixels")
	fs.Float64Var(&spec.FPS, "fps", 30, "frames per second")
	fs.IntVar(&spec.Quality, "quality", 80, "JPEG quality of the MJPG stream")
	fs.BoolVar(&spec.Noise, "noise", false, "add a fixed noise layer (realistic JPEG sizes)")
	fs.StringVar(&spec.Label, "label", "", "text drawn on every frame")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("gen-video: --out is required")
	}
	if spec.VideoID < 0 || spec.VideoID > 255 {
		return errors.New("gen-video: --video-id must be 0-255")
	}
	if spec.Label == "" {
		spec.Label = fmt.Sprintf("video %d", spec.VideoID)
	}
	if err := opencv.WriteVideo(*out, spec); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d frames %dx%d @ %g fps\n", *out, spec.Frames, spec.Width, spec.Height, spec.FPS)
	return nil
}
