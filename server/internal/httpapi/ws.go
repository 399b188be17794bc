package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/session"
)

const (
	// writeWait bounds every write; a client that stalls longer is closed.
	writeWait = 10 * time.Second
	// pongWait is how long a connection may stay silent (no pong, no
	// message) before it is closed.
	pongWait = 30 * time.Second
	// pingPeriod must be shorter than pongWait.
	pingPeriod = 25 * time.Second
	// maxMessageSize limits incoming text messages; larger ones close the
	// socket with 1009.
	maxMessageSize = 4096
	// statsPeriod paces the stats message (one per connection, all of its
	// cameras).
	statsPeriod = time.Second
	// opQueue is how many parsed client messages may wait for the writer.
	opQueue = 16
)

// timing holds the connection timeouts; tests shorten them.
type timing struct {
	writeWait, pongWait, pingPeriod time.Duration
}

var defaultTiming = timing{writeWait: writeWait, pongWait: pongWait, pingPeriod: pingPeriod}

func (s *Server) handleWebSocket() http.Handler {
	up := websocket.Upgrader{
		ReadBufferSize: 4096,
		// WriteMessage copies this much of each frame into the buffer
		// (wireCache): keep it small.
		WriteBufferSize: 4096,
		// Checked before Upgrade, so a rejected origin never touches a
		// session; this is a second line.
		CheckOrigin: s.originAllowed,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.originAllowed(r) {
			writeError(w, r, s.log, media.Errorf(media.KindForbidden, "cross-origin WebSocket rejected"))
			return
		}
		if !websocket.IsWebSocketUpgrade(r) {
			writeError(w, r, s.log, media.Errorf(media.KindInvalid, "this endpoint speaks WebSocket only"))
			return
		}
		if !s.stream() {
			writeError(w, r, s.log, media.Errorf(media.KindOverCapacity, "server is shutting down"))
			return
		}
		defer s.streams.Done()
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return // the upgrader has answered
		}
		c := &wsConn{
			srv:    s,
			ws:     ws,
			log:    s.log.With("remote", r.RemoteAddr),
			notify: make(chan struct{}, 1),
			subs:   make(map[media.CameraID]*wsSub),
			done:   make(chan struct{}),
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.deps.Metrics.Connection(1)
		c.serve()
		s.deps.Metrics.Connection(-1)
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	})
}

// wsConn is one WebSocket. Its handler goroutine is the only writer and
// owns every field below except done; a reader goroutine parses incoming
// messages and passes them on.
type wsConn struct {
	srv    *Server
	ws     *websocket.Conn
	log    *slog.Logger
	notify chan struct{} // shared by all of this connection's subscriptions
	done   chan struct{} // closed when the writer ends

	session *session.Session
	subs    map[media.CameraID]*wsSub
	flow    *flow // nil: the client does not acknowledge frames (ws_flow.go)
}

type wsSub struct {
	sub     *hub.Subscription
	channel uint32
	// switching is the subscription to the rendition a switch goes to,
	// until its first frame is sent (ws_rendition.go); nil otherwise.
	switching *hub.Subscription
}

// clientMsg is any message a client sends.
type clientMsg struct {
	Type    string  `json:"type"`
	Session *string `json:"session,omitempty"`
	Camera  string  `json:"camera,omitempty"`
	// Rendition of a subscribe; "" is full.
	Rendition string `json:"rendition,omitempty"`
	// Flow control (ws_flow.go): hello's window, ack's channel and seq.
	Window  *int    `json:"window,omitempty"`
	Channel *uint32 `json:"channel,omitempty"`
	Seq     *uint64 `json:"seq,omitempty"`

	invalid string // set by the reader: why the message was not usable
}

// parseClientMsg decodes one text message.
func parseClientMsg(data []byte) clientMsg {
	var m clientMsg
	if err := json.Unmarshal(data, &m); err != nil {
		if why := typeError(err); why != "" {
			return clientMsg{invalid: why}
		}
		return clientMsg{invalid: "message is not valid JSON"}
	}
	switch m.Type {
	case "hello", "subscribe", "unsubscribe", "ack":
		checkFlowFields(&m)
	case "":
		m.invalid = "message has no type"
	default:
		m.invalid = "unknown message type"
	}
	return m
}

// serve runs the connection: the reader in a goroutine, the writer here.
// It returns after both ended and the socket is closed.
func (c *wsConn) serve() {
	ops := make(chan clientMsg, opQueue)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		c.readLoop(ops)
	}()
	c.writeLoop(ops)
	close(c.done)
	_ = c.ws.Close()
	<-readerDone
	for cam := range c.subs {
		c.detach(cam)
	}
	if c.session != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := c.srv.deps.Sessions.Disconnect(ctx, c.session.ID); err != nil {
			c.log.Warn("session disconnect failed", "session", c.session.ID, "err", err)
		}
	}
}

func (c *wsConn) readLoop(ops chan<- clientMsg) {
	defer close(ops)
	c.ws.SetReadLimit(maxMessageSize)
	_ = c.ws.SetReadDeadline(time.Now().Add(c.srv.timing.pongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(c.srv.timing.pongWait))
	})
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			// A message over the limit has been answered with 1009 by
			// the websocket library.
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(c.srv.timing.pongWait))
		m := clientMsg{invalid: "binary messages are not accepted"}
		if mt == websocket.TextMessage {
			m = parseClientMsg(data)
		}
		select {
		case ops <- m:
		case <-c.done:
			return
		}
	}
}

// errClose ends the writer after a message that closes the connection.
var errClose = errors.New("connection closed by server")

func (c *wsConn) writeLoop(ops <-chan clientMsg) {
	events, stopEvents := c.srv.deps.Cameras.Subscribe()
	defer stopEvents()
	ping := time.NewTicker(c.srv.timing.pingPeriod)
	defer ping.Stop()
	stats := time.NewTicker(statsPeriod)
	defer stats.Stop()
	for {
		var err error
		select {
		case m, ok := <-ops:
			if !ok {
				return
			}
			err = c.handle(m)
		case <-c.notify:
			err = c.sendFrames()
		case ev, ok := <-events:
			if !ok {
				events = nil // manager shut down; closing follows
				continue
			}
			err = c.sendEvent(ev)
		case <-stats.C:
			err = c.sendStats()
		case <-ping.C:
			err = c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.srv.timing.writeWait))
		case <-c.srv.closing:
			_ = c.ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
			return
		}
		if err != nil {
			if !errors.Is(err, errClose) {
				c.log.Debug("websocket write failed", "err", err)
			}
			return
		}
	}
}

func (c *wsConn) writeJSON(v any) error {
	if err := c.ws.SetWriteDeadline(time.Now().Add(c.srv.timing.writeWait)); err != nil {
		return err
	}
	return c.ws.WriteJSON(v)
}

type errorMsg struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Camera  string `json:"camera,omitempty"`
}

func (c *wsConn) sendError(err error, cam string) error {
	_, code, msg := errorCode(err)
	return c.writeJSON(errorMsg{Type: "error", Code: code, Message: msg, Camera: cam})
}

func (c *wsConn) handle(m clientMsg) error {
	if m.invalid != "" {
		return c.writeJSON(errorMsg{Type: "error", Code: "invalid_message", Message: m.invalid})
	}
	if m.Type == "hello" {
		return c.hello(m)
	}
	if m.Type == "ack" {
		return c.ack(m)
	}
	if c.session == nil {
		return c.writeJSON(errorMsg{Type: "error", Code: "invalid_message", Message: "send hello first"})
	}
	id, err := media.ParseCameraID(m.Camera)
	if err != nil {
		return c.sendError(err, "")
	}
	if m.Type == "subscribe" {
		r, err := media.ParseRendition(m.Rendition)
		if err != nil {
			return c.sendError(err, string(id))
		}
		return c.subscribe(id, r)
	}
	return c.unsubscribe(id)
}

type welcomeMsg struct {
	Type          string       `json:"type"`
	Session       string       `json:"session"`
	Resumed       bool         `json:"resumed"`
	ServerTime    int64        `json:"server_time"`
	Window        int          `json:"window,omitempty"`
	Subscriptions []welcomeSub `json:"subscriptions"`
}

type welcomeSub struct {
	Camera    media.CameraID  `json:"camera"`
	Rendition media.Rendition `json:"rendition"`
	Channel   uint32          `json:"channel"`
	Epoch     uint64          `json:"epoch"`
	Seq       uint64          `json:"seq"`
	Skipped   uint64          `json:"skipped"`
}

func (c *wsConn) hello(m clientMsg) error {
	if c.session != nil {
		return c.writeJSON(errorMsg{Type: "error", Code: "invalid_message", Message: "hello was already sent"})
	}
	raw := ""
	if m.Session != nil {
		raw = *m.Session
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sess, resumed, err := c.srv.deps.Sessions.Open(ctx, raw)
	if err != nil {
		var me *media.Error
		if errors.As(err, &me) && me.Kind == media.KindInvalid {
			_ = c.writeJSON(errorMsg{Type: "error", Code: "invalid_session", Message: me.Message})
			_ = c.ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "invalid session"), time.Now().Add(c.srv.timing.writeWait))
			return errClose
		}
		c.log.Error("open session failed", "err", err)
		_ = c.sendError(err, "")
		return errClose
	}
	c.session = sess
	if m.Window != nil {
		c.flow = newFlow(*m.Window)
	}
	c.srv.deps.Metrics.Session(resumed)
	c.log = c.log.With("session", sess.ID)
	welcome := welcomeMsg{Type: "welcome", Session: string(sess.ID), Resumed: resumed, ServerTime: time.Now().UnixMilli(), Subscriptions: []welcomeSub{}}
	if c.flow != nil {
		welcome.Window = c.flow.window
	}
	var restore []media.CameraID
	rends := map[media.CameraID]media.Rendition{}
	for cam, last := range sess.Subscriptions {
		v, err := c.srv.deps.Cameras.Get(cam)
		if err != nil {
			_ = c.srv.deps.Sessions.Unsubscribe(ctx, sess.ID, cam)
			continue
		}
		skipped := v.Seq
		if last.Epoch == v.Epoch {
			skipped = 0
			if v.Seq > last.LastSeq {
				skipped = v.Seq - last.LastSeq
			}
		}
		r := last.Rendition.OrFull()
		welcome.Subscriptions = append(welcome.Subscriptions, welcomeSub{Camera: cam, Rendition: r,
			Channel: c.srv.deps.Hub.RenditionChannel(cam, r), Epoch: v.Epoch, Seq: v.Seq, Skipped: skipped})
		restore = append(restore, cam)
		rends[cam] = r
	}
	if err := c.writeJSON(welcome); err != nil {
		return err
	}
	for _, cam := range restore {
		if err := c.attach(cam, rends[cam]); err != nil {
			if err := c.sendError(err, string(cam)); err != nil {
				return err
			}
		}
	}
	c.log.Debug("websocket session opened", "resumed", resumed, "subscriptions", len(restore))
	return nil
}

// attach subscribes the connection to a camera's frames in rendition r,
// taking a viewer slot. A rendition that nobody watched has a stale latest
// frame; it is skipped, and the first frame is the fresh one its decoder
// produces now.
func (c *wsConn) attach(cam media.CameraID, r media.Rendition) error {
	if max := c.srv.deps.Config.MaxSubscriptions; max > 0 && len(c.subs) >= max {
		return media.Errorf(media.KindSubscriptionLimit, "this connection watches %d cameras, its limit: unsubscribe from one first", max)
	}
	if err := c.srv.viewers.acquire(cam); err != nil {
		return err
	}
	h := c.srv.deps.Hub
	sub := h.Subscribe(cam, c.subscribeOptions(cam, r))
	c.subs[cam] = &wsSub{sub: sub, channel: sub.Channel()}
	return nil
}

// staleLatest reports whether cam's kept frame must not be sent to a new
// viewer: an unwatched file camera's timeline ran on without decoding, so
// its kept frame shows a moment long past. A live camera refreshes its
// kept frame while unwatched (package live), so a returning viewer sees it
// at once.
func (c *wsConn) staleLatest(cam media.CameraID, r media.Rendition) bool {
	if c.srv.deps.Hub.RenditionWatched(cam, r) {
		return false
	}
	v, err := c.srv.deps.Cameras.Get(cam)
	return err != nil || v.Source.Kind == media.SourceFile
}

// detach ends the connection's subscription to cam, if any.
func (c *wsConn) detach(cam media.CameraID) {
	if ws, ok := c.subs[cam]; ok {
		ws.sub.Close()
		c.flow.forget(ws.channel)
		if ws.switching != nil {
			c.flow.forget(ws.switching.Channel())
			ws.switching.Close()
		}
		delete(c.subs, cam)
		c.srv.viewers.release(cam)
	}
}

type subscribedMsg struct {
	Type      string          `json:"type"`
	Camera    media.CameraID  `json:"camera"`
	Rendition media.Rendition `json:"rendition"`
	Channel   uint32          `json:"channel"`
	Epoch     uint64          `json:"epoch"`
	Seq       uint64          `json:"seq"`
}

func (c *wsConn) subscribe(cam media.CameraID, r media.Rendition) error {
	v, err := c.srv.deps.Cameras.Get(cam)
	if err != nil {
		return c.sendError(err, string(cam))
	}
	if ws, ok := c.subs[cam]; ok {
		select {
		case <-ws.sub.Done():
			// The camera was deleted (and created again) while its deleted
			// event was lost to this connection: subscribe afresh.
			c.detach(cam)
		default:
			return c.switchRendition(cam, v, ws, r)
		}
	}
	if err := c.attach(cam, r); err != nil {
		return c.sendError(err, string(cam))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.srv.deps.Sessions.Subscribe(ctx, c.session.ID, cam, r); err != nil {
		c.detach(cam)
		return c.sendError(err, string(cam))
	}
	// This goroutine is the only writer, so the mapping goes out before the
	// first frame of the camera can.
	return c.writeJSON(subscribedMsg{Type: "subscribed", Camera: cam, Rendition: r, Channel: c.subs[cam].channel, Epoch: v.Epoch, Seq: v.Seq})
}

func (c *wsConn) unsubscribe(cam media.CameraID) error {
	c.detach(cam)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.srv.deps.Sessions.Unsubscribe(ctx, c.session.ID, cam); err != nil {
		return c.sendError(err, string(cam))
	}
	return c.writeJSON(map[string]string{"type": "unsubscribed", "camera": string(cam)})
}

// sendFrames writes the newest waiting frame of every subscribed camera.
func (c *wsConn) sendFrames() error {
	for cam, ws := range c.subs {
		if err := c.sendFrame(cam, ws); err != nil {
			return err
		}
	}
	return nil
}

// sendFrame writes cam's newest waiting frame, if there is one and the
// channel has credit; without credit the frame stays in the hub's mailbox,
// where a newer one replaces it.
func (c *wsConn) sendFrame(cam media.CameraID, ws *wsSub) error {
	old := ws.channel
	f, ch, ok := ws.take(c.flow.open)
	if ch != old { // a rendition switch ended: the old channel is gone
		c.flow.forget(old)
	}
	if !ok {
		return nil
	}
	msg, pm := c.srv.wire.websocket(ch, f)
	if err := c.ws.SetWriteDeadline(time.Now().Add(c.srv.timing.writeWait)); err != nil {
		return err
	}
	var err error
	if pm != nil {
		err = c.ws.WritePreparedMessage(pm)
	} else {
		err = c.ws.WriteMessage(websocket.BinaryMessage, msg)
	}
	if err != nil {
		return err
	}
	c.flow.sent(ch, f.Seq)
	c.srv.deps.Sessions.Delivered(c.session.ID, cam, f.Epoch, f.Seq)
	return nil
}

type eventMsg struct {
	Type        string           `json:"type"`
	Event       camera.EventKind `json:"event"`
	Camera      media.CameraID   `json:"camera"`
	CameraState cameraJSON       `json:"camera_state"`
}

func (c *wsConn) sendEvent(ev camera.Event) error {
	if _, ok := c.subs[ev.Camera]; !ok {
		return nil
	}
	if ev.Kind == camera.EventDeleted {
		// The hub has ended the subscription; the connection drops it and
		// its viewer slot. A camera created again with this id is new:
		// the client subscribes to it again (docs/protocol.md).
		c.detach(ev.Camera)
	}
	return c.writeJSON(eventMsg{Type: "event", Event: ev.Kind, Camera: ev.Camera, CameraState: cameraView(ev.View)})
}

// statsMsg carries the figures of every subscribed camera, once per
// statsPeriod per connection.
type statsMsg struct {
	Type    string          `json:"type"`
	Cameras []wsCameraStats `json:"cameras"`
}

type wsCameraStats struct {
	Camera   media.CameraID `json:"camera"`
	FPS      float64        `json:"fps"`
	Viewers  int            `json:"viewers"`
	Drops    uint64         `json:"drops"`
	Position float64        `json:"position"`
	State    media.State    `json:"state"`
}

func (c *wsConn) sendStats() error {
	if len(c.subs) == 0 {
		return nil
	}
	msg := statsMsg{Type: "stats", Cameras: make([]wsCameraStats, 0, len(c.subs))}
	for cam, ws := range c.subs {
		v, err := c.srv.deps.Cameras.Get(cam)
		if err != nil {
			continue
		}
		viewers := 0
		for _, n := range v.Viewers {
			viewers += n
		}
		msg.Cameras = append(msg.Cameras, wsCameraStats{Camera: cam, FPS: v.FPS, Viewers: viewers, Drops: ws.sub.Drops(), Position: v.Position, State: v.State})
	}
	slices.SortFunc(msg.Cameras, func(a, b wsCameraStats) int { return strings.Compare(string(a.Camera), string(b.Camera)) })
	return c.writeJSON(msg)
}
