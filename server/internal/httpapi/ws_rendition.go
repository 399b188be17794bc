package httpapi

import (
	"context"
	"time"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/media"
)

// Renditions on a WebSocket: a connection watches one rendition per
// camera. A subscribe naming another rendition of a camera already
// subscribed switches it without a gap: the connection subscribes to the
// new rendition at once and keeps sending the old one's frames until the
// new one's first frame goes out, then drops the old subscription
// (docs/protocol.md). A subscribe back to the rendition being left
// cancels the switch.

// subscribeOptions are the hub options of the connection's subscription to
// (cam, r).
func (c *wsConn) subscribeOptions(cam media.CameraID, r media.Rendition) hub.SubscribeOptions {
	return hub.SubscribeOptions{Transport: media.TransportWebSocket, Rendition: r, Notify: c.notify, SkipLatest: c.staleLatest(cam, r)}
}

// take returns the next frame to send for the camera and its channel,
// from a channel open says has credit (flow control, ws_flow.go). A frame
// of the rendition being switched to ends the switch: the old
// subscription is closed and nothing more of it is sent. The channel is
// the subscription's current one when there is no frame.
func (ws *wsSub) take(open func(uint32) bool) (*media.Frame, uint32, bool) {
	if ws.switching != nil && open(ws.switching.Channel()) {
		if f, ok := ws.switching.Next(); ok {
			ws.sub.Close()
			ws.sub, ws.channel, ws.switching = ws.switching, ws.switching.Channel(), nil
			return f, ws.channel, true
		}
	}
	if !open(ws.channel) {
		return nil, ws.channel, false
	}
	f, ok := ws.sub.Next()
	return f, ws.channel, ok
}

// rendition is what the subscription shows, or is switching to.
func (ws *wsSub) rendition() (media.Rendition, uint32) {
	if ws.switching != nil {
		return ws.switching.Rendition(), ws.switching.Channel()
	}
	return ws.sub.Rendition(), ws.channel
}

// switchRendition answers a subscribe to camera v, already subscribed as
// ws, naming rendition r.
func (c *wsConn) switchRendition(cam media.CameraID, v camera.View, ws *wsSub, r media.Rendition) error {
	if cur, _ := ws.rendition(); cur != r {
		if ws.switching != nil {
			ws.switching.Close()
			ws.switching = nil
		}
		if ws.sub.Rendition() != r {
			ws.switching = c.srv.deps.Hub.Subscribe(cam, c.subscribeOptions(cam, r))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.srv.deps.Sessions.Subscribe(ctx, c.session.ID, cam, r); err != nil {
			if ws.switching != nil {
				ws.switching.Close()
				ws.switching = nil
			}
			return c.sendError(err, string(cam))
		}
	}
	_, ch := ws.rendition()
	return c.writeJSON(subscribedMsg{Type: "subscribed", Camera: cam, Rendition: r, Channel: ch, Epoch: v.Epoch, Seq: v.Seq})
}
