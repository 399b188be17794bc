// Package live runs one supervised loop per live camera: it fetches an
// HTTP(S) MJPEG stream or JPEG snapshot URL and publishes each JPEG to the
// hub as it arrives, passed through (never decoded or re-encoded; only
// AVI1 frames get the standard Huffman tables, see package mjpeg), or it
// has an RTSP(S) stream decoded in a decode child (Deps.Streams, package
// isolate with OpenCV's FFmpeg backend) and publishes each frame as the
// JPEG the child encodes (rtsp.go). A passthrough camera's grid rendition
// is scaled down from its JPEGs by Deps.Scaler (grid.go).
//
// Contract: Start launches the loop's goroutine (and, with a Scaler, the
// grid goroutine that calls it); Stop (or cancelling the ctx given to
// Start) ends them, and Stop waits for them. GridStats may be called from
// any goroutine. Status and Kind may
// be called from any goroutine. OnStatus is called from the loop's
// goroutine on every change of state or error and must not block.
//
// Kind: an rtsp(s) URL is SourceRTSP. For http(s), the Content-Type of
// the camera's answer decides it:
// multipart/x-mixed-replace is an MJPEG stream, image/jpeg a snapshot URL,
// polled every SnapshotInterval while watched. Anything else is state
// error "not a JPEG or MJPEG answer".
//
// Timeline: every frame has seq Config.Seq+1, +2, ... within the run's
// epoch, across reconnects (the camera manager checkpoints Status().Seq,
// so it keeps growing across server restarts too). Position is the time
// since the source (re)connected.
//
// Offline: a failed connect, a closed stream or no frame for FrameTimeout
// (5 s) sets state offline with the reason in plain words ("connection
// refused", "no frames for 5 s"); a camera that answers wrongly ("401 from
// camera", "not a JPEG or MJPEG answer") sets state error. Either way the
// last frame stays the hub's latest and the loop reconnects after a
// backoff of 0.5 s doubling to 10 s, forever, back to 0.5 s after a frame.
// While a watched camera cannot be reached at all (connection refused,
// host not found) a bare TCP connect every 0.5 s (ProbeEvery) cuts the
// backoff short when it succeeds, so frames flow again within about 2 s
// of the camera's return however long it was away.
//
// Unwatched cameras are nearly free: once Watcher.Watched is false (the
// hub's linger after the last viewer left) the loop disconnects and only
// refreshes one frame every Refresh (10 s; RTSP: RTSPRefresh, 30 s, as
// each costs a decode child's start; connect, take one frame,
// disconnect; a snapshot source: one poll), so the kept frame stays
// recent. A viewer's arrival (Watcher.Wake) reconnects at once; the
// viewer gets the kept frame from the hub immediately.
//
// Credentials: a URL's user and password are sent as HTTP Basic auth and
// never appear in logs, errors or statuses (media.RedactURL).
package live

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/mjpeg"
)

// Defaults of Timings.
const (
	DefaultSnapshotInterval = time.Second
	DefaultFrameTimeout     = 5 * time.Second
	DefaultConnectTimeout   = 5 * time.Second
	DefaultRefresh          = 10 * time.Second
	// DefaultRTSPRefresh is longer: an RTSP refresh starts a decode child
	// (about 0.25 s of CPU to load OpenCV and FFmpeg) and decodes up to
	// the next key frame, about 0.35 s of CPU in all; every 30 s that is
	// about 0.01 cores per unwatched camera.
	DefaultRTSPRefresh = 30 * time.Second
	DefaultMinBackoff  = 500 * time.Millisecond
	DefaultMaxBackoff  = 10 * time.Second
	DefaultProbeEvery  = 500 * time.Millisecond
)

// Timings are the loop's intervals; zero fields take the defaults.
type Timings struct {
	SnapshotInterval time.Duration // between polls of a watched snapshot source
	FrameTimeout     time.Duration // no frame for this long: offline
	ConnectTimeout   time.Duration // connect, TLS and response headers
	Refresh          time.Duration // between one-frame refreshes while unwatched
	RTSPRefresh      time.Duration // the same for RTSP sources
	MinBackoff       time.Duration
	MaxBackoff       time.Duration
	// ProbeEvery: while a watched camera cannot be reached, a bare TCP
	// connect this often ends a longer backoff as soon as it returns.
	ProbeEvery time.Duration
}

func (t Timings) withDefaults() Timings {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.SnapshotInterval, DefaultSnapshotInterval)
	def(&t.FrameTimeout, DefaultFrameTimeout)
	def(&t.ConnectTimeout, DefaultConnectTimeout)
	def(&t.Refresh, DefaultRefresh)
	def(&t.RTSPRefresh, DefaultRTSPRefresh)
	def(&t.MinBackoff, DefaultMinBackoff)
	def(&t.MaxBackoff, DefaultMaxBackoff)
	def(&t.ProbeEvery, DefaultProbeEvery)
	return t
}

// Config is one run of a live camera.
type Config struct {
	Camera media.CameraID
	URL    string // rtsp(s) or http(s), may carry user:password
	// Transport is an RTSP source's transport ("" is tcp).
	Transport media.RTSPTransport
	Epoch     uint64
	// Seq is the last seq of this epoch published so far.
	Seq     uint64
	Timings Timings
	// Grid is how the grid rendition is made (zero fields: defaults).
	Grid media.Grid
	// Quality is the JPEG quality of scaled grid frames (0: the default).
	Quality int
}

// Deps are what a runner talks to.
type Deps struct {
	Publisher decoder.Publisher
	Watcher   decoder.Watcher // nil: always watched
	// Client fetches the URL; nil: NewClient(Timings.ConnectTimeout).
	Client *http.Client
	// Streams opens RTSP streams in decode children (the decoder limit
	// around the isolate Opener); nil: RTSP sources report an error.
	Streams decoder.StreamOpener
	// Scaler makes a passthrough camera's grid frames (grid.go); nil: its
	// grid frames are its full JPEGs.
	Scaler   decoder.Scaler
	Logger   *slog.Logger
	OnStatus func(decoder.Status)
}

// NewClient returns the HTTP client live sources share: bounded connect,
// TLS and header times, no proxy from the environment, no compression,
// and redirects only to http(s), at most 3.
func NewClient(connectTimeout time.Duration) *http.Client {
	if connectTimeout <= 0 {
		connectTimeout = DefaultConnectTimeout
	}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   connectTimeout,
			ResponseHeaderTimeout: connectTimeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       30 * time.Second,
			DisableCompression:    true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return errors.New("redirect to a scheme other than http(s)")
			}
			return nil
		},
	}
}

// Runner is one live camera's loop.
type Runner struct {
	cfg    Config
	t      Timings
	deps   Deps
	log    *slog.Logger
	req    *url.URL // cfg.URL without its user info
	user   *url.Userinfo
	cancel context.CancelFunc
	done   chan struct{}

	seq atomic.Uint64 // last published; read by Status

	mu        sync.Mutex
	st        decoder.Status
	kind      media.SourceKind
	connected time.Time // zero while not connected
	fpsCount  int
	fpsSince  time.Time

	grid gridState // the grid rendition (grid.go); owned by the loop

	// The grid goroutine's mailbox (grid.go): the newest frame to scale.
	gridMu      sync.Mutex
	gridPending *media.Frame
	gridReady   chan struct{} // capacity 1
	gridCount   gridCounters
}

// Start validates cfg.URL and starts the loop. An invalid URL starts a
// loop that only reports the error (the manager validates URLs first).
func Start(ctx context.Context, cfg Config, deps Deps) *Runner {
	t := cfg.Timings.withDefaults()
	if deps.Client == nil {
		deps.Client = NewClient(t.ConnectTimeout)
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &Runner{
		cfg: cfg, t: t, deps: deps, cancel: cancel, done: make(chan struct{}), gridReady: make(chan struct{}, 1),
		log:  deps.Logger.With("source", media.RedactURL(cfg.URL)),
		kind: media.InitialKind(cfg.URL),
		st:   decoder.Status{State: media.StateStarting, Epoch: cfg.Epoch, Seq: cfg.Seq},
	}
	r.seq.Store(cfg.Seq)
	u, err := media.ParseSourceURL(cfg.URL)
	if err == nil {
		r.user = u.User
		ru := *u
		ru.User = nil
		r.req = &ru
	}
	go r.run(ctx, err)
	return r
}

// Stop ends the loop and waits for it.
func (r *Runner) Stop() {
	r.cancel()
	<-r.done
}

// Status returns the run's current state.
func (r *Runner) Status() decoder.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	st.Seq = r.seq.Load()
	if !r.connected.IsZero() {
		st.Position = time.Since(r.connected)
	}
	return st
}

// Kind is the source's kind: SourceHTTP until the camera first answered.
func (r *Runner) Kind() media.SourceKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.kind
}

// refresh is how often an unwatched camera takes one frame.
func (r *Runner) refresh() time.Duration {
	if r.req != nil && media.IsRTSP(r.req) {
		return r.t.RTSPRefresh
	}
	return r.t.Refresh
}

func (r *Runner) watched() bool {
	w := r.deps.Watcher
	return w == nil || w.Watched(r.cfg.Camera)
}

func (r *Runner) wake() <-chan struct{} {
	if w := r.deps.Watcher; w != nil {
		return w.Wake(r.cfg.Camera)
	}
	return nil
}

func (r *Runner) run(ctx context.Context, bad error) {
	defer close(r.done)
	if r.deps.Scaler != nil {
		var wg sync.WaitGroup
		wg.Go(func() { r.scaleGrid(ctx) })
		defer wg.Wait() // ctx has ended by then: Stop or the caller's
	}
	if bad != nil {
		r.setState(media.StateError, bad.Error())
		<-ctx.Done()
		return
	}
	backoff := r.t.MinBackoff
	var lastFrame time.Time
	for ctx.Err() == nil {
		once := false
		if !r.watched() && !lastFrame.IsZero() {
			// Idle: wait for a viewer or the next refresh.
			if d := r.refresh() - time.Since(lastFrame); d > 0 {
				if !sleep(ctx, d, r.wake()) {
					return
				}
			}
			once = !r.watched()
		}
		n, err := r.session(ctx, once)
		if n > 0 {
			lastFrame = time.Now()
			backoff = r.t.MinBackoff
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			continue // left because nobody watches
		}
		if !r.wait(ctx, backoff, r.fail(err)) {
			return
		}
		backoff = min(2*backoff, r.t.MaxBackoff)
	}
}

// sleep waits d, or until wake fires; false when ctx ended.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

// sourceError is a failure with its state and plain-words reason.
type sourceError struct {
	state       media.State
	reason      string
	err         error // detail for the log; never shown
	unreachable bool  // no TCP connection could be made
	// busy: the camera answered, but not yet (an RTSP 5xx): worth asking
	// again with a cheap request during the backoff.
	busy bool
}

func (e *sourceError) Error() string { return e.reason }

func offline(reason string, err error) error {
	return &sourceError{state: media.StateOffline, reason: reason, err: err}
}

func wrong(reason string, err error) error {
	return &sourceError{state: media.StateError, reason: reason, err: err}
}

var errNotJPEG = wrong("not a JPEG or MJPEG answer", nil)

// wait sleeps the backoff d. When the camera could not be reached at all,
// or (RTSP) answered that it is busy, and someone watches, it also checks
// every ProbeEvery whether it is back (a bare TCP connect, or an RTSP
// DESCRIBE that succeeds) and ends the wait as soon as it is, so a
// returning camera plays again within about ProbeEvery whatever the
// backoff has grown to. False when ctx ended.
func (r *Runner) wait(ctx context.Context, d time.Duration, probe func(context.Context) bool) bool {
	if probe == nil || d <= r.t.ProbeEvery {
		return sleep(ctx, d, nil)
	}
	end := time.Now().Add(d)
	for {
		left := time.Until(end)
		if left <= 0 {
			return true
		}
		if !sleep(ctx, min(left, r.t.ProbeEvery), nil) {
			return false
		}
		if r.watched() && probe(ctx) {
			return true
		}
	}
}

// reachable reports whether a TCP connection to the source's host opens.
func (r *Runner) reachable(ctx context.Context) bool {
	return r.connectTCP(ctx, r.t.ProbeEvery) == nil
}

// connectTCP opens and closes a TCP connection to the source's host and
// port within timeout.
func (r *Runner) connectTCP(ctx context.Context, timeout time.Duration) error {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(dctx, "tcp", r.hostPort())
	if err != nil {
		return err
	}
	return c.Close()
}

// fail records a failed session; it returns how to tell the camera is
// back during the backoff, or nil to just wait it out.
func (r *Runner) fail(err error) func(context.Context) bool {
	r.mu.Lock()
	r.connected = time.Time{}
	r.st.Restarts++
	r.mu.Unlock()
	var se *sourceError
	if !errors.As(err, &se) {
		se = &sourceError{state: media.StateOffline, reason: "cannot reach the camera", err: err}
	}
	if se.err != nil {
		// Without the *url.Error's URL: its query may hold a password.
		detail := se.err
		var ue *url.Error
		if errors.As(detail, &ue) {
			detail = ue.Err
		}
		r.log.Debug("live source failed", "reason", se.reason, "err", detail)
	}
	r.setState(se.state, se.reason)
	switch {
	case se.unreachable:
		return r.reachable
	case se.busy:
		return r.answers
	}
	return nil
}

func (r *Runner) setState(s media.State, reason string) {
	r.mu.Lock()
	changed := r.st.State != s || r.st.Err != reason
	r.st.State, r.st.Err = s, reason
	st := r.st
	r.mu.Unlock()
	if changed {
		if s != media.StateRunning {
			r.log.Info("live source "+string(s), "reason", reason)
		}
		if r.deps.OnStatus != nil {
			st.Seq = r.seq.Load()
			r.deps.OnStatus(st)
		}
	}
}

// session connects once and publishes frames until an error, ctx's end, or
// (with once, or when nobody watches any more) after one frame, which
// returns a nil error.
func (r *Runner) session(ctx context.Context, once bool) (int, error) {
	if media.IsRTSP(r.req) {
		return r.rtspSession(ctx, once)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := r.get(cctx)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	ct := resp.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case len(mt) > 10 && mt[:10] == "multipart/":
		r.setKind(media.SourceMJPEG)
		return r.stream(cctx, cancel, resp, ct, once)
	case mt == "image/jpeg" || mt == "image/jpg" || mt == "image/pjpeg":
		r.setKind(media.SourceSnapshot)
		return r.poll(cctx, resp, once)
	default:
		return 0, errNotJPEG
	}
}

func (r *Runner) setKind(k media.SourceKind) {
	r.mu.Lock()
	r.kind = k
	if r.connected.IsZero() {
		r.connected = time.Now()
	}
	r.mu.Unlock()
}

// get requests the URL and checks the status.
func (r *Runner) get(ctx context.Context) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.req.String(), nil)
	if err != nil {
		return nil, wrong("invalid source url", err)
	}
	if r.user != nil {
		pw, _ := r.user.Password()
		req.SetBasicAuth(r.user.Username(), pw)
	}
	req.Header.Set("User-Agent", "livemon")
	resp, err := r.deps.Client.Do(req)
	if err != nil {
		return nil, connectError(err, r.t.ConnectTimeout)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		reason := fmt.Sprintf("%d from camera", resp.StatusCode)
		if resp.StatusCode >= 500 { // busy or going down: it comes back
			return nil, offline(reason, nil)
		}
		return nil, wrong(reason, nil)
	}
	return resp, nil
}

// connectError says in plain words why a request failed, and marks a
// failure to open a TCP connection as unreachable.
func connectError(err error, timeout time.Duration) error {
	e := classify(err, timeout)
	var op *net.OpError
	if se, ok := e.(*sourceError); ok && errors.As(err, &op) && op.Op == "dial" {
		se.unreachable = true
	}
	return e
}

func classify(err error, timeout time.Duration) error {
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return offline("connection refused", err)
	case errors.As(err, &dns):
		return &sourceError{state: media.StateOffline, reason: "host not found", err: err, unreachable: true}
	case errors.As(err, &cert):
		return wrong("the camera's TLS certificate is not trusted", err)
	case errors.As(err, &ne) && ne.Timeout():
		return offline("no answer within "+seconds(timeout), err)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return offline("the camera closed the connection", err)
	}
	return offline("cannot reach the camera", err)
}

func seconds(d time.Duration) string { return fmt.Sprintf("%g s", d.Seconds()) }

// stream publishes the parts of an MJPEG body. No frame for FrameTimeout
// cancels the request (cancel) and reports offline.
func (r *Runner) stream(ctx context.Context, cancel context.CancelFunc, resp *http.Response, ct string, once bool) (int, error) {
	rd := mjpeg.NewReader(resp.Body, ct)
	var stalled atomic.Bool
	watchdog := time.AfterFunc(r.t.FrameTimeout, func() { stalled.Store(true); cancel() })
	defer watchdog.Stop()
	n := 0
	for {
		jpeg, err := rd.Next()
		switch {
		case err == nil:
		case stalled.Load():
			return n, offline("no frames for "+seconds(r.t.FrameTimeout), nil)
		case ctx.Err() != nil:
			return n, ctx.Err()
		case n == 0 && (errors.Is(err, mjpeg.ErrNoJPEG) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
			return n, errNotJPEG // the whole answer held no JPEG
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return n, offline("the camera closed the stream", err)
		default:
			return n, wrong("bad MJPEG stream", err)
		}
		watchdog.Reset(r.t.FrameTimeout)
		if !r.publish(jpeg) {
			return n, errNotJPEG
		}
		n++
		if once || !r.watched() {
			return n, nil
		}
	}
}

// poll publishes the snapshot in resp, then (while watched and not once)
// polls again every SnapshotInterval.
func (r *Runner) poll(ctx context.Context, resp *http.Response, once bool) (int, error) {
	n := 0
	for {
		jpeg, err := readSnapshot(ctx, resp, r.t.FrameTimeout)
		resp.Body.Close()
		if err != nil {
			return n, err
		}
		if !r.publish(mjpeg.FixHuffman(jpeg)) {
			return n, errNotJPEG
		}
		n++
		if once || !r.watched() {
			return n, nil
		}
		if !sleep(ctx, r.t.SnapshotInterval, nil) {
			return n, ctx.Err()
		}
		if resp, err = r.get(ctx); err != nil {
			return n, err
		}
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "image/jpeg" && mt != "image/jpg" && mt != "image/pjpeg" {
			resp.Body.Close()
			return n, errNotJPEG
		}
	}
}

// readSnapshot reads one JPEG body, at most mjpeg.MaxPartSize bytes, within
// timeout.
func readSnapshot(ctx context.Context, resp *http.Response, timeout time.Duration) ([]byte, error) {
	var late atomic.Bool
	t := time.AfterFunc(timeout, func() { late.Store(true); resp.Body.Close() })
	defer t.Stop()
	b, err := io.ReadAll(io.LimitReader(resp.Body, mjpeg.MaxPartSize+1))
	switch {
	case late.Load():
		return nil, offline("no frames for "+seconds(timeout), nil)
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		return nil, offline("the camera closed the connection", err)
	case len(b) > mjpeg.MaxPartSize:
		return nil, wrong("snapshot larger than 16 MiB", nil)
	}
	return b, nil
}

// publish sends one JPEG to the hub as the run's next frame, and as its
// grid frame while the grid is watched (grid.go); false if it is not a
// JPEG.
func (r *Runner) publish(jpeg []byte) bool {
	w, h, err := mjpeg.Size(jpeg)
	if err != nil {
		return false
	}
	f := r.next(w, h)
	f.JPEG = jpeg
	r.deps.Publisher.Publish(f)
	r.publishGrid(f)
	r.setState(media.StateRunning, "")
	return true
}

// next counts one more frame of w x h and returns its identity (seq, PTS,
// capture time) as a full-rendition frame without a JPEG yet.
func (r *Runner) next(w, h int) *media.Frame {
	now := time.Now()
	r.mu.Lock()
	if r.connected.IsZero() {
		r.connected = now
	}
	pts := now.Sub(r.connected)
	r.st.Grabbed++
	r.fpsCount++
	if r.fpsSince.IsZero() {
		r.fpsSince = now
	} else if d := now.Sub(r.fpsSince); d >= time.Second {
		r.st.FPS = float64(r.fpsCount) / d.Seconds()
		r.fpsCount, r.fpsSince = 0, now
	}
	r.st.Info.Width, r.st.Info.Height = w, h
	r.mu.Unlock()
	return &media.Frame{
		Camera: r.cfg.Camera, Epoch: r.cfg.Epoch, Seq: r.seq.Add(1), PTS: pts, Captured: now,
		Width: w, Height: h,
	}
}
