package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/jpeg"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/livemon/livemon/server/internal/marker"
)

// The crash-consistency run (issue 17): `livemon-bench crash` SIGKILLs
// the server --rounds times at a random moment while uploads (streamed
// slowly, so a kill often lands mid-body or mid-probe), camera deletes
// and session writes are in flight, starts it again on the same data dir
// and checks, after every restart: the database and videos/ agree and
// tmp/ is empty; every stored video is complete; every camera plays its
// newest acknowledged upload (or the one in flight at the kill, never an
// older one), read from the marker in its frames; a deleted camera stays
// deleted; every session the server welcomed resumes with the
// subscriptions it acknowledged.

// crash camera ids: two that only get uploads, one created and deleted.
const (
	crashA     = "a"
	crashB     = "b"
	crashChurn = "churn"
)

type crashOptions struct {
	serverBin string
	out       string
	rounds    int
	maxDelay  time.Duration
	keep      bool
	// sessionsOnly leaves out the uploads and deletes (to tell which
	// activity a failure needs).
	sessionsOnly bool
}

// crashCam is what the harness knows of a camera: the last operation the
// server acknowledged and the one in flight, if any.
type crashCam struct {
	exists   bool   // after the acknowledged operations
	upload   string // acknowledged current upload id
	video    int    // its marker video id (1 or 2)
	inflight string // "upload:V" or "delete", "" if none
}

type crashRun struct {
	o      crashOptions
	videos [2]string
	sizes  map[int64]bool
	logf   func(string, ...any)

	killed atomic.Bool // set just before the kill, so errors it causes are not logged

	mu       sync.Mutex
	cams     map[string]*crashCam
	acked    map[string]int          // acknowledged operations by kind
	sessions map[string]crashSession // id -> what the server acknowledged
	fails    []string
}

type crashSession struct {
	welcomed time.Time
	subs     map[string]bool // acknowledged subscriptions
}

func parseCrashOptions(args []string, stderr io.Writer) (crashOptions, error) {
	var o crashOptions
	fs := flag.NewFlagSet("livemon-bench crash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.serverBin, "server", "bin/livemon", "livemon binary to start")
	fs.StringVar(&o.out, "out", "bench/results", "directory for results and server logs")
	fs.IntVar(&o.rounds, "rounds", 50, "SIGKILLs (1-1000)")
	fs.DurationVar(&o.maxDelay, "max-delay", 3*time.Second, "a kill comes at a random moment up to this long after the activity starts")
	fs.BoolVar(&o.keep, "keep", false, "keep the data dir")
	fs.BoolVar(&o.sessionsOnly, "sessions-only", false, "only session writes, no uploads or deletes (to narrow a failure down)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.rounds < 1 || o.rounds > 1000 || o.maxDelay < 100*time.Millisecond || o.maxDelay > time.Minute {
		return o, errors.New("--rounds 1-1000, --max-delay 100ms-1m")
	}
	return o, nil
}

func runCrash(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseCrashOptions(args, stderr)
	if err != nil {
		return err
	}
	began := time.Now()
	runID := began.UTC().Format("20060102T150405Z")
	prefix := filepath.Join(o.out, "crash-"+runID)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	c := &crashRun{o: o, sizes: map[int64]bool{}, cams: map[string]*crashCam{}, acked: map[string]int{}, sessions: map[string]crashSession{},
		logf: func(format string, a ...any) {
			fmt.Fprintf(stdout, "[%5.0fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, a...))
		}}
	sk := &soak{o: soakOptions{serverBin: o.serverBin, out: o.out}, logf: c.logf}
	if err := sk.makeInputs(ctx); err != nil {
		return err
	}
	c.videos = sk.videos
	for _, v := range c.videos {
		fi, err := os.Stat(v)
		if err != nil {
			return err
		}
		c.sizes[fi.Size()] = true
	}
	dataDir, err := os.MkdirTemp("", "livemon-crash-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(dataDir)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	start := func(round int) (*server, error) {
		var srv *server
		var err error
		for range 5 {
			srv, err = startServer(serverOptions{bin: o.serverBin, dataDir: dataDir, addr: addr, quality: 80, maxFPS: 30,
				linger: 2 * time.Second, logPath: fmt.Sprintf("%s-server-%02d.log", prefix, round)})
			if err == nil {
				return srv, nil
			}
			time.Sleep(time.Second)
		}
		return nil, err
	}
	srv, err := start(0)
	if err != nil {
		return err
	}
	for i, id := range []string{crashA, crashB} {
		if _, err := c.upload(ctx, srv, id, i+1); err != nil {
			srv.stop()
			return fmt.Errorf("first upload: %w", err)
		}
	}
	c.logf("crash run %s: %d SIGKILLs of the server on %s, data %s", runID, o.rounds, addr, dataDir)
	passed := 0
	for round := 1; round <= o.rounds; round++ {
		if ctx.Err() != nil {
			srv.stop()
			return ctx.Err()
		}
		delay := time.Duration(rand.Int64N(int64(o.maxDelay)))
		actx, acancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		acts := []func(context.Context, *server){
			func(ctx context.Context, s *server) { c.uploadLoop(ctx, s, crashA) },
			func(ctx context.Context, s *server) { c.uploadLoop(ctx, s, crashB) },
			c.churnLoop,
			c.sessionLoop,
			c.sessionLoop,
		}
		if o.sessionsOnly {
			acts = acts[3:]
		}
		for _, f := range acts {
			wg.Add(1)
			go func() { defer wg.Done(); f(actx, srv) }()
		}
		time.Sleep(delay)
		c.killed.Store(true)
		srv.kill()
		acancel()
		wg.Wait()
		before := len(c.fails)
		srv, err = start(round)
		if err != nil {
			return fmt.Errorf("round %d: restart: %w", round, err)
		}
		c.killed.Store(false)
		c.check(ctx, srv, dataDir, round)
		if len(c.fails) == before {
			passed++
		}
		c.logf("round %d: killed after %v; %s", round, delay.Round(time.Millisecond), c.summary(round, len(c.fails) == before))
	}
	srv.stop()
	res := map[string]any{"kind": "crash", "run": runID, "rounds": o.rounds, "passed": passed, "failures": c.fails, "acknowledged": c.acked}
	b, _ := json.Marshal(res)
	if err := os.WriteFile(prefix+".json", append(b, '\n'), 0o644); err != nil {
		return err
	}
	c.logf("crash consistency: %d of %d rounds passed; %s.json", passed, o.rounds, prefix)
	if passed != o.rounds {
		return fmt.Errorf("crash consistency: %d of %d rounds failed (first: %s)", o.rounds-passed, o.rounds, c.fails[0])
	}
	return nil
}

func (c *crashRun) fail(round int, format string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	msg := fmt.Sprintf("round %d: %s", round, fmt.Sprintf(format, a...))
	c.fails = append(c.fails, msg)
	c.logf("FAIL %s", msg)
}

func (c *crashRun) summary(round int, ok bool) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(c.cams)) {
		cam := c.cams[id]
		parts = append(parts, fmt.Sprintf("%s=%v/%s/v%d", id, cam.exists, cam.upload, cam.video))
	}
	verdict := "ok"
	if !ok {
		verdict = "FAILED"
	}
	return fmt.Sprintf("%s (%s; acknowledged so far: %v)", verdict, strings.Join(parts, " "), c.acked)
}

func (c *crashRun) cam(id string) *crashCam {
	cam, ok := c.cams[id]
	if !ok {
		cam = &crashCam{}
		c.cams[id] = cam
	}
	return cam
}

// upload uploads video v (1 or 2) to camera id, streaming the body at
// about 4 MB/s so a kill can land while it is received; it records the
// operation in flight and, on success, as acknowledged.
func (c *crashRun) upload(ctx context.Context, srv *server, id string, v int) (string, error) {
	body, ctype, err := multipartBody(c.videos[v-1])
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.cam(id).inflight = "upload:" + strconv.Itoa(v)
	c.mu.Unlock()
	pr, pw := io.Pipe()
	go func() {
		for off := 0; off < len(body); off += 64 << 10 {
			if _, err := pw.Write(body[off:min(off+64<<10, len(body))]); err != nil {
				return
			}
			time.Sleep(15 * time.Millisecond)
		}
		pw.Close()
	}()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, srv.url("/api/cameras/"+id+"/video"), pr)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", ctype)
	req.ContentLength = int64(len(body))
	var out struct {
		Upload string `json:"upload"`
	}
	err = srv.do(req, &out)
	pr.CloseWithError(errors.New("done"))
	if err != nil {
		return "", err // stays in flight: the server may or may not have applied it
	}
	c.mu.Lock()
	cam := c.cam(id)
	cam.exists, cam.upload, cam.video, cam.inflight = true, out.Upload, v, ""
	c.acked["upload"]++
	c.mu.Unlock()
	return out.Upload, nil
}

func (c *crashRun) uploadLoop(ctx context.Context, srv *server, id string) {
	for range 100 {
		if ctx.Err() != nil {
			return
		}
		if _, err := c.upload(ctx, srv, id, 1+rand.IntN(2)); err != nil {
			c.note(ctx, "upload", err)
			return
		}
	}
}

// note logs an activity's error unless the kill caused it.
func (c *crashRun) note(ctx context.Context, what string, err error) {
	if ctx.Err() == nil && !c.killed.Load() {
		c.logf("  %s: %v", what, err)
	}
}

// churnLoop uploads to the churn camera (creating it) and deletes it, in
// turn.
func (c *crashRun) churnLoop(ctx context.Context, srv *server) {
	for range 100 {
		if ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		exists := c.cam(crashChurn).exists
		c.mu.Unlock()
		if !exists {
			if _, err := c.upload(ctx, srv, crashChurn, 1+rand.IntN(2)); err != nil {
				c.note(ctx, "churn upload", err)
				return
			}
			continue
		}
		c.mu.Lock()
		c.cam(crashChurn).inflight = "delete"
		c.mu.Unlock()
		if err := srv.deleteCamera(crashChurn); err != nil {
			c.note(ctx, "churn delete", err)
			return
		}
		c.mu.Lock()
		*c.cam(crashChurn) = crashCam{}
		c.acked["delete"]++
		c.mu.Unlock()
	}
}

// sessionLoop opens sessions, subscribes and unsubscribes, recording what
// the server acknowledged.
func (c *crashRun) sessionLoop(ctx context.Context, srv *server) {
	for range 100000 { // until the kill: a round lasts at most --max-delay
		if !pause(ctx, time.Duration(rand.IntN(20))*time.Millisecond) {
			return
		}
		if ctx.Err() != nil {
			return
		}
		if err := c.sessionOnce(ctx, srv); err != nil {
			c.note(ctx, "session", err)
			return
		}
	}
}

func (c *crashRun) sessionOnce(ctx context.Context, srv *server) error {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.DialContext(ctx, "ws://"+srv.host+"/api/ws", nil)
	if resp != nil {
		resp.Body.Close()
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := conn.WriteJSON(map[string]string{"type": "hello"}); err != nil {
		return err
	}
	w, err := readText(conn, "welcome")
	if err != nil {
		return err
	}
	id := w.Session
	c.mu.Lock()
	c.sessions[id] = crashSession{welcomed: time.Now(), subs: map[string]bool{}}
	c.acked["session"]++
	c.mu.Unlock()
	for _, cam := range []string{crashA, crashB} {
		// Until "subscribed" arrives the subscription may or may not be
		// stored: "cam?" means either is right.
		c.mu.Lock()
		c.sessions[id].subs[cam+"?"] = true
		c.mu.Unlock()
		if err := conn.WriteJSON(map[string]string{"type": "subscribe", "camera": cam}); err != nil {
			return err
		}
		if _, err := readText(conn, "subscribed"); err != nil {
			return err
		}
		c.mu.Lock()
		delete(c.sessions[id].subs, cam+"?")
		c.sessions[id].subs[cam] = true
		c.mu.Unlock()
	}
	// Unsubscribe from one: the subscription is acknowledged gone only
	// when "unsubscribed" arrives; until then either answer is right.
	c.mu.Lock()
	delete(c.sessions[id].subs, crashB)
	c.sessions[id].subs[crashB+"?"] = true
	c.mu.Unlock()
	if err := conn.WriteJSON(map[string]string{"type": "unsubscribe", "camera": crashB}); err != nil {
		return err
	}
	if _, err := readText(conn, "unsubscribed"); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.sessions[id].subs, crashB+"?")
	c.mu.Unlock()
	return nil
}

type wsText struct {
	Type          string `json:"type"`
	Session       string `json:"session"`
	Resumed       bool   `json:"resumed"`
	Code          string `json:"code"`
	Message       string `json:"message"`
	Subscriptions []struct {
		Camera string `json:"camera"`
	} `json:"subscriptions"`
}

// readText reads messages until a text message of type want.
func readText(conn *websocket.Conn, want string) (wsText, error) {
	for range 1000 {
		mt, b, err := conn.ReadMessage()
		if err != nil {
			return wsText{}, err
		}
		if mt != websocket.TextMessage {
			continue
		}
		var m wsText
		if err := json.Unmarshal(b, &m); err != nil {
			return wsText{}, err
		}
		if m.Type == want {
			return m, nil
		}
		if m.Type == "error" {
			return m, fmt.Errorf("server error %s: %s", m.Code, m.Message)
		}
	}
	return wsText{}, fmt.Errorf("no %s", want)
}

// check runs the after-restart checks of one round.
func (c *crashRun) check(ctx context.Context, srv *server, dataDir string, round int) {
	// Files: Open has removed crash leftovers before the server answered.
	if n := countFiles(filepath.Join(dataDir, "tmp")); n != 0 {
		c.fail(round, "%d files in tmp/ after the restart", n)
	}
	db, err := readDB(ctx, dataDir)
	if err != nil {
		c.fail(round, "read database: %v", err)
		return
	}
	files := listFiles(filepath.Join(dataDir, "videos"))
	if !maps.Equal(files, db.files) {
		c.fail(round, "videos/ %v and the database %v disagree", slices.Sorted(maps.Keys(files)), slices.Sorted(maps.Keys(db.files)))
	}
	for name := range files {
		fi, err := os.Stat(filepath.Join(dataDir, "videos", name))
		if err == nil && !c.sizes[fi.Size()] {
			c.fail(round, "videos/%s has %d bytes: not a complete upload", name, fi.Size())
		}
	}
	// Cameras play the newest acknowledged upload (or the one in flight).
	c.mu.Lock()
	cams := map[string]crashCam{}
	for id, cam := range c.cams {
		cams[id] = *cam
	}
	c.mu.Unlock()
	for id, want := range cams {
		var got struct {
			State string `json:"state"`
			Video *struct {
				Upload string `json:"upload"`
				Size   int64  `json:"size"`
			} `json:"video"`
		}
		err := srv.get("/api/cameras/"+id, &got)
		switch {
		case err != nil && strings.Contains(err.Error(), "404"):
			if want.exists && want.inflight != "delete" {
				c.fail(round, "camera %s gone, but its upload %s was acknowledged", id, want.upload)
			} else {
				c.setCam(id, crashCam{})
			}
			continue
		case err != nil:
			c.fail(round, "camera %s: %v", id, err)
			continue
		case !want.exists && !strings.HasPrefix(want.inflight, "upload"):
			c.fail(round, "camera %s exists, but its delete was acknowledged", id)
			continue
		case got.Video == nil:
			c.fail(round, "camera %s has no video", id)
			continue
		}
		video := want.video
		if got.Video.Upload != want.upload {
			v, ok := strings.CutPrefix(want.inflight, "upload:")
			if !ok {
				c.fail(round, "camera %s plays upload %s, not the acknowledged %s (nothing was in flight)", id, got.Video.Upload, want.upload)
				continue
			}
			video, _ = strconv.Atoi(v)
		}
		if !c.sizes[got.Video.Size] {
			c.fail(round, "camera %s: upload %s of %d bytes is not complete", id, got.Video.Upload, got.Video.Size)
		}
		seen, err := snapshotVideo(ctx, srv, id)
		if err != nil {
			c.fail(round, "camera %s (state %s) does not play: %v", id, got.State, err)
			continue
		}
		if seen != video {
			c.fail(round, "camera %s shows video %d, want %d (upload %s)", id, seen, video, got.Video.Upload)
			continue
		}
		c.setCam(id, crashCam{exists: true, upload: got.Video.Upload, video: video})
	}
	c.checkSessions(ctx, srv, dataDir, round)
}

// storedSubscriptions lists the cameras the database holds subscriptions
// to for session id (read-only, for failure messages).
func storedSubscriptions(ctx context.Context, dataDir, id string) []string {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "livemon.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return []string{err.Error()}
	}
	defer db.Close()
	key := sha256.Sum256([]byte(id))
	rows, err := db.QueryContext(ctx, `SELECT camera FROM subscriptions WHERE session = ?`, key[:])
	if err != nil {
		return []string{err.Error()}
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var cam string
		_ = rows.Scan(&cam)
		out = append(out, cam)
	}
	return out
}

func (c *crashRun) welcomedAt(id string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessions[id].welcomed
}

func (c *crashRun) setCam(id string, cam crashCam) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*c.cam(id) = cam
}

// checkSessions resumes up to 8 sessions the server welcomed (the newest
// ones) and checks their subscriptions.
func (c *crashRun) checkSessions(ctx context.Context, srv *server, dataDir string, round int) {
	c.mu.Lock()
	ids := slices.SortedFunc(maps.Keys(c.sessions), func(a, b string) int {
		return c.sessions[b].welcomed.Compare(c.sessions[a].welcomed)
	})
	if len(ids) > 8 {
		for _, old := range ids[8:] {
			delete(c.sessions, old)
		}
		ids = ids[:8]
	}
	want := map[string]map[string]bool{}
	for _, id := range ids {
		want[id] = maps.Clone(c.sessions[id].subs)
	}
	c.mu.Unlock()
	stored := map[string][]string{}
	for _, id := range ids {
		stored[id] = storedSubscriptions(ctx, dataDir, id)
	}
	for _, id := range ids {
		got, err := resumeSession(ctx, srv, id)
		if err != nil {
			c.fail(round, "session %s…: %v", id[:8], err)
			continue
		}
		if !got.Resumed {
			c.fail(round, "session %s… welcomed before the kill was not resumed", id[:8])
			continue
		}
		subs := map[string]bool{}
		for _, s := range got.Subscriptions {
			subs[s.Camera] = true
		}
		for cam := range want[id] {
			if base, maybe := strings.CutSuffix(cam, "?"); maybe {
				delete(subs, base)
				continue
			}
			if !subs[cam] {
				c.fail(round, "session %s… lost its acknowledged subscription to %s (has %v)", id[:8], cam, slices.Sorted(maps.Keys(subs)))
			}
			delete(subs, cam)
		}
		for cam := range subs {
			c.fail(round, "session %s… (welcomed %v before the check, acknowledged %v, stored %v) has subscription %s it did not keep", id[:8],
				time.Since(c.welcomedAt(id)).Round(time.Millisecond), slices.Sorted(maps.Keys(want[id])), stored[id], cam)
		}
		// The resume rewrote nothing the next round relies on.
	}
}

func resumeSession(ctx context.Context, srv *server, id string) (wsText, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.DialContext(ctx, "ws://"+srv.host+"/api/ws", nil)
	if resp != nil {
		resp.Body.Close()
	}
	if err != nil {
		return wsText{}, err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := conn.WriteJSON(map[string]string{"type": "hello", "session": id}); err != nil {
		return wsText{}, err
	}
	return readText(conn, "welcome")
}

// snapshotVideo reads the marker video id of a camera's current frame,
// trying for up to 20 s (the camera starts after the restart).
func snapshotVideo(ctx context.Context, srv *server, id string) (int, error) {
	deadline := time.Now().Add(20 * time.Second)
	var last error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		req, _ := http.NewRequestWithContext(rctx, http.MethodGet, srv.url("/api/cameras/"+id+"/snapshot.jpg"), nil)
		resp, err := httpClient.Do(req)
		if err == nil {
			var b []byte
			b, err = io.ReadAll(io.LimitReader(resp.Body, 8<<20))
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("snapshot: %s: %s", resp.Status, bytes.TrimSpace(b))
			}
			if err == nil {
				img, derr := jpeg.Decode(bytes.NewReader(b))
				if derr != nil {
					err = derr
				} else if v, _, ok := marker.Read(img); ok {
					cancel()
					return v, nil
				} else {
					err = errors.New("no marker in the frame")
				}
			}
		}
		cancel()
		last = err
		time.Sleep(300 * time.Millisecond)
	}
	return 0, last
}
