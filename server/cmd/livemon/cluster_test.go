package main

import (
	"bytes"
	"encoding/binary"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/livemon/livemon/server/internal/cluster/natstest"
	"github.com/livemon/livemon/server/internal/marker"
	"github.com/livemon/livemon/server/internal/opencv"
)

func TestRoleFlags(t *testing.T) {
	env := func(string) string { return "" }
	for _, tc := range []struct {
		args []string
		want string // in the error; "" for none
	}{
		{nil, ""},
		{[]string{"--role", "edge"}, "--role edge needs --nats"},
		{[]string{"--role", "ingest"}, "--role ingest needs --nats"},
		{[]string{"--nats", "nats://127.0.0.1:4222"}, "--nats is only for --role ingest or edge"},
		{[]string{"--role", "hub"}, "--role must be all, ingest or edge"},
		{[]string{"--role", "edge", "--nats", "http://x:1"}, "--nats: NATS URL"},
		{[]string{"--role", "edge", "--nats", "127.0.0.1:4222,127.0.0.1:4223"}, ""},
	} {
		c, err := parseConfig(tc.args, env, io.Discard)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%q: err = %v, want %q", tc.args, err, tc.want)
		}
		if tc.want == "" && c.Role == roleEdge && len(c.NATS) != 2 {
			t.Errorf("%q: NATS = %v", tc.args, c.NATS)
		}
	}
}

// demoFrames is the length of the cluster test's video, which loops.
const demoFrames = 300

// postVideo uploads the file at path as the multipart field "video" and
// returns the status.
func postVideo(t *testing.T, url, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, err := mw.CreateFormFile("video", filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, f); err != nil {
		t.Fatal(err)
	}
	mw.Close()
	resp, err := http.Post(url, mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(resp.Body)
		t.Logf("upload answer %d: %s", resp.StatusCode, msg)
	}
	return resp.StatusCode
}

// halt ends a run like SIGTERM and waits for it (without stop's check
// for child processes: the ingest of the same test still has some).
func (s *server) halt(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("run did not stop within 10s\n%s", s.logs)
	}
}

// wsFrame is a binary WebSocket frame's identity and marker.
type wsFrame struct {
	epoch, seq uint64
	frame      int
}

func readWSFrame(t *testing.T, ws *websocket.Conn) wsFrame {
	t.Helper()
	for {
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		mt, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("read WebSocket: %v", err)
		}
		if mt != websocket.BinaryMessage {
			continue
		}
		hl := int(binary.BigEndian.Uint16(msg[2:]))
		img, err := jpeg.Decode(bytes.NewReader(msg[hl:]))
		if err != nil {
			t.Fatal(err)
		}
		_, f, ok := marker.Read(img)
		if !ok {
			t.Fatal("frame without marker")
		}
		return wsFrame{epoch: binary.BigEndian.Uint64(msg[8:]), seq: binary.BigEndian.Uint64(msg[16:]), frame: f}
	}
}

type welcomeMsg struct {
	Type          string `json:"type"`
	Session       string `json:"session"`
	Resumed       bool   `json:"resumed"`
	Subscriptions []struct {
		Camera  string `json:"camera"`
		Epoch   uint64 `json:"epoch"`
		Seq     uint64 `json:"seq"`
		Skipped uint64 `json:"skipped"`
	} `json:"subscriptions"`
}

func hello(t *testing.T, addr, session string) (*websocket.Conn, welcomeMsg) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/api/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := map[string]any{"type": "hello"}
	if session != "" {
		msg["session"] = session
	}
	if err := ws.WriteJSON(msg); err != nil {
		t.Fatal(err)
	}
	var w welcomeMsg
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := ws.ReadJSON(&w); err != nil || w.Type != "welcome" {
		t.Fatalf("welcome: %+v, %v", w, err)
	}
	return ws, w
}

// The whole cluster through run: three NATS servers, one ingest, edges A
// and B; a camera created by uploading a video to edge A. A WebSocket viewer on edge A; edge A
// stops and one NATS server dies; the viewer resumes on edge B with the same session, resumed,
// the same epoch, a larger seq and the video where it was (the marker's
// frame index moved on exactly as the seq did).
func TestClusterEdgeFailover(t *testing.T) {
	nats := natstest.Cluster(t, 3)
	url := nats.URL()
	ingest := startWithin(t, time.Minute, freeAddr(t), t.TempDir(), "--role", "ingest", "--nats", url)
	defer ingest.stop(t)
	addrA, addrB := freeAddr(t), freeAddr(t)
	edgeA := start(t, addrA, t.TempDir(), "--role", "edge", "--nats", url)
	edgeB := start(t, addrB, t.TempDir(), "--role", "edge", "--nats", url)
	defer edgeB.halt(t)
	// The camera is created by an upload to edge A, which streams it to
	// the object store and has the ingest switch to it.
	path := filepath.Join(t.TempDir(), "clip.avi")
	if err := opencv.WriteVideo(path, opencv.VideoSpec{VideoID: 3, Frames: demoFrames, Width: 320, Height: 180, FPS: 30}); err != nil {
		t.Fatal(err)
	}
	if code := postVideo(t, "http://"+addrA+"/api/cameras/demo/video", path); code != http.StatusCreated {
		t.Fatalf("upload through edge A: %d\nedge A:\n%s\ningest:\n%s", code, edgeA.logs, ingest.logs)
	}
	waitRunning(t, addrA, "demo")
	waitRunning(t, addrB, "demo")

	// Each node's log when the test fails, for what it did.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("edge A:\n%s\nedge B:\n%s\ningest:\n%s", edgeA.logs, edgeB.logs, ingest.logs)
		}
	})
	ws, w := hello(t, addrA, "")
	if err := ws.WriteJSON(map[string]any{"type": "subscribe", "camera": "demo"}); err != nil {
		t.Fatal(err)
	}
	first := readWSFrame(t, ws)
	last := first
	// Watch for 2.5 s, so the session's positions are flushed (every 2 s).
	for until := time.Now().Add(2500 * time.Millisecond); time.Now().Before(until); {
		f := readWSFrame(t, ws)
		if f.epoch != first.epoch || f.seq <= last.seq {
			t.Fatalf("frame epoch %d seq %d after epoch %d seq %d", f.epoch, f.seq, last.epoch, last.seq)
		}
		last = f
	}
	edgeA.halt(t)
	ws.Close()
	// One of the three NATS servers dies too: no session is lost.
	nats.Shutdown(0)

	ws, w2 := hello(t, addrB, w.Session)
	defer ws.Close()
	if !w2.Resumed || w2.Session != w.Session || len(w2.Subscriptions) != 1 || w2.Subscriptions[0].Camera != "demo" {
		t.Fatalf("welcome on edge B = %+v, want session %s resumed with demo", w2, w.Session)
	}
	sub := w2.Subscriptions[0]
	// Edge A stopped gracefully, so the session holds the last frame it
	// sent (at least the last one read here); skipped is what the camera
	// played meanwhile: well under 10 s of video.
	if sub.Epoch != last.epoch || sub.Seq < sub.Skipped || sub.Seq-sub.Skipped < last.seq || sub.Skipped > 30*10 {
		t.Fatalf("resumed subscription %+v after epoch %d seq %d", sub, last.epoch, last.seq)
	}
	next := readWSFrame(t, ws)
	if next.epoch != last.epoch || next.seq <= last.seq {
		t.Fatalf("on edge B: epoch %d seq %d, before epoch %d seq %d", next.epoch, next.seq, last.epoch, last.seq)
	}
	if moved, byFrame := (next.seq-last.seq)%demoFrames, uint64((next.frame-last.frame+demoFrames)%demoFrames); moved != byFrame {
		t.Fatalf("video jumped: seq moved %d, marker frame %d -> %d (%d)", moved, last.frame, next.frame, byFrame)
	}
}
