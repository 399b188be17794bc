package fakecam_test

import (
	"context"
	"fmt"
	"time"

	"github.com/livemon/livemon/server/internal/fakecam"
)

// A test starts a small RTSP camera in one call (well under a second),
// points its reader at URL, and measures latency from the marker index a
// picture carries.
func ExampleCamera_ServeRTSP() {
	cam := fakecam.New(fakecam.Config{})
	rtsp, err := cam.ServeRTSP(context.Background(), fakecam.RTSPConfig{Width: 320, Height: 180, ClipSeconds: 2})
	if err != nil {
		fmt.Println(err) // fakecam.ErrNoFFmpeg without ffmpeg
		return
	}
	defer rtsp.Close()
	url := rtsp.URL(fakecam.PathH264) // rtsp://127.0.0.1:PORT/h264

	// ... a reader plays url and reads marker index k from a picture at
	// time received ...
	_ = url
	k, received := 0, time.Now()
	if sent, ok := rtsp.SentAt(fakecam.PathH264, k); ok {
		fmt.Println("latency", received.Sub(sent))
	}

	cam.SetMode(fakecam.ModeDown) // sessions end; DESCRIBE gets 503
	cam.SetMode(fakecam.ModeUp)
}
