package fakecam

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/pion/rtp"

	"github.com/livemon/livemon/server/internal/marker"
)

// Paths the RTSP camera serves.
const (
	PathH264 = "/h264"
	PathH265 = "/h265"
)

// RTSPConfig says what the RTSP camera serves. Zero fields take the
// defaults.
type RTSPConfig struct {
	// Addr is the RTSP (TCP) listen address, default 127.0.0.1:0 (a free
	// port). UDP transport uses a free even/odd port pair on the same host.
	Addr string
	// TLSAddr, when set, serves the same streams as RTSPS (TLS with a
	// self-signed certificate made at start, TCP transport only) there.
	TLSAddr string
	// Width and Height of the pictures, default 1280x720, both even.
	Width, Height int
	// FPS is the frame rate, default 30. A key frame comes every FPS
	// frames: one a second.
	FPS int
	// ClipSeconds is the length of the looping clip, default 5: frame
	// index k of the markers runs 0..FPS*ClipSeconds-1.
	ClipSeconds int
	// VideoID is the marker video id of PathH264, default 20; PathH265
	// carries VideoID+1.
	VideoID int
	// User and Password, when User is set, are the credentials RTSP
	// requests require (401 without; Basic or Digest MD5).
	User, Password string
}

// Defaults of RTSPConfig.
const (
	DefaultRTSPAddr        = "127.0.0.1:0"
	DefaultRTSPWidth       = 1280
	DefaultRTSPHeight      = 720
	DefaultRTSPFPS         = 30
	DefaultRTSPClipSeconds = 5
	DefaultRTSPVideoID     = 20
)

func (c RTSPConfig) withDefaults() RTSPConfig {
	if c.Addr == "" {
		c.Addr = DefaultRTSPAddr
	}
	if c.Width == 0 {
		c.Width = DefaultRTSPWidth
	}
	if c.Height == 0 {
		c.Height = DefaultRTSPHeight
	}
	if c.FPS == 0 {
		c.FPS = DefaultRTSPFPS
	}
	if c.ClipSeconds == 0 {
		c.ClipSeconds = DefaultRTSPClipSeconds
	}
	if c.VideoID == 0 {
		c.VideoID = DefaultRTSPVideoID
	}
	return c
}

func (c RTSPConfig) validate() error {
	switch {
	case c.Width < 64 || c.Height < 64 || c.Width > 7680 || c.Height > 4320 || c.Width%2 != 0 || c.Height%2 != 0:
		return fmt.Errorf("RTSP picture size %dx%d: want even sizes from 64x64 to 7680x4320", c.Width, c.Height)
	case c.FPS < 1 || c.FPS > 120:
		return fmt.Errorf("RTSP frame rate %d: want 1 to 120", c.FPS)
	case c.ClipSeconds < 1 || c.ClipSeconds*c.FPS > 1<<marker.FrameBits:
		return fmt.Errorf("RTSP clip of %d s: want at least 1 s and at most %d frames", c.ClipSeconds, 1<<marker.FrameBits)
	case c.VideoID < 1 || c.VideoID > 254:
		return fmt.Errorf("RTSP video id %d: want 1 to 254", c.VideoID)
	case c.User == "" && c.Password != "":
		return errors.New("RTSP password without a user: RTSP credentials need a user")
	}
	return nil
}

// RTSP is a running RTSP camera, made by Camera.ServeRTSP.
type RTSP struct {
	cam    *Camera
	cfg    RTSPConfig
	addr   string // RTSP listen address with the real port
	tlsURL string // rtsps:// base URL, "" without TLSAddr

	servers []*gortsplib.Server // plain, then TLS if any
	streams []*gortsplib.ServerStream
	feeds   map[string]*feed // by path; fixed once ServeRTSP returns

	cancel context.CancelFunc
	wg     sync.WaitGroup // senders and the mode watcher
	done   chan struct{}  // closed when everything has stopped

	mu       sync.Mutex
	conns    map[*gortsplib.ServerConn]struct{}
	sessions map[*gortsplib.ServerSession]struct{}
}

// feed is one path: its clip, the streams it writes to (one per server)
// and when each frame was last sent.
type feed struct {
	clip    *clip
	videoID int
	streams []*gortsplib.ServerStream
	sentAt  []atomic.Int64 // by frame index: UnixNano of the last send, 0 never
}

// ServeRTSP encodes the clips (see the package doc), starts the RTSP
// server(s) and returns once they accept connections. It follows the
// camera's mode like the HTTP handlers do. Everything stops when ctx ends
// or Close is called; Close waits for it.
func (c *Camera) ServeRTSP(ctx context.Context, cfg RTSPConfig) (*RTSP, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("RTSP address %q: %w", cfg.Addr, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &RTSP{
		cam:      c,
		cfg:      cfg,
		feeds:    make(map[string]*feed),
		cancel:   cancel,
		done:     make(chan struct{}),
		conns:    make(map[*gortsplib.ServerConn]struct{}),
		sessions: make(map[*gortsplib.ServerSession]struct{}),
	}
	ok := false
	defer func() {
		if !ok {
			r.stop()
		}
	}()

	// Bind first: a taken port fails at once, before seconds of encoding.
	ls, err := listen(host, cfg.Addr, cfg.TLSAddr)
	if err != nil {
		return nil, err
	}
	defer func() {
		if !ok {
			ls.close() // those a server took are closed already: no harm
		}
	}()
	if err := r.encodeClips(ctx); err != nil {
		return nil, err
	}
	plain := r.newServer(ls.rtsp.Addr().String())
	plain.UDPRTPAddress = ls.rtp.LocalAddr().String()
	plain.UDPRTCPAddress = ls.rtcp.LocalAddr().String()
	plain.Listen, plain.ListenPacket = ls.handOver()
	if err := plain.Start(); err != nil {
		return nil, fmt.Errorf("RTSP on %s: %w", cfg.Addr, err)
	}
	r.servers = append(r.servers, plain)
	r.addr = ls.rtsp.Addr().String()
	if ls.rtsps != nil {
		tlsConfig, err := selfSignedTLS(cfg.TLSAddr)
		if err != nil {
			return nil, err
		}
		secure := r.newServer(ls.rtsps.Addr().String())
		secure.TLSConfig = tlsConfig
		secure.Listen, _ = ls.handOver()
		if err := secure.Start(); err != nil {
			return nil, fmt.Errorf("RTSPS on %s: %w", cfg.TLSAddr, err)
		}
		r.servers = append(r.servers, secure)
		r.tlsURL = "rtsps://" + ls.rtsps.Addr().String()
	}
	if err := r.startStreams(); err != nil {
		return nil, err
	}
	for _, f := range r.feeds {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.send(ctx, f)
		}()
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.watchMode(ctx)
	}()
	go func() {
		<-ctx.Done()
		r.stop()
	}()
	ok = true
	return r, nil
}

// encodeClips encodes the two paths' clips at once (or takes them from
// the cache of clips made before).
func (r *RTSP) encodeClips(ctx context.Context) error {
	cfg := r.cfg
	paths := []struct {
		path    string
		codec   codec
		videoID int
	}{{PathH264, codecH264, cfg.VideoID}, {PathH265, codecH265, cfg.VideoID + 1}}
	made := make([]*clip, len(paths))
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			made[i], errs[i] = getClip(ctx, clipKey{p.codec, cfg.Width, cfg.Height, cfg.FPS, cfg.FPS * cfg.ClipSeconds, p.videoID})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		switch {
		case errors.Is(err, ErrNoFFmpeg):
			return ErrNoFFmpeg
		case ctx.Err() != nil:
			return fmt.Errorf("RTSP camera start: %w", ctx.Err())
		}
		return err
	}
	for i, p := range paths {
		r.feeds[p.path] = &feed{
			clip:    made[i],
			videoID: p.videoID,
			sentAt:  make([]atomic.Int64, len(made[i].aus)),
		}
	}
	return nil
}

func (r *RTSP) newServer(addr string) *gortsplib.Server {
	return &gortsplib.Server{
		Handler:        &rtspHandler{r: r},
		RTSPAddress:    addr,
		WriteQueueSize: 1024, // a 720p key frame is a hundred packets or more
	}
}

// startStreams makes each path's stream on each server.
func (r *RTSP) startStreams() error {
	for _, srv := range r.servers {
		h := srv.Handler.(*rtspHandler)
		streams := make(map[string]*gortsplib.ServerStream)
		for path, f := range r.feeds {
			st := &gortsplib.ServerStream{Server: srv, Desc: &description.Session{
				Medias: []*description.Media{{
					Type:    description.MediaTypeVideo,
					Formats: []format.Format{f.clip.format()},
				}},
			}}
			if err := st.Initialize(); err != nil {
				return fmt.Errorf("RTSP stream %s: %w", path, err)
			}
			r.streams = append(r.streams, st)
			f.streams = append(f.streams, st)
			streams[path] = st
		}
		r.mu.Lock()
		h.streams = streams
		r.mu.Unlock()
	}
	return nil
}

// format returns the RTP format of the clip's codec, with its parameter
// sets for the SDP.
func (cl *clip) format() format.Format {
	if cl.codec == codecH265 {
		return &format.H265{PayloadTyp: 96, VPS: cl.vps, SPS: cl.sps, PPS: cl.pps}
	}
	return &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: cl.sps, PPS: cl.pps}
}

// rtpEncoder is rtph264.Encoder or rtph265.Encoder.
type rtpEncoder interface {
	Encode(au [][]byte) ([]*rtp.Packet, error)
}

// newRTPEncoder returns the RTP packetizer of a format format() made.
func newRTPEncoder(f format.Format) (rtpEncoder, error) {
	switch f := f.(type) {
	case *format.H265:
		return f.CreateEncoder()
	case *format.H264:
		return f.CreateEncoder()
	}
	return nil, fmt.Errorf("no RTP encoder for %T", f)
}

// send writes f's clip in a loop, one access unit each 1/FPS s, while the
// camera is up. A stall or down pauses the clip where it is; sending
// resumes from there at the next frame time. RTP timestamps follow the
// frame times, as a camera's capture clock does: they jump over a pause.
func (r *RTSP) send(ctx context.Context, f *feed) {
	enc, err := newRTPEncoder(f.streams[0].Desc.Medias[0].Formats[0])
	if err != nil {
		return // not reached: format() makes one of the two
	}
	fps := int64(r.cfg.FPS)
	frameTime := func(tick int64) time.Duration { return time.Duration(tick * int64(time.Second) / fps) }
	base := randUint32()
	timer := time.NewTimer(0)
	defer timer.Stop()
	start := time.Now()
	var tick int64 // frame times since start: the next frame goes out at start+frameTime(tick)
	k := 0         // the next frame of the clip
	for {
		mode, changed := r.cam.state()
		if mode != ModeUp {
			select {
			case <-ctx.Done():
				return
			case <-changed:
			}
			// The first frame time from now on.
			tick = max(tick, (int64(time.Since(start))*fps+int64(time.Second)-1)/int64(time.Second))
			timer.Reset(time.Until(start.Add(frameTime(tick))))
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			continue
		}
		pkts, err := enc.Encode(f.clip.aus[k])
		if err == nil {
			now := time.Now()
			// Stamped before the packets go: a reader may look the
			// index up as soon as the frame arrives.
			f.sentAt[k].Store(now.UnixNano())
			ts := base + uint32(tick*90000/fps)
			for _, st := range f.streams {
				medi := st.Desc.Medias[0]
				for _, p := range pkts {
					p.Timestamp = ts
					// An error means the packet could not be
					// marshalled: nothing a reader could be told.
					_ = st.WritePacketRTPWithNTP(medi, p, now)
				}
			}
		}
		k = (k + 1) % len(f.clip.aus)
		tick++
		timer.Reset(time.Until(start.Add(frameTime(tick))))
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-timer.C:
		}
	}
}

// watchMode closes every RTSP connection and session when the camera goes
// down; the handlers refuse new ones while it is down.
func (r *RTSP) watchMode(ctx context.Context) {
	for {
		mode, changed := r.cam.state()
		if mode == ModeDown {
			r.dropAll()
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

func (r *RTSP) dropAll() {
	r.mu.Lock()
	conns := make([]*gortsplib.ServerConn, 0, len(r.conns))
	for c := range r.conns {
		conns = append(conns, c)
	}
	sessions := make([]*gortsplib.ServerSession, 0, len(r.sessions))
	for s := range r.sessions {
		sessions = append(sessions, s)
	}
	r.mu.Unlock()
	// Close only cancels: the close callbacks, which take r.mu, run on
	// gortsplib's goroutines.
	for _, s := range sessions {
		s.Close()
	}
	for _, c := range conns {
		c.Close()
	}
}

// stop stops the senders, the streams and the servers, and waits for
// them. It runs once the ctx of ServeRTSP ends (or at once if ServeRTSP
// fails).
func (r *RTSP) stop() {
	r.cancel()
	r.wg.Wait()
	for _, st := range r.streams {
		st.Close()
	}
	for _, srv := range r.servers {
		srv.Close()
	}
	close(r.done)
}

// Close stops the camera's RTSP side and waits until every goroutine it
// started has returned and every port is closed.
func (r *RTSP) Close() error {
	r.cancel()
	<-r.done
	return nil
}

// Config returns the configuration with defaults filled in.
func (r *RTSP) Config() RTSPConfig { return r.cfg }

// URL returns the rtsp:// URL of path (PathH264 or PathH265), without
// credentials.
func (r *RTSP) URL(path string) string { return "rtsp://" + r.addr + path }

// TLSURL returns the rtsps:// URL of path, or "" when TLSAddr was not set.
func (r *RTSP) TLSURL(path string) string {
	if r.tlsURL == "" {
		return ""
	}
	return r.tlsURL + path
}

// VideoID returns the marker video id of path's clip, 0 for an unknown
// path.
func (r *RTSP) VideoID(path string) int {
	if f, ok := r.feeds[path]; ok {
		return f.videoID
	}
	return 0
}

// SentAt returns when the frame with marker index index of path's clip
// was last sent: written to the RTSP stream, packets to every reader. ok
// is false for an unknown path or index, or a frame not sent yet. The
// next loop of the clip overwrites it: look it up when the frame arrives,
// not a clip's length later.
func (r *RTSP) SentAt(path string, index int) (t time.Time, ok bool) {
	f, found := r.feeds[path]
	if !found || index < 0 || index >= len(f.sentAt) {
		return time.Time{}, false
	}
	ns := f.sentAt[index].Load()
	if ns == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

// rtspHandler answers one server's requests.
type rtspHandler struct {
	r       *RTSP
	streams map[string]*gortsplib.ServerStream // by path, under r.mu; nil until ready
}

func (h *rtspHandler) OnConnOpen(ctx *gortsplib.ServerHandlerOnConnOpenCtx) {
	h.r.mu.Lock()
	h.r.conns[ctx.Conn] = struct{}{}
	h.r.mu.Unlock()
}

func (h *rtspHandler) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	h.r.mu.Lock()
	delete(h.r.conns, ctx.Conn)
	h.r.mu.Unlock()
}

func (h *rtspHandler) OnSessionOpen(ctx *gortsplib.ServerHandlerOnSessionOpenCtx) {
	h.r.mu.Lock()
	h.r.sessions[ctx.Session] = struct{}{}
	h.r.mu.Unlock()
}

func (h *rtspHandler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	h.r.mu.Lock()
	delete(h.r.sessions, ctx.Session)
	h.r.mu.Unlock()
}

// check answers a request for path: 401 without the credentials, 503
// while the camera is down, 404 for an unknown path; otherwise it returns
// the path's stream.
func (h *rtspHandler) check(conn *gortsplib.ServerConn, req *base.Request, path string) (*base.Response, *gortsplib.ServerStream, error) {
	if cfg := h.r.cfg; cfg.User != "" && !conn.VerifyCredentials(req, cfg.User, cfg.Password) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	if h.r.cam.Mode() == ModeDown {
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, nil, nil
	}
	h.r.mu.Lock()
	st, ok := h.streams[path]
	ready := h.streams != nil
	h.r.mu.Unlock()
	switch {
	case !ready:
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, nil, nil
	case !ok:
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, st, nil
}

func (h *rtspHandler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return h.check(ctx.Conn, ctx.Request, ctx.Path)
}

func (h *rtspHandler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return h.check(ctx.Conn, ctx.Request, ctx.Path)
}

func (h *rtspHandler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	res, _, err := h.check(ctx.Conn, ctx.Request, ctx.Path)
	return res, err
}

// listeners are the sockets of the RTSP server(s), bound before the
// clips are encoded and handed to gortsplib when it starts.
type listeners struct {
	rtsp, rtsps net.Listener // rtsps nil without TLSAddr
	rtp, rtcp   *net.UDPConn
}

// listen binds addr (TCP), a UDP port pair on host, and tlsAddr if set.
func listen(host, addr, tlsAddr string) (*listeners, error) {
	ls := &listeners{}
	var err error
	if ls.rtsp, err = net.Listen("tcp", addr); err != nil {
		return nil, fmt.Errorf("RTSP: %w", err)
	}
	if ls.rtp, ls.rtcp, err = listenUDPPair(host); err != nil {
		ls.close()
		return nil, err
	}
	if tlsAddr != "" {
		if ls.rtsps, err = net.Listen("tcp", tlsAddr); err != nil {
			ls.close()
			return nil, fmt.Errorf("RTSPS: %w", err)
		}
	}
	return ls, nil
}

func (ls *listeners) close() {
	for _, l := range []net.Listener{ls.rtsp, ls.rtsps} {
		if l != nil {
			l.Close()
		}
	}
	for _, c := range []*net.UDPConn{ls.rtp, ls.rtcp} {
		if c != nil {
			c.Close()
		}
	}
}

// handOver returns gortsplib Listen and ListenPacket functions that hand
// out the bound sockets by address.
func (ls *listeners) handOver() (func(string, string) (net.Listener, error), func(string, string) (net.PacketConn, error)) {
	listen := func(_, address string) (net.Listener, error) {
		for _, l := range []net.Listener{ls.rtsp, ls.rtsps} {
			if l != nil && l.Addr().String() == address {
				return l, nil
			}
		}
		return nil, fmt.Errorf("RTSP listen on %s: not an address bound at start", address)
	}
	listenPacket := func(_, address string) (net.PacketConn, error) {
		for _, c := range []*net.UDPConn{ls.rtp, ls.rtcp} {
			if c.LocalAddr().String() == address {
				return c, nil
			}
		}
		return nil, fmt.Errorf("RTSP UDP listen on %s: not a port bound at start", address)
	}
	return listen, listenPacket
}

// listenUDPPair binds two UDP ports on host, an even one for RTP and the
// next for RTCP, as RTSP servers need.
func listenUDPPair(host string) (rtpConn, rtcpConn *net.UDPConn, err error) {
	for range 100 {
		first, err := listenUDP(host, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("RTSP UDP port on %q: %w", host, err)
		}
		port := first.LocalAddr().(*net.UDPAddr).Port
		other := port + 1
		if port%2 == 1 {
			other = port - 1
		}
		second, err := listenUDP(first.LocalAddr().(*net.UDPAddr).IP.String(), other)
		if err != nil {
			first.Close()
			continue
		}
		if port%2 == 1 {
			first, second = second, first
		}
		return first, second, nil
	}
	return nil, nil, fmt.Errorf("RTSP UDP ports on %q: no free even/odd pair in 100 tries", host)
}

func listenUDP(host string, port int) (*net.UDPConn, error) {
	pc, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

func randUint32() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}
