package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// runViewer runs one viewer against ts until the server ends the stream.
func runViewer(t *testing.T, ts *httptest.Server, cfg viewerConfig) viewerState {
	t.Helper()
	cfg.host = ts.Listener.Addr().String()
	cfg.camera = "cam"
	v := newViewer(cfg, time.Now())
	first := make(chan *viewer, 1)
	v.start(first)
	if !v.wait(10 * time.Second) {
		v.close()
		t.Fatal("viewer did not end")
	}
	return v.snapshot()
}

// mjpegServer writes parts frames of varied sizes, splitting every write
// in odd places and flushing in between, so chunk boundaries fall inside
// part headers and JPEG bytes.
func mjpegServer(parts int, identity bool) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/cameras/cam/mjpeg" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=livemonframe")
		if identity {
			w.Header().Set("Transfer-Encoding", "identity")
		}
		rc := http.NewResponseController(w)
		for i := 1; i <= parts; i++ {
			jpeg := bytes.Repeat([]byte{byte(i)}, 1000*i+17)
			var p bytes.Buffer
			fmt.Fprintf(&p, "--livemonframe\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\nX-Epoch: 1\r\nX-Seq: %d\r\n\r\n", len(jpeg), 100+i)
			p.Write(jpeg)
			p.WriteString("\r\n")
			b := p.Bytes()
			for len(b) > 0 {
				n := min(len(b), 7+i*13)
				w.Write(b[:n])
				rc.Flush()
				b = b[n:]
			}
		}
	}))
}

func TestMJPEGViewerParsesParts(t *testing.T) {
	for _, identity := range []bool{false, true} {
		t.Run(fmt.Sprintf("identity=%v", identity), func(t *testing.T) {
			const parts = 40
			ts := mjpegServer(parts, identity)
			defer ts.Close()
			v := runViewer(t, ts, viewerConfig{transport: transportMJPEG})
			if len(v.samples) != parts {
				t.Fatalf("got %d parts, want %d (err %v)", len(v.samples), parts, v.err)
			}
			for i, s := range v.samples {
				if s.seq != uint64(101+i) {
					t.Fatalf("part %d: seq %d, want %d", i, s.seq, 101+i)
				}
				if s.size < int32(1000*(i+1)+17) {
					t.Fatalf("part %d: size %d smaller than its JPEG", i, s.size)
				}
			}
			if v.firstFrame <= 0 {
				t.Fatal("no time to first frame")
			}
		})
	}
}

func TestMJPEGViewerRejectsError(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{}}`, http.StatusServiceUnavailable)
	}))
	defer ts.Close()
	v := runViewer(t, ts, viewerConfig{transport: transportMJPEG})
	if v.err == nil || !strings.Contains(v.err.Error(), "503") {
		t.Fatalf("err = %v, want the 503 status", v.err)
	}
}

// wsServer speaks enough of docs/protocol.md for a viewer: welcome,
// subscribed, then frames with a stats message in between.
func wsServer(t *testing.T, frames int) *httptest.Server {
	up := websocket.Upgrader{}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		var hello map[string]string
		if err := c.ReadJSON(&hello); err != nil || hello["type"] != "hello" {
			t.Errorf("hello: %v %v", hello, err)
			return
		}
		c.WriteJSON(map[string]any{"type": "welcome", "session": "0123456789abcdef0123456789abcdef", "resumed": false})
		var sub map[string]string
		if err := c.ReadJSON(&sub); err != nil || sub["type"] != "subscribe" || sub["camera"] != "cam" {
			t.Errorf("subscribe: %v %v", sub, err)
			return
		}
		c.WriteJSON(map[string]any{"type": "subscribed", "camera": "cam", "channel": 1, "epoch": 7, "seq": 10})
		for i := 1; i <= frames; i++ {
			msg := make([]byte, wsHeaderLen+5000*i)
			msg[0], msg[3] = 1, wsHeaderLen
			binary.BigEndian.PutUint32(msg[4:], 1)
			binary.BigEndian.PutUint64(msg[8:], 7)
			binary.BigEndian.PutUint64(msg[16:], uint64(10+i))
			binary.BigEndian.PutUint64(msg[24:], uint64(time.Now().UnixMilli()))
			c.WriteMessage(websocket.BinaryMessage, msg)
			if i%3 == 0 {
				c.WriteJSON(map[string]any{"type": "stats", "camera": "cam", "fps": 30})
			}
		}
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	}))
}

func TestWebSocketViewerReadsFrames(t *testing.T) {
	const frames = 25
	ts := wsServer(t, frames)
	defer ts.Close()
	v := runViewer(t, ts, viewerConfig{transport: transportWS})
	if len(v.samples) != frames {
		t.Fatalf("got %d frames, want %d (err %v)", len(v.samples), frames, v.err)
	}
	if v.session != "0123456789abcdef0123456789abcdef" || v.epoch != 7 {
		t.Fatalf("session %q epoch %d", v.session, v.epoch)
	}
	for i, s := range v.samples {
		if s.seq != uint64(11+i) || s.size != int32(wsHeaderLen+5000*(i+1)) {
			t.Fatalf("frame %d: seq %d size %d", i, s.seq, s.size)
		}
		if lat := float64(s.wall-s.ts*1000) / 1e3; lat < -1 || lat > 5000 {
			t.Fatalf("frame %d: latency %.1f ms", i, lat)
		}
	}
}

func TestStalledViewerStopsReading(t *testing.T) {
	ts := wsServer(t, 50)
	defer ts.Close()
	cfg := viewerConfig{transport: transportWS, stallAfter: 5, host: ts.Listener.Addr().String(), camera: "cam"}
	v := newViewer(cfg, time.Now())
	v.start(make(chan *viewer, 1))
	if v.wait(300 * time.Millisecond) {
		t.Fatal("stalled viewer ended by itself")
	}
	v.close()
	if !v.wait(5 * time.Second) {
		t.Fatal("stalled viewer did not end on close")
	}
	if n := len(v.snapshot().samples); n != 5 {
		t.Fatalf("stalled viewer read %d frames, want 5", n)
	}
}

func TestAnalysis(t *testing.T) {
	v := &viewer{st: viewerState{firstFrame: 5 * time.Millisecond}}
	// 31 frames 33 ms apart from t=0, latency 2 ms each.
	for i := range 31 {
		mono := int64(i) * 33e6
		v.st.samples = append(v.st.samples, sample{mono: mono, wall: 1e9 + mono/1e3 + 2000, ts: (1e9 + mono/1e3) / 1000, seq: uint64(i), size: 100})
	}
	var r result
	analysis{winStart: 0, winEnd: 1e9}.fill(&r, []*viewer{v})
	if r.FPSMedian != 31 || r.FPSMin != 31 {
		t.Fatalf("fps %v/%v, want 31", r.FPSMin, r.FPSMedian)
	}
	if r.GapP50 != 33 || r.GapP99 != 33 {
		t.Fatalf("gaps %v %v, want 33", r.GapP50, r.GapP99)
	}
	if r.LatP50 < 1.9 || r.LatP50 > 3 {
		t.Fatalf("latency p50 %v, want about 2", r.LatP50)
	}
	if r.TTFFP50 != 5 || r.BytesPerSec != 3100 {
		t.Fatalf("ttff %v bytes/s %v", r.TTFFP50, r.BytesPerSec)
	}
}

func TestQuantileAndSlope(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	if q := quantile(xs, 0.5); q != 3 {
		t.Fatalf("median %v", q)
	}
	if q := quantile(xs, 1); q != 5 {
		t.Fatalf("max %v", q)
	}
	if !math.IsNaN(quantile(nil, 0.5)) {
		t.Fatal("quantile of nothing is not NaN")
	}
	if s := slope([]float64{1, 10, 200}, []float64{0.3, 0.309, 0.499}); math.Abs(s-0.001) > 1e-9 {
		t.Fatalf("slope %v", s)
	}
}

func TestParseBench(t *testing.T) {
	out := `goos: linux
BenchmarkPublish/1000subs-2         	   40743	     32937 ns/op	       0 B/op	       0 allocs/op
BenchmarkWebSocketWrite/10viewers-2 	    1593	    960226 ns/op	1365.01 MB/s	     96023 ns/viewer	  439052 B/op	      24 allocs/op
PASS
`
	rs := parseBench(strings.NewReader(out))
	if len(rs) != 2 {
		t.Fatalf("parsed %d lines", len(rs))
	}
	if rs[0].Name != "BenchmarkPublish/1000subs" || rs[0].NsPerOp != 32937 || rs[0].AllocsPerOp != 0 {
		t.Fatalf("%+v", rs[0])
	}
	if rs[1].Metrics["ns/viewer"] != 96023 || rs[1].BytesPerOp != 439052 || rs[1].AllocsPerOp != 24 {
		t.Fatalf("%+v", rs[1])
	}
}

func TestTreeCPUSeesLiveChildren(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 5 & i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; wait")
	if err := cmd.Start(); err != nil {
		t.Skip("no sh:", err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, _, n := treeCPU(os.Getpid())
		if n >= 2 { // sh and its sleep
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("descendants = %v, want sh and sleep", descendants(os.Getpid()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	u, s, _ := procCPU(os.Getpid())
	own := u + s
	time.Sleep(300 * time.Millisecond) // sh is busy counting meanwhile
	u, s, _, _ = treeCPU(os.Getpid())
	if tree := u + s; tree <= own {
		t.Fatalf("tree CPU %v not above own %v while a child computes", u+s, own)
	}
}
