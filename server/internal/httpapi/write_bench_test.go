package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/session"
	"github.com/livemon/livemon/server/internal/store"
)

// Write-path micro-benchmarks: one op publishes one frame of a 720p
// camera's size to the hub and waits until every one of N viewers' writer
// goroutines has written it to its loopback TCP socket, through the
// server's own per-frame code (wireCache, wsConn.sendFrames with
// WriteMessage and session.Delivered; Server.writeChunks for MJPEG).
// The client ends only read raw bytes into a reused buffer, so they
// allocate nothing and allocs/op is the server side's: the fixed per-frame
// cost plus N times the per-viewer cost. ns/viewer is the wall time of an
// op divided by N; it includes the kernel's loopback copy and the readers,
// which share the machine's cores; cpu-ns/viewer is the process's CPU time
// (user + system, readers included) per op divided by N, which a busy
// machine disturbs less than wall time.

// benchFrameSize is about a 720p camera JPEG (docs/performance.md).
const benchFrameSize = 128 << 10

var benchViewerCounts = []int{1, 10, 100}

const benchCamera media.CameraID = "bench"

// benchFrames returns a function making the next frame; every call
// returns a new *media.Frame, so the wire cache builds its encodings
// once per frame as it does for a live camera.
func benchFrames() func() *media.Frame {
	jpeg := make([]byte, benchFrameSize)
	for i := range jpeg {
		jpeg[i] = byte(i * 7)
	}
	var seq uint64
	return func() *media.Frame {
		seq++
		return &media.Frame{Camera: benchCamera, Epoch: 1, Seq: seq, Captured: time.Now(), Width: 1280, Height: 720, JPEG: jpeg}
	}
}

// processCPU is this process's user + system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportPerViewer adds ns/viewer (wall) and cpu-ns/viewer to an op of n
// viewers whose timed loop started at CPU time cpu0.
func reportPerViewer(b *testing.B, n int, cpu0 time.Duration) {
	ops := float64(b.N) * float64(n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/ops, "ns/viewer")
	b.ReportMetric(float64(processCPU()-cpu0)/ops, "cpu-ns/viewer")
}

// benchServer is a Server for the write paths only: nothing but deps'
// hub and sessions is used.
func benchServer(deps Deps) *Server {
	deps.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return NewServer(deps)
}

// drain reads c until it fails, without allocating.
func drain(c net.Conn, wg *sync.WaitGroup) {
	defer wg.Done()
	buf := make([]byte, 256<<10)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

func BenchmarkWebSocketWrite(b *testing.B) {
	for _, n := range benchViewerCounts {
		b.Run(strconv.Itoa(n)+"viewers", func(b *testing.B) { benchWebSocketWrite(b, n) })
	}
}

func benchWebSocketWrite(b *testing.B, n int) {
	ctx := context.Background()
	st, err := store.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateCamera(ctx, store.Camera{ID: benchCamera}); err != nil {
		b.Fatal(err)
	}
	sessions := session.New(st, time.Minute, time.Now)
	h := hub.New()
	srv := benchServer(Deps{Sessions: sessions, Hub: h})

	// The server ends of the sockets, upgraded as handleWebSocket does.
	up := websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 64 << 10}
	conns := make(chan *websocket.Conn, n)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		conns <- ws
	}))
	defer ts.Close()

	var readers sync.WaitGroup
	var clients []*websocket.Conn
	url := "ws" + strings.TrimPrefix(ts.URL, "http")
	for range n {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			b.Fatal(err)
		}
		clients = append(clients, c)
		readers.Add(1)
		go drain(c.UnderlyingConn(), &readers)
	}

	acks := make(chan error, n)
	stop := make(chan struct{})
	var writers sync.WaitGroup
	var wsConns []*wsConn
	for range n {
		ws := <-conns
		sess, _, err := sessions.Open(ctx, "")
		if err != nil {
			b.Fatal(err)
		}
		if err := sessions.Subscribe(ctx, sess.ID, benchCamera, media.RenditionFull); err != nil {
			b.Fatal(err)
		}
		c := &wsConn{srv: srv, ws: ws, notify: make(chan struct{}, 1), subs: map[media.CameraID]*wsSub{}, session: sess, done: make(chan struct{})}
		sub := h.Subscribe(benchCamera, hub.SubscribeOptions{Transport: "websocket", Notify: c.notify})
		c.subs[benchCamera] = &wsSub{sub: sub, channel: sub.Channel()}
		wsConns = append(wsConns, c)
		writers.Add(1)
		// The writer loop's frame case (wsConn.writeLoop).
		go func() {
			defer writers.Done()
			for {
				select {
				case <-c.notify:
					acks <- c.sendFrames()
				case <-stop:
					return
				}
			}
		}()
	}

	next := benchFrames()
	b.SetBytes(int64(n) * benchFrameSize)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		h.Publish(next())
		for range n {
			if err := <-acks; err != nil {
				b.Fatal(err)
			}
		}
	}
	reportPerViewer(b, n, cpu0)
	b.StopTimer()

	close(stop)
	writers.Wait()
	for _, c := range wsConns {
		c.subs[benchCamera].sub.Close()
		c.ws.Close()
	}
	for _, c := range clients {
		c.Close()
	}
	readers.Wait()
}

func BenchmarkMJPEGWrite(b *testing.B) {
	for _, n := range benchViewerCounts {
		b.Run(strconv.Itoa(n)+"viewers", func(b *testing.B) { benchMJPEGWrite(b, n) })
	}
}

func benchMJPEGWrite(b *testing.B, n int) {
	h := hub.New()
	srv := benchServer(Deps{Hub: h})
	acks := make(chan error, n)
	stop := make(chan struct{})
	// handleMJPEG's streaming loop, without the camera lookup and viewer
	// accounting done once per stream.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub := h.Subscribe(benchCamera, hub.SubscribeOptions{Transport: "mjpeg"})
		defer sub.Close()
		_ = srv.streamMJPEG(w, r, sub, stop, nil, func(err error) { acks <- err })
	}))
	defer ts.Close()

	var readers sync.WaitGroup
	var clients []net.Conn
	for range n {
		c, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.WriteString(c, "GET /mjpeg HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
			b.Fatal(err)
		}
		clients = append(clients, c)
		readers.Add(1)
		go drain(c, &readers)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, _ := h.Stats(benchCamera); st.Viewers["mjpeg"] == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("MJPEG viewers did not subscribe within 10s")
		}
		time.Sleep(time.Millisecond)
	}

	next := benchFrames()
	b.SetBytes(int64(n) * benchFrameSize)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		h.Publish(next())
		for range n {
			if err := <-acks; err != nil {
				b.Fatal(err)
			}
		}
	}
	reportPerViewer(b, n, cpu0)
	b.StopTimer()

	close(stop)
	for _, c := range clients {
		c.Close()
	}
	readers.Wait()
	ts.Close()
}
