package httpapi

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/media"
)

const (
	// snapshotWait bounds how long a snapshot waits for a fresh frame.
	snapshotWait = 5 * time.Second
)

// handleMJPEG serves the camera as multipart/x-mixed-replace, in the
// rendition ?rendition= names (full by default). A viewer never starts,
// restarts or changes a camera. With legacy set (the earlier prototype's
// route) the other query parameters are ignored and a stopped camera is
// shown as a "stopped" picture (stoppedJPEG) until an operator starts it;
// the stream then continues with its frames.
func (s *Server) handleMJPEG(from cameraFrom, legacy bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rend, err := queryRendition(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		v, ok := s.lookupCamera(w, r, from)
		if !ok {
			return
		}
		id := v.ID
		var still []byte
		if legacy && v.State == media.StateStopped {
			still = stoppedJPEG()
		}
		if err := s.viewers.acquire(id); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		defer s.viewers.release(id)
		if !s.stream() {
			writeError(w, r, s.log, media.Errorf(media.KindOverCapacity, "server is shutting down"))
			return
		}
		defer s.streams.Done()
		// Behind the "stopped" picture a stale last frame would hide it.
		sub := s.deps.Hub.Subscribe(id, hub.SubscribeOptions{Transport: media.TransportMJPEG, Rendition: rend, SkipLatest: still != nil})
		defer sub.Close()
		if err := s.streamMJPEG(w, r, sub, s.closing, still, nil); err != nil {
			s.log.Debug("mjpeg viewer gone", "camera", id, "remote", r.RemoteAddr, "err", err)
		}
	})
}

// streamMJPEG writes sub's frames as a multipart/x-mixed-replace response
// until the client leaves, stop closes, the camera goes away or a write
// fails (its error is returned). still, if set, is a JPEG sent as the
// first part. onPart, if set, sees each frame part's result (the
// write-path benchmark times parts with it).
func (s *Server) streamMJPEG(w http.ResponseWriter, r *http.Request, sub *hub.Subscription, stop <-chan struct{}, still []byte, onPart func(error)) error {
	h := w.Header()
	h.Set("Content-Type", "multipart/x-mixed-replace; boundary="+mjpegBoundary)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return err
	}
	sndbuf := newSendBuffer(r.Context())
	// skip is how much of the next part's header was already sent: the
	// still part is followed at once by the next boundary, so a client
	// that waits for it to show a part shows the still now.
	skip := 0
	if still != nil {
		head := boundaryLine + "Content-Type: image/jpeg\r\nContent-Length: " + strconv.Itoa(len(still)) + "\r\nX-Camera-State: stopped\r\n\r\n"
		if err := s.writeChunks(rc, w, []byte(head), still, crlf, []byte(boundaryLine)); err != nil {
			return err
		}
		skip = len(boundaryLine)
	}
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-stop:
			return nil
		case <-sub.Done():
			return nil
		case <-sub.Ready():
			select {
			case <-sub.Done(): // gone meanwhile: send nothing more of it
				return nil
			default:
			}
			f, ok := sub.Next()
			if !ok {
				continue
			}
			sndbuf.fit(len(f.JPEG))
			err := s.writeChunks(rc, w, s.wire.mjpegHeader(f)[skip:], f.JPEG, crlf)
			skip = 0
			if onPart != nil {
				onPart(err)
			}
			if err != nil {
				return err
			}
		}
	}
}

// An MJPEG viewer has no acknowledgements, only TCP: whatever the kernel's
// send buffer holds is frames the viewer will see late. Linux grows a
// socket's send buffer up to net.ipv4.tcp_wmem's maximum (4 MB by default:
// 30 frames of 720p, a second or more). streamMJPEG writes the newest frame
// only when the previous write has completed, and sizes the send buffer to
// the frame (the kernel doubles the value for its bookkeeping), so at most
// about one frame waits in the server's kernel behind the one on the wire.
// See docs/architecture.md "Flow control" for the resulting bound.

// minMJPEGSendBuffer is the smallest send buffer an MJPEG stream asks for.
const minMJPEGSendBuffer = 16 << 10

type connKey struct{}

// ConnContext is for http.Server.ConnContext: it lets a long stream reach
// its TCP connection, to size the socket's send buffer.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// sendBuffer sizes one stream's socket send buffer to its frames. Without a
// TCP connection in the context (ConnContext not set, TLS) it does nothing.
type sendBuffer struct {
	conn *net.TCPConn
	size int
}

func newSendBuffer(ctx context.Context) *sendBuffer {
	tc, _ := ctx.Value(connKey{}).(*net.TCPConn)
	return &sendBuffer{conn: tc}
}

// fit makes the send buffer about one frame of n bytes. It changes it only
// when the size moves by more than a quarter, so a steady stream makes no
// system calls.
func (b *sendBuffer) fit(n int) {
	want := max(minMJPEGSendBuffer, n)
	if b.conn == nil || (want <= b.size*5/4 && want >= b.size*3/4) {
		return
	}
	if b.conn.SetWriteBuffer(want) == nil {
		b.size = want
	}
}

// writeChunks writes one MJPEG part under a write deadline and flushes it.
func (s *Server) writeChunks(rc *http.ResponseController, w http.ResponseWriter, chunks ...[]byte) error {
	if err := rc.SetWriteDeadline(time.Now().Add(s.timing.writeWait)); err != nil {
		return err
	}
	for _, c := range chunks {
		if _, err := w.Write(c); err != nil {
			return err
		}
	}
	return rc.Flush()
}

var crlf = []byte("\r\n")

// boundaryLine starts every MJPEG part (wireCache.mjpegHeader too).
const boundaryLine = "--" + mjpegBoundary + "\r\n"

// handleSnapshot serves one current JPEG of the rendition ?rendition=
// names (full by default). For a running or starting camera
// it waits up to snapshotWait for the next frame (subscribing makes the
// camera encode), so it never serves a stale picture; a stopped, ended or
// failed camera serves the last frame of its current run. Without such a
// frame it answers at once: 409 for a camera with no video or one that is
// not playing, 503 decoder_limit for one waiting for a decoder. A live
// camera serves its kept frame while offline.
func (s *Server) handleSnapshot() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rend, err := queryRendition(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		v, ok := s.lookupCamera(w, r, pathCamera)
		if !ok {
			return
		}
		id := v.ID
		if v.Video == nil && v.Source.Kind == media.SourceFile {
			writeError(w, r, s.log, media.Errorf(media.KindConflict, "camera %q has no video yet: upload one first", id))
			return
		}
		f := s.deps.Hub.RenditionLatest(id, rend)
		if v.State == media.StateRunning || v.State == media.StateStarting {
			if fresh := s.waitFrame(r.Context(), id, rend); fresh != nil {
				f = fresh
			}
		}
		if f == nil || f.Epoch != v.Epoch {
			writeError(w, r, s.log, noFrame(v))
			return
		}
		h := w.Header()
		h.Set("Content-Type", "image/jpeg")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Epoch", uitoa(f.Epoch))
		h.Set("X-Seq", uitoa(f.Seq))
		_, _ = w.Write(f.JPEG)
	})
}

// noFrame says why camera v has no frame of its current run to show.
func noFrame(v camera.View) error {
	switch v.State {
	case media.StateRunning, media.StateStarting:
		return media.Errorf(media.KindConflict, "camera %q has not produced a frame yet: try again", v.ID)
	case media.StateError, media.StateOffline:
		if v.ErrorCode == media.KindDecoderLimit.Code() {
			return media.Errorf(media.KindDecoderLimit, "camera %q has no frame: %s", v.ID, v.Error)
		}
		return media.Errorf(media.KindConflict, "camera %q has no frame: %s", v.ID, v.Error)
	}
	return media.Errorf(media.KindConflict, "camera %q is %s and has no frame of its current video: start it", v.ID, v.State)
}

// waitFrame waits for the next frame of (id, rend) published after the call.
func (s *Server) waitFrame(ctx context.Context, id media.CameraID, rend media.Rendition) *media.Frame {
	sub := s.deps.Hub.Subscribe(id, hub.SubscribeOptions{Transport: media.TransportSnapshot, Rendition: rend, SkipLatest: true})
	defer sub.Close()
	t := time.NewTimer(snapshotWait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			return nil
		case <-sub.Done():
			return nil
		case <-sub.Ready():
			if f, ok := sub.Next(); ok {
				return f
			}
		}
	}
}
