package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// frameID is where a viewer is in a camera's stream.
type frameID struct{ epoch, seq uint64 }

// seqCheck checks a viewer's frames of one camera: within an epoch seq
// strictly increases, and the epoch never goes back. strict says whether
// an equal seq counts as going back (false for the first frame of a new
// session, which may be the frame an earlier connection saw last).
func (s *soak) seqCheck(who, cam string, last map[string]frameID, f frameID, strict bool, where string) {
	p, ok := last[cam]
	last[cam] = f
	if !ok {
		return
	}
	switch {
	case f.epoch < p.epoch:
		s.fail("epoch-back", "%s %s: epoch %d after %d (%s)", who, cam, f.epoch, p.epoch, where)
	case f.epoch == p.epoch && (f.seq < p.seq || strict && f.seq == p.seq):
		s.fail("seq-back "+where, "%s %s: epoch %d seq %d after %d", who, cam, f.epoch, f.seq, p.seq)
	}
}

// pause waits d or until ctx ends; it reports whether ctx is still alive.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func randDur(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rand.Int64N(int64(hi-lo)+1))
}

// wsViewer is one WebSocket client with churn: it connects, subscribes to
// one to three cameras, watches for a while, then resumes its session
// after a pause, reloads (reconnects at once with its session) or leaves
// (drops its session), at random, until ctx ends. A stalled viewer
// subscribes and never reads.
func (s *soak) wsViewer(ctx context.Context, id int, stalled bool) {
	who := fmt.Sprintf("ws%d", id)
	var session string
	var left time.Time // when the session's last connection ended
	last := map[string]frameID{}
	for range 1000000 {
		if ctx.Err() != nil {
			return
		}
		srv, ok := s.waitUp(ctx)
		if !ok {
			return
		}
		resumed, err := s.wsConnect(ctx, srv, who, &session, left, last, stalled)
		left = time.Now()
		if err != nil {
			s.note("ws-error", err)
			if !pause(ctx, randDur(500*time.Millisecond, 2*time.Second)) {
				return
			}
			continue
		}
		_ = resumed
		if stalled {
			// The server may have dropped a viewer that does not read long
			// ago: when is unknown, so its session may have expired.
			session = ""
			clear(last)
			continue
		}
		switch r := rand.Float64(); {
		case r < 0.5: // come back later with the session
			s.count("ws-resume-later")
			if !pause(ctx, randDur(0, 20*time.Second)) {
				return
			}
		case r < 0.8: // reload
			s.count("ws-reload")
		default: // leave: a new session next time
			s.count("ws-leave")
			session = ""
			clear(last)
			if !pause(ctx, randDur(0, 20*time.Second)) {
				return
			}
		}
	}
}

// wsConnect is one connection of a WebSocket viewer. It returns when the
// viewer's watch time is over, ctx ends or the connection fails.
func (s *soak) wsConnect(ctx context.Context, srv *server, who string, session *string, left time.Time, last map[string]frameID, stalled bool) (bool, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	c, resp, err := d.DialContext(dctx, "ws://"+srv.host+"/api/ws", nil)
	cancel()
	if resp != nil {
		s.checkStatus("GET /api/ws", resp.StatusCode, nil)
		resp.Body.Close()
	}
	if err != nil {
		return false, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	hello := map[string]string{"type": "hello"}
	if *session != "" {
		hello["session"] = *session
	}
	if err := c.WriteJSON(hello); err != nil {
		return false, err
	}
	channels := map[uint32]string{}
	var w struct {
		Type          string `json:"type"`
		Session       string `json:"session"`
		Resumed       bool   `json:"resumed"`
		Code          string `json:"code"`
		Subscriptions []struct {
			Camera  string `json:"camera"`
			Channel uint32 `json:"channel"`
		} `json:"subscriptions"`
	}
	for range 64 {
		mt, b, err := c.ReadMessage()
		if err != nil {
			return false, err
		}
		if mt != websocket.TextMessage {
			continue
		}
		if err := json.Unmarshal(b, &w); err != nil {
			return false, err
		}
		if w.Type == "welcome" || w.Type == "error" {
			break
		}
	}
	if w.Type != "welcome" {
		s.fail("ws-protocol", "%s: no welcome (%s %s)", who, w.Type, w.Code)
		return false, fmt.Errorf("no welcome")
	}
	resumeAsked := *session != ""
	if resumeAsked {
		s.count("resume-tried")
		if w.Resumed {
			s.count("resume-ok")
		} else if away := time.Since(left); away < s.o.sessionTTL-15*time.Second {
			s.fail("resume", "%s: session not resumed after %v away (TTL %v)", who, away.Round(time.Millisecond), s.o.sessionTTL)
		} else {
			s.count("resume-expired")
		}
	}
	if !w.Resumed {
		s.mu.Lock()
		s.created = append(s.created, time.Now())
		s.mu.Unlock()
		clear(last)
	}
	*session = w.Session
	for _, sub := range w.Subscriptions {
		channels[sub.Channel] = sub.Camera
	}
	if len(channels) == 0 {
		n := 1 + rand.IntN(3)
		for _, i := range rand.Perm(len(soakCameras))[:n] {
			if err := c.WriteJSON(map[string]string{"type": "subscribe", "camera": soakCameras[i]}); err != nil {
				return w.Resumed, err
			}
		}
	}
	watch := randDur(3*time.Second, 40*time.Second)
	if stalled {
		// Never read again: the server must cope (skip frames, close us).
		s.count("ws-stall")
		return w.Resumed, pauseErr(ctx, randDur(60*time.Second, 180*time.Second))
	}
	end := time.Now().Add(watch)
	// The first frame of each camera on a connection may repeat the last
	// one an earlier connection of the session saw: a resume sends the
	// camera's latest frame at once (docs/protocol.md), which a reloaded
	// page needs. It must never be older.
	seen := map[string]bool{}
	for range 10000000 {
		if time.Now().After(end) {
			_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			return w.Resumed, nil
		}
		_ = c.SetReadDeadline(end.Add(30 * time.Second))
		mt, b, err := c.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return w.Resumed, nil
			}
			return w.Resumed, err
		}
		if mt == websocket.TextMessage {
			var m struct {
				Type    string `json:"type"`
				Camera  string `json:"camera"`
				Channel uint32 `json:"channel"`
				Code    string `json:"code"`
				Message string `json:"message"`
			}
			if json.Unmarshal(b, &m) == nil {
				switch m.Type {
				case "subscribed":
					channels[m.Channel] = m.Camera
				case "error":
					s.fail("ws-error-msg", "%s: server error %s: %s", who, m.Code, m.Message)
				}
			}
			continue
		}
		if len(b) < wsHeaderLen {
			s.fail("ws-protocol", "%s: binary message of %d bytes", who, len(b))
			continue
		}
		cam, ok := channels[binary.BigEndian.Uint32(b[4:8])]
		if !ok {
			s.fail("ws-protocol", "%s: frame on unknown channel %d", who, binary.BigEndian.Uint32(b[4:8]))
			continue
		}
		f := frameID{epoch: binary.BigEndian.Uint64(b[8:16]), seq: binary.BigEndian.Uint64(b[16:24])}
		where := "within a connection"
		if !seen[cam] {
			where = "first frame after resume"
		}
		s.seqCheck(who, cam, last, f, seen[cam], where)
		seen[cam] = true
	}
	return w.Resumed, nil
}

func pauseErr(ctx context.Context, d time.Duration) error {
	pause(ctx, d)
	return nil
}

// mjpegViewer is one MJPEG client with churn: it watches a random camera
// for a while, disconnects, pauses and comes back, until ctx ends. A
// stalled one reads the response head and then nothing.
func (s *soak) mjpegViewer(ctx context.Context, id int, stalled bool) {
	who := fmt.Sprintf("mjpeg%d", id)
	for range 1000000 {
		srv, ok := s.waitUp(ctx)
		if !ok {
			return
		}
		cam := soakCameras[rand.IntN(len(soakCameras))]
		if err := s.mjpegWatch(ctx, srv, who, cam, stalled); err != nil {
			s.note("mjpeg-error", err)
		}
		if !pause(ctx, randDur(200*time.Millisecond, 5*time.Second)) {
			return
		}
	}
}

func (s *soak) mjpegWatch(ctx context.Context, srv *server, who, cam string, stalled bool) error {
	conn, err := net.DialTimeout("tcp", srv.host, 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET /api/cameras/" + cam + "/mjpeg HTTP/1.1\r\nHost: " + srv.host + "\r\nUser-Agent: livemon-soak\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		return err
	}
	br := bufio.NewReaderSize(conn, readChunk)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	s.checkStatus("GET /api/cameras/"+cam+"/mjpeg", resp.StatusCode, nil)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mjpeg: %s", resp.Status)
	}
	if stalled {
		s.count("mjpeg-stall")
		return pauseErr(ctx, randDur(60*time.Second, 180*time.Second))
	}
	end := time.Now().Add(randDur(3*time.Second, 30*time.Second))
	_ = conn.SetDeadline(end.Add(30 * time.Second))
	body := &bodyReader{br: bufio.NewReaderSize(resp.Body, readChunk), rem: -1}
	last := map[string]frameID{}
	var line [mjpegHeaderMax]byte
	for range 10000000 {
		if time.Now().After(end) {
			return nil
		}
		n, err := body.readLine(line[:])
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if n == 0 {
			continue
		}
		length, f, hasSeq := -1, frameID{}, false
		for range 32 {
			n, err := body.readLine(line[:])
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
			if v, ok := headerValue(line[:n], "content-length"); ok {
				length, _ = strconv.Atoi(string(v))
			} else if v, ok := headerValue(line[:n], "x-seq"); ok {
				f.seq, _ = strconv.ParseUint(string(v), 10, 64)
				hasSeq = true
			} else if v, ok := headerValue(line[:n], "x-epoch"); ok {
				f.epoch, _ = strconv.ParseUint(string(v), 10, 64)
			}
		}
		if length < 0 {
			s.fail("mjpeg-protocol", "%s %s: part without Content-Length", who, cam)
			return nil
		}
		if err := body.skip(length); err != nil {
			return err
		}
		if hasSeq {
			s.seqCheck(who, cam, last, f, true, "mjpeg")
		}
	}
	return nil
}
