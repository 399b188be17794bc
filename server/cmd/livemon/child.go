package main

import (
	"context"
	"io"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/isolate"
	"github.com/livemon/livemon/server/internal/opencv"
)

// Values of --decoder.
const (
	decoderIsolated  = "isolated"
	decoderInProcess = "inprocess"
)

// decoderBackend returns what opens and probes videos. Isolated (the
// default) runs OpenCV in child processes of this binary (package
// isolate), so a video that crashes or hangs the decoder costs one camera
// a restart, not the server; their standard error goes to stderr.
// In-process calls OpenCV directly, for debugging and comparison.
// Isolated keeps spares decode children started ahead of need; the
// returned func stops that (call it once the decoders have stopped).
func decoderBackend(kind string, spares int, stderr io.Writer) (decoder.Opener, camera.Prober, func()) {
	if kind == decoderInProcess {
		return opencv.Opener{}, inProcessProber{}, func() {}
	}
	o, p := isolate.Opener{Stderr: stderr}, isolate.Prober{Stderr: stderr}
	if spares <= 0 {
		return o, p, func() {}
	}
	o.Spares = isolate.NewSpares(o, spares)
	return o, p, o.Spares.Close
}

// gridScaler returns what scales passthrough cameras' grid frames, given
// decoderBackend's opener, and the func that stops it (call it once the
// live sources have stopped): with the isolated backend, scaler children
// started like its decode children (a spare when one is ready; OpenCV's
// reduced JPEG decode); in-process, none, so those grid frames are the
// full JPEGs (camera bytes are decoded in a child or not at all).
func gridScaler(opener decoder.Opener) (decoder.Scaler, func()) {
	o, ok := opener.(isolate.Opener)
	if !ok {
		return nil, func() {}
	}
	s := isolate.NewScaler(isolate.ScalerConfig{Opener: o})
	return s, s.Close
}

// The decode child's opener scales JPEGs for the scaler children too.
var _ isolate.JPEGScaler = opencv.Opener{}

// isChildCommand reports whether name is one of the hidden subcommands the
// isolated decoder starts this binary with.
func isChildCommand(name string) bool {
	return name == isolate.DecodeCommand || name == isolate.ProbeCommand
}

// runChild runs a hidden child subcommand with OpenCV. It uses the
// process's own standard input and output, which carry the protocol with
// the parent (see package isolate).
func runChild(ctx context.Context, name string, args []string) error {
	if name == isolate.ProbeCommand {
		return isolate.ProbeChild(ctx, args, inProcessProber{}.Probe)
	}
	return isolate.DecodeChild(args, opencv.Opener{})
}
