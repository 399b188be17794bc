package main

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"net"
	"net/http"
	"os"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"

	"github.com/livemon/livemon/server/internal/marker"
	"github.com/livemon/livemon/server/internal/mjpeg"
)

// TestFakeCameraCommand runs `livemon fake-camera` as a user would: it
// prints its URLs, streams marker frames, serves RTSP, obeys /control
// (RTSP too), and stops with its context even while a stream is open.
func TestFakeCameraCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"fake-camera", "--addr", "127.0.0.1:0", "--fps", "25", "--video-id", "42", "--avi1",
			"--rtsp-addr", "127.0.0.1:0", "--rtsp-size", "320x180", "--rtsp-clip", "1"}, os.Getenv, stdout, stdout)
	}()
	listening := regexp.MustCompile(`^fake-camera listening on (http://127\.0\.0\.1:\d+)\n(?s:.*)  RTSP: +(rtsp://127\.0\.0\.1:\d+/h264) `)
	m := waitForOutput(t, stdout, listening, done)
	url, rtspURL := m[1], m[2]

	resp, err := http.Get(url + "/mjpeg")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	frame, err := mjpeg.NewReader(resp.Body, resp.Header.Get("Content-Type")).Next()
	if err != nil {
		t.Fatalf("first part: %v", err)
	}
	img, err := jpeg.Decode(bytes.NewReader(frame))
	if err != nil {
		t.Fatalf("decode (AVI1 with tables added): %v", err)
	}
	if video, _, ok := marker.Read(img); !ok || video != 42 {
		t.Fatalf("marker video %d ok=%v, want 42", video, ok)
	}

	down, err := http.Post(url+"/control?mode=down", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	down.Body.Close()
	if err := describe(rtspURL); statusOf(err) != base.StatusServiceUnavailable {
		t.Fatalf("RTSP DESCRIBE while down: %v, want 503", err)
	}
	if snap, err := http.Get(url + "/snapshot.jpg"); err != nil || snap.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("snapshot while down: %v %v", snap, err)
	} else {
		snap.Body.Close()
	}

	// Up again, open a stream, and stop the command under it.
	up, err := http.Post(url+"/control?mode=up", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	up.Body.Close()
	if err := describe(rtspURL); err != nil {
		t.Fatalf("RTSP DESCRIBE: %v", err)
	}
	open, err := http.Get(url + "/mjpeg")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("fake-camera: %v", err)
		}
	case <-time.After(shutdownTimeout + 2*time.Second):
		t.Fatal("fake-camera did not stop with its context")
	}
}

// waitForOutput waits up to 10 s for re in the command's output, failing
// if the command ends first.
func waitForOutput(t *testing.T, out *syncBuffer, re *regexp.Regexp, done chan error) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m
		}
		select {
		case err := <-done:
			t.Fatalf("fake-camera ended: %v\n%s", err, out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the output:\n%s", re, out)
		}
	}
}

// TestFakeCameraDefaultRTSPPortTaken: with the default RTSP port taken
// (here by the test) the command serves HTTP only and says so; with that
// port given explicitly it fails.
func TestFakeCameraDefaultRTSPPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:8554")
	switch {
	case err == nil:
		defer ln.Close()
	case !errors.Is(err, syscall.EADDRINUSE):
		t.Skipf("cannot hold the default RTSP port: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"fake-camera", "--addr", "127.0.0.1:0"}, os.Getenv, stdout, stdout) }()
	m := waitForOutput(t, stdout, regexp.MustCompile(`listening on (http://\S+)\n(?s:.*)  RTSP: +off: .*address already in use`), done)
	resp, err := http.Get(m[1] + "/snapshot.jpg")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("snapshot without RTSP: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("fake-camera: %v", err)
	}

	err = run(context.Background(), []string{"fake-camera", "--addr", "127.0.0.1:0", "--rtsp-addr", "127.0.0.1:8554"}, os.Getenv, stdout, stdout)
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("explicit taken --rtsp-addr: %v", err)
	}
}

func TestFakeCameraFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--fps", "0"},
		{"--video-id", "300"},
		{"--width", "10"},
		{"--quality", "0"},
		{"extra"},
		{"--addr", "not an address"},
		{"--rtsp-size", "1280"},
		{"--rtsp-size", "321x180"},
		{"--rtsp-size", "1280x720x"},
		{"--rtsp-fps", "0"},
		{"--rtsp-clip", "0"},
		{"--rtsp-addr", "", "--rtsps-addr", "127.0.0.1:0"},
		{"--rtsp-addr", "nowhere"},
	} {
		stderr := &syncBuffer{}
		err := run(context.Background(), append([]string{"fake-camera"}, args...), os.Getenv, stderr, stderr)
		if err == nil {
			t.Errorf("fake-camera %v: no error", args)
		}
	}
}

// describe sends an RTSP DESCRIBE to url.
func describe(url string) error {
	u, err := base.ParseURL(url)
	if err != nil {
		return err
	}
	c := gortsplib.Client{Scheme: u.Scheme, Host: u.Host}
	if err := c.Start(); err != nil {
		return err
	}
	defer c.Close()
	_, _, err = c.Describe(u)
	return err
}

func statusOf(err error) base.StatusCode {
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) {
		return bad.Code
	}
	return 0
}
