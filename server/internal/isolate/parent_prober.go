package isolate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// maxProbeOutput bounds what is read of a probe child's output.
const maxProbeOutput = 64 << 10

// Prober probes video files in probe children (it implements
// camera.Prober). The zero value runs the running binary's "probe-child"
// with default limits.
type Prober struct {
	// Exe, Limits, Stderr and Env are as in Opener.
	Exe    string
	Limits Limits
	Stderr io.Writer
	Env    []string
}

// Probe runs a probe child on path and returns what it found. The child
// is killed when ctx ends. Errors are *media.Error values: the child's own
// (KindUnsupported, KindUnusable, ...), KindUnusable when ctx ended first
// (wrapping ctx.Err()) or the child crashed on the file, KindInternal when
// no child could be started.
func (p Prober) Probe(ctx context.Context, path string) (media.VideoInfo, error) {
	if err := ctx.Err(); err != nil {
		return media.VideoInfo{}, media.WrapError(media.KindUnusable, err, "the video could not be checked in time")
	}
	cmd := spawn{exe: p.Exe, limits: p.Limits, env: p.Env, stderr: p.Stderr}.command(ctx, ProbeCommand, "--", path)
	var out limitedBuffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		return media.VideoInfo{}, media.WrapError(media.KindInternal, fmt.Errorf("start probe process: %w", err),
			"the video could not be checked")
	}
	werr := cmd.Wait()
	if err := ctx.Err(); err != nil {
		return media.VideoInfo{}, media.WrapError(media.KindUnusable, err, "the video could not be checked in time")
	}
	var res probeOutput
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || (res.Info == nil) == (res.Error == nil) {
		cause := fmt.Errorf("probe process %d: %s: output %q", cmd.Process.Pid, exitReason(cmd.ProcessState, werr), truncate(out.Bytes(), 80))
		return media.VideoInfo{}, media.WrapError(media.KindUnusable, cause, "the file could not be read as a video")
	}
	if e := res.Error; e != nil {
		return media.VideoInfo{}, &media.Error{Kind: e.Kind, Message: e.Message}
	}
	i := res.Info
	return media.VideoInfo{Width: i.Width, Height: i.Height, FPS: i.FPS, Frames: i.Frames,
		Duration: time.Duration(i.DurationNS), Codec: i.Codec}, nil
}

// limitedBuffer keeps the first maxProbeOutput bytes written to it and
// discards the rest without failing the writer.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxProbeOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
