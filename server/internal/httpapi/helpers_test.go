package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/metrics"
	"github.com/livemon/livemon/server/internal/session"
	"github.com/livemon/livemon/server/internal/store"
	"github.com/livemon/livemon/server/internal/synth"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is a whole server over synthetic videos (no OpenCV).
type env struct {
	t    *testing.T
	dir  string
	srv  *httptest.Server
	api  *Server
	cams *camera.Manager
	hub  *hub.Hub
	// conns holds the server side of every connection, by its remote
	// address.
	conns *sync.Map
}

type envOptions struct {
	maxUpload  int64
	origins    []string
	maxCameras int // camera.Config.MaxCameras
	// sendBuffer, if set, is the server's socket send buffer in bytes, so
	// a client that does not read stalls the server's writes soon.
	sendBuffer int
	// maxDecoders, if set, caps decoding cameras (decoder.Limit).
	maxDecoders int
	// edges, if set, makes the server a cluster edge with this edge list.
	edges Edges
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	return newEnvWith(t, o, nil)
}

// newEnvWith lets a test change the HTTP config.
func newEnvWith(t *testing.T, o envOptions, configure func(*Config)) *env {
	t.Helper()
	return newEnvAt(t, t.TempDir(), o, configure)
}

// newEnvIn keeps the data in dir.
func newEnvIn(t *testing.T, dir string, o envOptions) *env {
	t.Helper()
	return newEnvAt(t, dir, o, nil)
}

func newEnvAt(t *testing.T, dir string, o envOptions, configure func(*Config)) *env {
	t.Helper()
	if o.maxUpload == 0 {
		o.maxUpload = 1 << 20
	}
	ctx := context.Background()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := hub.New(hub.WithLinger(300 * time.Millisecond))
	mets := metrics.New()
	var opener decoder.Opener = synth.Opener{}
	if o.maxDecoders > 0 {
		opener = decoder.NewLimit(opener, o.maxDecoders)
	}
	cams := camera.New(camera.Config{Quality: 70, MaxFPS: 30, CheckpointEvery: 100 * time.Millisecond, MaxCameras: o.maxCameras},
		camera.Deps{Store: st, Hub: h, Opener: opener, Prober: synth.Prober{}, Logger: log, OnEncode: mets.Encoded})
	if err := cams.Load(ctx); err != nil {
		t.Fatal(err)
	}
	sessions := session.New(st, time.Minute, time.Now)
	cfg := Config{MaxUpload: o.maxUpload, AllowedOrigins: o.origins, Version: "test"}
	if configure != nil {
		configure(&cfg)
	}
	api := NewServer(Deps{
		Config:   cfg,
		Cameras:  cams,
		Hub:      h,
		Store:    st,
		Sessions: sessions,
		Logger:   log,
		Metrics:  mets,
		Edges:    o.edges,
	})
	cams.AddForgetter(sessions)
	cams.AddForgetter(mets)
	cams.AddForgetter(api)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = cams.Run(runCtx)
	}()
	ts := httptest.NewUnstartedServer(api)
	conns := new(sync.Map)
	ts.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		conns.Store(c.RemoteAddr().String(), c)
		if tc, ok := c.(*net.TCPConn); ok && o.sendBuffer > 0 {
			tc.SetWriteBuffer(o.sendBuffer)
		}
		return ConnContext(ctx, c)
	}
	ts.Start()
	t.Cleanup(func() {
		api.Close()
		ts.Close()
		cancel()
		<-done
		_ = st.Close()
	})
	return &env{t: t, dir: dir, srv: ts, api: api, cams: cams, hub: h, conns: conns}
}

func (e *env) url(path string) string { return e.srv.URL + path }

// do sends a request and returns status and body.
func (e *env) do(method, path string, body io.Reader, header http.Header) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url(path), body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	e.assertNoPath(data)
	return resp.StatusCode, data
}

// assertNoPath fails if a response leaks the data dir.
func (e *env) assertNoPath(data []byte) {
	e.t.Helper()
	if bytes.Contains(data, []byte(e.dir)) || bytes.Contains(data, []byte("/videos/")) || bytes.Contains(data, []byte("/tmp/")) {
		e.t.Fatalf("response leaks a server path: %s", data)
	}
}

func (e *env) json(method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	status, data := e.do(method, path, r, nil)
	var out map[string]any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			e.t.Fatalf("%s %s: not JSON (%d): %s", method, path, status, data)
		}
	}
	return status, out
}

// multipartBody builds a form with one file field.
func multipartBody(t *testing.T, field, filename string, content []byte) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(content)
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// upload posts content as the camera's video.
func (e *env) upload(path, filename string, content []byte) (int, map[string]any) {
	e.t.Helper()
	body, ct := multipartBody(e.t, "video", filename, content)
	status, data := e.do(http.MethodPost, path, body, http.Header{"Content-Type": {ct}})
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		e.t.Fatalf("upload: not JSON (%d): %s", status, data)
	}
	return status, out
}

func synthVideo(video int, frames int64) []byte {
	return []byte(synth.Spec{Video: video, Frames: frames, FPS: 30, Width: 96, Height: 64}.String())
}

// dataFiles lists the files in the data dir's tmp/ and videos/.
func (e *env) dataFiles() []string {
	var out []string
	for _, sub := range []string{"tmp", "videos"} {
		entries, _ := os.ReadDir(filepath.Join(e.dir, sub))
		for _, de := range entries {
			out = append(out, sub+"/"+de.Name())
		}
	}
	return out
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
