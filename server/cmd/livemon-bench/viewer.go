package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// A viewer is one simulated client: one goroutine that connects, reads
// frames without decoding them and records when each one arrived. The
// driver stops it by closing its connection.

const (
	// readChunk is the size of the buffer a viewer reads a frame's bytes
	// into: large, so a 100-150 KB frame takes one to three read calls.
	readChunk = 128 << 10
	// setupTimeout bounds connecting and the hello/subscribe exchange.
	setupTimeout = 10 * time.Second
	// wsHeaderLen is the binary frame header (docs/protocol.md).
	wsHeaderLen = 40
	// mjpegHeaderMax bounds one line of an MJPEG part header or of the
	// HTTP response header.
	mjpegHeaderMax = 1024
)

// sample is one frame as a viewer received it.
type sample struct {
	mono int64  // receipt, ns since the bench's base time (monotonic)
	wall int64  // receipt, Unix µs (wall clock, for latency)
	ts   int64  // server timestamp of the frame, Unix ms (WebSocket only)
	seq  uint64 // frame seq
	size int32  // bytes of the message or part, headers included
}

// transport is how a viewer connects.
type transport string

const (
	transportWS    transport = "ws"
	transportMJPEG transport = "mjpeg"
)

// viewerConfig says what a viewer does.
type viewerConfig struct {
	transport transport
	host      string // 127.0.0.1:port
	camera    string
	// rendition, if set, is subscribed to ("grid"); "" is full.
	rendition string
	// session, if set, resumes that WebSocket session instead of
	// subscribing.
	session string
	// stallAfter, if > 0, makes the viewer stop reading after that many
	// frames; it then waits until it is closed.
	stallAfter int
	// expect is how many samples to preallocate.
	expect int
	// seqTimes, if set, receives every frame's seq and server timestamp
	// (the MJPEG latency reference).
	seqTimes *seqClock
	// onJPEG, if set, gets every WebSocket frame's JPEG and receipt time
	// on the reading goroutine; it must not block.
	onJPEG func(at time.Time, jpeg []byte)
	// WebSocket flow control (flow.go): window, if > 0, is sent in hello
	// and every frame is acknowledged once "painted"; paint, if > 0, is
	// how long painting a frame takes (the viewer sleeps, not reading),
	// and a frame's sample is taken when its paint ends.
	window int
	paint  time.Duration
}

// viewerState is what a viewer learned. The viewer's goroutine writes it
// under viewer.smu; the driver reads copies (snapshot).
type viewerState struct {
	// firstFrame is the delay from starting to connect to the first
	// complete frame; 0 if none.
	firstFrame time.Duration
	// dial is the delay from starting to an open connection (WebSocket:
	// upgraded); welcome the delay from sending hello to receiving
	// welcome (WebSocket only).
	dial, welcome time.Duration
	// subscribed is when the subscribe message was sent (WebSocket,
	// new sessions only); zero before.
	subscribed time.Time
	session    string // WebSocket session id
	resumed    bool
	epoch      uint64 // epoch of the first frame (WebSocket only)
	first      sample // the first frame
	samples    []sample
	err        error // why the viewer stopped early, if it did
	// ended is when the connection dropped under a viewer that was not
	// closed (its read failed); zero otherwise.
	ended time.Time
}

// viewer is one client.
type viewer struct {
	cfg     viewerConfig
	base    time.Time
	started time.Time // set by start

	smu sync.Mutex
	st  viewerState // guarded by smu

	mu      sync.Mutex // guards conn and closed
	conn    io.Closer
	closed  bool
	closing chan struct{} // closed by close

	gotFirst atomic.Bool
	done     chan struct{}
}

func newViewer(cfg viewerConfig, base time.Time) *viewer {
	return &viewer{cfg: cfg, base: base, st: viewerState{samples: make([]sample, 0, cfg.expect)},
		closing: make(chan struct{}), done: make(chan struct{})}
}

// start runs the viewer in its own goroutine; first is told once when the
// first frame has arrived (or the viewer has failed before it). Time to
// first frame counts from this call, goroutine start-up included.
func (v *viewer) start(first chan<- *viewer) {
	v.started = time.Now()
	go func() {
		defer close(v.done)
		var err error
		switch v.cfg.transport {
		case transportWS:
			err = v.runWS(first)
		case transportMJPEG:
			err = v.runMJPEG(first)
		default:
			err = fmt.Errorf("unknown transport %q", v.cfg.transport)
		}
		ended := time.Now()
		if !v.isClosed() {
			v.smu.Lock()
			v.st.err, v.st.ended = err, ended
			v.smu.Unlock()
		}
		if v.gotFirst.CompareAndSwap(false, true) {
			first <- v
		}
	}()
}

// setConn records the connection so close can end the viewer. It reports
// false if the viewer has been closed already.
func (v *viewer) setConn(c io.Closer) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		_ = c.Close()
		return false
	}
	v.conn = c
	return true
}

func (v *viewer) isClosed() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.closed
}

// close ends the viewer: its connection is closed, so a blocked read
// returns and the goroutine exits. It does not wait; see wait.
func (v *viewer) close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	v.closed = true
	close(v.closing)
	if v.conn != nil {
		_ = v.conn.Close()
	}
}

// wait waits up to d for the goroutine to end.
func (v *viewer) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-v.done:
		return true
	case <-t.C:
		return false
	}
}

// snapshot returns a copy of what the viewer learned so far.
func (v *viewer) snapshot() viewerState {
	v.smu.Lock()
	defer v.smu.Unlock()
	st := v.st
	st.samples = slices.Clone(v.st.samples)
	return st
}

// setup records the WebSocket session handshake.
func (v *viewer) setup(welcome time.Duration, session string, resumed bool) {
	v.smu.Lock()
	defer v.smu.Unlock()
	v.st.welcome, v.st.session, v.st.resumed = welcome, session, resumed
}

// connected records the time the connection took.
func (v *viewer) connected() {
	d := time.Since(v.started)
	v.smu.Lock()
	defer v.smu.Unlock()
	v.st.dial = d
}

// record stores one received frame and reports whether the viewer should
// stall now.
func (v *viewer) record(now time.Time, epoch uint64, ts int64, seq uint64, size int, first chan<- *viewer) bool {
	s := sample{mono: int64(now.Sub(v.base)), wall: now.UnixMicro(), ts: ts, seq: seq, size: int32(size)}
	v.smu.Lock()
	if len(v.st.samples) == 0 {
		v.st.firstFrame = now.Sub(v.started)
		v.st.first, v.st.epoch = s, epoch
	}
	v.st.samples = append(v.st.samples, s)
	n := len(v.st.samples)
	v.smu.Unlock()
	if v.gotFirst.CompareAndSwap(false, true) {
		first <- v
	}
	if v.cfg.seqTimes != nil {
		v.cfg.seqTimes.put(seq, ts)
	}
	return v.cfg.stallAfter > 0 && n >= v.cfg.stallAfter
}

// stall stops reading until the viewer is closed.
func (v *viewer) stall() error {
	<-v.closing
	return nil
}

// ---- WebSocket ----

type wsControl struct {
	Type    string `json:"type"`
	Session string `json:"session"`
	Resumed bool   `json:"resumed"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Camera  string `json:"camera"`
	Channel uint32 `json:"channel"`
	Epoch   uint64 `json:"epoch"`
}

func (v *viewer) runWS(first chan<- *viewer) error {
	d := websocket.Dialer{
		HandshakeTimeout: setupTimeout,
		// Small: frame payloads bypass this buffer and are read straight
		// into the viewer's large chunk buffer.
		ReadBufferSize:  4096,
		WriteBufferSize: 1024,
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	c, resp, err := d.DialContext(ctx, "ws://"+v.cfg.host+"/api/ws", nil)
	if err != nil {
		return fmt.Errorf("dial websocket: %w", err)
	}
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	v.connected()
	if !v.setConn(c.UnderlyingConn()) {
		_ = c.Close()
		return nil
	}
	defer c.Close()
	buf := make([]byte, readChunk)

	_ = c.SetReadDeadline(time.Now().Add(setupTimeout))
	hello := []byte(`{"type":"hello"` + v.helloFields() + `}`)
	if v.cfg.session != "" {
		hello = []byte(`{"type":"hello","session":"` + v.cfg.session + `"` + v.helloFields() + `}`)
	}
	sent := time.Now()
	if err := c.WriteMessage(websocket.TextMessage, hello); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	w, err := v.readControl(c, buf, "welcome")
	if err != nil {
		return err
	}
	v.setup(time.Since(sent), w.Session, w.Resumed)
	if v.cfg.session == "" {
		sub := []byte(`{"type":"subscribe","camera":"` + v.cfg.camera + `"}`)
		if v.cfg.rendition != "" {
			sub = []byte(`{"type":"subscribe","camera":"` + v.cfg.camera + `","rendition":"` + v.cfg.rendition + `"}`)
		}
		v.smu.Lock()
		v.st.subscribed = time.Now()
		v.smu.Unlock()
		if err := c.WriteMessage(websocket.TextMessage, sub); err != nil {
			return fmt.Errorf("send subscribe: %w", err)
		}
		if _, err := v.readControl(c, buf, "subscribed"); err != nil {
			return err
		}
	}
	_ = c.SetReadDeadline(time.Time{})

	var hdr [wsHeaderLen]byte
	for {
		mt, r, err := c.NextReader()
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if mt != websocket.BinaryMessage {
			if _, err := io.CopyBuffer(io.Discard, onlyReader{r}, buf); err != nil {
				return fmt.Errorf("read text: %w", err)
			}
			continue
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return fmt.Errorf("read frame header: %w", err)
		}
		size := wsHeaderLen
		var body []byte
		if v.cfg.onJPEG != nil {
			if body, err = io.ReadAll(r); err != nil {
				return fmt.Errorf("read frame: %w", err)
			}
			size += len(body)
		}
		for body == nil {
			n, err := r.Read(buf)
			size += n
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("read frame: %w", err)
			}
		}
		now := time.Now()
		if body != nil {
			v.cfg.onJPEG(now, body)
		}
		seq := binary.BigEndian.Uint64(hdr[16:24])
		ts := int64(binary.BigEndian.Uint64(hdr[24:32]))
		epoch := binary.BigEndian.Uint64(hdr[8:16])
		if v.cfg.paint > 0 {
			if !v.painting() {
				return nil
			}
			now = time.Now()
		}
		if v.record(now, epoch, ts, seq, size, first) {
			return v.stall()
		}
		if err := v.ack(c, hdr[4:8], seq); err != nil {
			return err
		}
	}
}

// readControl reads messages until a text message of type want arrives.
// Binary frames before it are skipped (a resumed session may get one).
func (v *viewer) readControl(c *websocket.Conn, buf []byte, want string) (wsControl, error) {
	for range 64 {
		mt, r, err := c.NextReader()
		if err != nil {
			return wsControl{}, fmt.Errorf("wait for %s: %w", want, err)
		}
		if mt != websocket.TextMessage {
			if _, err := io.CopyBuffer(io.Discard, onlyReader{r}, buf); err != nil {
				return wsControl{}, err
			}
			continue
		}
		n, err := io.ReadFull(r, buf)
		if err != nil && err != io.ErrUnexpectedEOF {
			return wsControl{}, fmt.Errorf("wait for %s: %w", want, err)
		}
		var m wsControl
		if err := json.Unmarshal(buf[:n], &m); err != nil {
			return wsControl{}, fmt.Errorf("wait for %s: %w", want, err)
		}
		switch m.Type {
		case want:
			return m, nil
		case "error":
			return wsControl{}, fmt.Errorf("wait for %s: server error %s: %s", want, m.Code, m.Message)
		}
	}
	return wsControl{}, fmt.Errorf("no %s message", want)
}

// onlyReader hides a reader's WriterTo, so io.CopyBuffer uses our buffer.
type onlyReader struct{ io.Reader }

// ---- MJPEG ----

// runMJPEG speaks HTTP/1.1 over a raw connection, as a browser's <img>
// does, and parses the multipart stream itself: part headers are read
// line by line and the JPEG bytes are skipped by Content-Length, with one
// large buffer between the socket and the parser.
func (v *viewer) runMJPEG(first chan<- *viewer) error {
	dl := net.Dialer{Timeout: setupTimeout}
	conn, err := dl.Dial("tcp", v.cfg.host)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	if !v.setConn(conn) {
		return nil
	}
	defer conn.Close()
	v.connected()
	req := "GET /api/cameras/" + v.cfg.camera + "/mjpeg HTTP/1.1\r\nHost: " + v.cfg.host +
		"\r\nUser-Agent: livemon-bench\r\nAccept: image/*\r\n\r\n"
	_ = conn.SetDeadline(time.Now().Add(setupTimeout))
	if _, err := io.WriteString(conn, req); err != nil {
		return fmt.Errorf("send request: %w", err)
	}
	br := bufio.NewReaderSize(conn, readChunk)
	body, err := readResponseHead(br)
	if err != nil {
		return err
	}
	_ = conn.SetDeadline(time.Time{})
	return v.readParts(body, first)
}

// readParts reads multipart parts until an error.
func (v *viewer) readParts(body *bodyReader, first chan<- *viewer) error {
	var line [mjpegHeaderMax]byte
	for {
		// Find the boundary line, skipping the CRLF after the previous part.
		n, err := body.readLine(line[:])
		if err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		if !bytes.HasPrefix(line[:n], []byte("--")) {
			return fmt.Errorf("mjpeg: expected a boundary, got %q", line[:n])
		}
		size := n + 2
		length, seq := -1, uint64(0)
		for range 32 {
			n, err := body.readLine(line[:])
			if err != nil {
				return err
			}
			size += n + 2
			if n == 0 {
				break
			}
			if k, ok := headerValue(line[:n], "content-length"); ok {
				length, err = strconv.Atoi(string(k))
				if err != nil {
					return fmt.Errorf("mjpeg: bad Content-Length %q", k)
				}
			} else if k, ok := headerValue(line[:n], "x-seq"); ok {
				seq, _ = strconv.ParseUint(string(k), 10, 64)
			}
		}
		if length < 0 {
			return errors.New("mjpeg: part without Content-Length")
		}
		if err := body.skip(length); err != nil {
			return err
		}
		if v.record(time.Now(), 0, 0, seq, size+length, first) {
			return v.stall()
		}
	}
}

// headerValue returns the value of header line l if its name is name
// (lower case).
func headerValue(l []byte, name string) ([]byte, bool) {
	if len(l) <= len(name) || l[len(name)] != ':' {
		return nil, false
	}
	for i := range len(name) {
		c := l[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return nil, false
		}
	}
	return bytes.TrimSpace(l[len(name)+1:]), true
}

// readResponseHead reads the status line and headers and returns a reader
// for the body, de-chunked if needed.
func readResponseHead(br *bufio.Reader) (*bodyReader, error) {
	body := &bodyReader{br: br, chunked: false, rem: -1}
	var line [mjpegHeaderMax]byte
	n, err := body.readLine(line[:])
	if err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	status := string(line[:n])
	if len(status) < 12 || status[:5] != "HTTP/" || status[9:12] != "200" {
		return nil, fmt.Errorf("mjpeg: %s", status)
	}
	for range 64 {
		n, err := body.readLine(line[:])
		if err != nil {
			return nil, fmt.Errorf("read headers: %w", err)
		}
		if n == 0 {
			if body.chunked {
				body.rem = 0
			}
			return body, nil
		}
		if v, ok := headerValue(line[:n], "transfer-encoding"); ok && bytes.EqualFold(v, []byte("chunked")) {
			body.chunked = true
		}
	}
	return nil, errors.New("mjpeg: too many response headers")
}

// bodyReader reads an HTTP body from br, undoing chunked transfer
// encoding. It never copies the bytes it skips.
type bodyReader struct {
	br      *bufio.Reader
	chunked bool
	// rem is what is left of the current chunk; -1 while reading the
	// response head or an identity body.
	rem int
}

// next makes sure at least one body byte is available in the current
// chunk.
func (b *bodyReader) next() error {
	if b.rem != 0 {
		return nil
	}
	// A chunk's data is followed by CRLF, except before the first chunk.
	var line [64]byte
	for range 2 {
		n, err := readRawLine(b.br, line[:])
		if err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		hex := line[:n]
		if i := bytes.IndexByte(hex, ';'); i >= 0 {
			hex = hex[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(hex)), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("bad chunk size %q", line[:n])
		}
		if size == 0 {
			return io.EOF
		}
		b.rem = int(size)
		return nil
	}
	return errors.New("missing chunk size")
}

func (b *bodyReader) readByte() (byte, error) {
	if err := b.next(); err != nil {
		return 0, err
	}
	c, err := b.br.ReadByte()
	if err == nil && b.rem > 0 {
		b.rem--
	}
	return c, err
}

// readLine reads one CRLF- or LF-terminated line into buf and returns its
// length without the terminator.
func (b *bodyReader) readLine(buf []byte) (int, error) {
	return scanLine(b.readByte, buf, "header line too long")
}

// scanLine reads bytes from next into buf up to a LF and returns the
// line's length without its CRLF or LF terminator.
func scanLine(next func() (byte, error), buf []byte, tooLong string) (int, error) {
	n := 0
	for {
		c, err := next()
		if err != nil {
			return n, err
		}
		if c == '\n' {
			if n > 0 && buf[n-1] == '\r' {
				n--
			}
			return n, nil
		}
		if n == len(buf) {
			return n, errors.New(tooLong)
		}
		buf[n] = c
		n++
	}
}

// skip discards n body bytes.
func (b *bodyReader) skip(n int) error {
	for n > 0 {
		if err := b.next(); err != nil {
			return err
		}
		k := n
		if b.rem > 0 && k > b.rem {
			k = b.rem
		}
		d, err := b.br.Discard(k)
		n -= d
		if b.rem > 0 {
			b.rem -= d
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readRawLine reads a line straight from br (outside any chunk).
func readRawLine(br *bufio.Reader, buf []byte) (int, error) {
	return scanLine(br.ReadByte, buf, "chunk line too long")
}

// seqClock maps frame seqs to their server timestamps, filled by a
// reference WebSocket viewer so MJPEG viewers' latency can be measured.
type seqClock struct {
	mu sync.Mutex
	m  map[uint64]int64
}

func newSeqClock() *seqClock { return &seqClock{m: make(map[uint64]int64, 1024)} }

func (s *seqClock) put(seq uint64, ts int64) {
	s.mu.Lock()
	s.m[seq] = ts
	s.mu.Unlock()
}

func (s *seqClock) get(seq uint64) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, ok := s.m[seq]
	return ts, ok
}

// httpClient is for the driver's API calls, never for viewers.
var httpClient = &http.Client{Timeout: 2 * time.Minute}
