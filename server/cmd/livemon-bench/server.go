package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// server is a livemon process the bench started, or one it was pointed at.
type server struct {
	host string // 127.0.0.1:port
	cmd  *exec.Cmd
	pid  int
	done chan error // receives cmd.Wait's result; nil if not started here
	log  *os.File

	stopOnce sync.Once
	stopErr  error
	killed   bool // by kill; the driver's goroutine only
}

// serverOptions are the flags the bench passes to livemon.
type serverOptions struct {
	bin     string
	dataDir string
	logPath string
	quality int
	maxFPS  float64
	linger  time.Duration
	extra   []string
	// addr, if set, is the loopback host:port to listen on (a restart on
	// the same address); otherwise a free port is picked.
	addr string
}

// startServer starts livemon on a free loopback port and waits for
// /healthz.
func startServer(o serverOptions) (*server, error) {
	host := o.addr
	if host == "" {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		host = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	args := []string{
		"--addr", host,
		"--data", o.dataDir,
		"--demo=false",
		"--quality", strconv.Itoa(o.quality),
		"--max-fps", strconv.FormatFloat(o.maxFPS, 'g', -1, 64),
		"--linger", o.linger.String(),
		"--log-level", "warn",
	}
	return launch(o.bin, append(args, o.extra...), host, o.logPath, "/healthz")
}

// launch starts bin with args, its output in logPath, and waits up to 30 s
// until GET http://host+health answers 2xx. host is where the process
// serves HTTP (a NATS server's monitoring address, livemon's API).
// The log is appended to, so a restarted process keeps its earlier log.
func launch(bin string, args []string, host, logPath, health string) (*server, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &server{host: host, cmd: cmd, pid: cmd.Process.Pid, done: make(chan error, 1), log: logf}
	go func() { s.done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := s.get(health, nil); err == nil {
			return s, nil
		}
		select {
		case err := <-s.done:
			s.done <- err
			return nil, fmt.Errorf("%s exited at start: %v (see %s)", filepath.Base(bin), err, logPath)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s not healthy within 30s (see %s)", filepath.Base(bin), logPath)
		}
	}
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// stop sends SIGTERM, waits up to 10 s, then kills. Calling it again
// returns the first call's result.
func (s *server) stop() error {
	if s.cmd == nil {
		return nil
	}
	s.stopOnce.Do(func() {
		defer s.log.Close()
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case s.stopErr = <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
			s.stopErr = errors.New("server did not stop within 10s; killed")
		}
	})
	return s.stopErr
}

// exited reports whether a process the bench started has ended.
func (s *server) exited() bool {
	if s.cmd == nil {
		return false
	}
	if s.killed {
		return true
	}
	select {
	case err := <-s.done:
		s.done <- err
		return true
	default:
		return false
	}
}

// kill ends the process with SIGKILL (a crash) and waits for it; a later
// stop does nothing.
func (s *server) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	s.killed = true
	s.stopOnce.Do(func() { <-s.done; s.log.Close() })
}

func (s *server) url(path string) string { return "http://" + s.host + path }

// get fetches path and decodes JSON into out (if not nil).
func (s *server) get(path string, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url(path), nil)
	if err != nil {
		return err
	}
	return s.do(req, out)
}

func (s *server) do(req *http.Request, out any) error { return doJSON(req, out, nil) }

// doJSON sends req and decodes a 2xx JSON answer into out (if not nil);
// another status is an *httpError. check, if set, sees every answer's
// status and body first.
func doJSON(req *http.Request, out any, check func(what string, status int, body []byte)) error {
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	what := req.Method + " " + req.URL.Path
	if check != nil {
		check(what, resp.StatusCode, body)
	}
	if resp.StatusCode/100 != 2 {
		return &httpError{what: what, status: resp.StatusCode, statusText: resp.Status, body: string(bytes.TrimSpace(body))}
	}
	if out != nil {
		return json.Unmarshal(body, out)
	}
	return nil
}

// httpError is an answer other than 2xx.
type httpError struct {
	what       string // method and path
	status     int
	statusText string
	body       string
}

func (e *httpError) Error() string { return fmt.Sprintf("%s: %s: %s", e.what, e.statusText, e.body) }

// probe is the part of the upload response the bench needs.
type probe struct {
	Width  int     `json:"width"`
	Height int     `json:"height"`
	FPS    float64 `json:"fps"`
	Frames int64   `json:"frames"`
}

// upload posts the video file as camera's video, streaming it.
func (s *server) upload(camera, path string) (probe, error) {
	f, err := os.Open(path)
	if err != nil {
		return probe{}, err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, err := mw.CreateFormFile("video", filepath.Base(path))
		if err == nil {
			_, err = io.Copy(fw, f)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url("/api/cameras/"+camera+"/video"), pr)
	if err != nil {
		return probe{}, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	var out struct {
		Probe probe `json:"probe"`
	}
	if err := s.do(req, &out); err != nil {
		pr.CloseWithError(err)
		return probe{}, fmt.Errorf("upload: %w", err)
	}
	return out.Probe, nil
}

// deleteCamera removes a camera.
func (s *server) deleteCamera(camera string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, s.url("/api/cameras/"+camera), nil)
	if err != nil {
		return err
	}
	return s.do(req, nil)
}

// createLiveCamera adds camera id fed by the live source url.
func (s *server) createLiveCamera(id, url string) error {
	body, err := json.Marshal(map[string]any{"id": id, "name": id, "source": map[string]string{"url": url}})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url("/api/cameras"), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return s.do(req, nil)
}

// stats is the part of /api/stats the bench reads.
type stats struct {
	Server struct {
		Sessions      int `json:"sessions"`
		WSConnections int `json:"ws_connections"`
	} `json:"server"`
	Cameras []cameraStats `json:"cameras"`
}

type cameraStats struct {
	ID        string            `json:"id"`
	State     string            `json:"state"`
	FPS       float64           `json:"fps"`
	Viewers   map[string]int    `json:"viewers"`
	Drops     map[string]uint64 `json:"drops"`
	Published uint64            `json:"published"`
	Encoded   uint64            `json:"encoded"`
	Grabbed   uint64            `json:"grabbed"`
	Source    struct {
		Kind string `json:"kind"` // file, http, mjpeg, snapshot, rtsp
	} `json:"source"`
}

// control posts an operator action (start, stop, restart) to a camera.
func (s *server) control(camera, action string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url("/api/cameras/"+camera+"/"+action), nil)
	if err != nil {
		return err
	}
	return s.do(req, nil)
}

func (s *server) stats() (stats, error) {
	var st stats
	err := s.get("/api/stats", &st)
	return st, err
}

func (st stats) camera(id string) (cameraStats, bool) {
	for _, c := range st.Cameras {
		if c.ID == id {
			return c, true
		}
	}
	return cameraStats{}, false
}

// viewers is the number of viewers of all cameras (snapshots excluded).
func (st stats) viewers() int {
	n := 0
	for _, c := range st.Cameras {
		for t, v := range c.Viewers {
			if t != string(media.TransportSnapshot) {
				n += v
			}
		}
	}
	return n
}

// waitUntil polls /api/stats until cond holds or d passes.
func (s *server) waitUntil(d time.Duration, cond func(stats) bool) (stats, error) {
	deadline := time.Now().Add(d)
	for {
		st, err := s.stats()
		if err == nil && cond(st) {
			return st, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("condition not met within %v", d)
			}
			return st, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
