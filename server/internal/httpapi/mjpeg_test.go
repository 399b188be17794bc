package httpapi

import (
	"context"
	"mime/multipart"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/synth"
)

// An MJPEG viewer that has been reading fast (so the kernel would have
// grown the socket's send buffer to megabytes: seconds of video) finds at
// most about one frame queued in the server's kernel when it slows down:
// the stream sizes the send buffer to its frames.
func TestMJPEGSendBufferFitsTheFrame(t *testing.T) {
	e := newEnv(t, envOptions{maxUpload: 1 << 20})
	e.upload("/api/cameras/m/video", "a.avi", []byte(synth.Spec{Video: 1, Frames: 9000, FPS: 30, Width: 640, Height: 360, Noise: true}.String()))

	var local string
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				local = c.LocalAddr().String()
			}
			return c, err
		},
	}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(e.url("/api/cameras/m/mjpeg"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	mr := multipart.NewReader(resp.Body, mjpegBoundary)
	largest := 0
	deadline := time.Now().Add(time.Second)
	for n := 0; n < 10 || time.Now().Before(deadline); n++ {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1<<20)
		size := 0
		for {
			k, err := p.Read(b[size:])
			size += k
			if err != nil {
				break
			}
		}
		largest = max(largest, size)
	}
	c, ok := e.conns.Load(local)
	if !ok {
		t.Fatal("server side of the connection not found")
	}
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var sndbuf int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		sndbuf, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	// Linux doubles the size asked for (half is its bookkeeping).
	t.Logf("frames up to %d bytes; server send buffer %d bytes", largest, sndbuf)
	if limit := 2 * max(minMJPEGSendBuffer, largest*5/4); sndbuf > limit {
		t.Fatalf("send buffer %d bytes for frames of up to %d: more than about one frame can wait", sndbuf, largest)
	}
}
