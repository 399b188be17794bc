package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/media"
)

const (
	// snapshotWait bounds how long a snapshot waits for a fresh frame.
	snapshotWait = 5 * time.Second
)

// handleMJPEG serves the camera as multipart/x-mixed-replace. With attach
// set (the legacy route) a stopped camera is started; a running one is
// never restarted, and query parameters are ignored.
func (s *Server) handleMJPEG(from cameraFrom, attach bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := s.lookupCamera(w, r, from)
		if !ok {
			return
		}
		id := v.ID
		if attach && v.State == media.StateStopped && v.Video != nil {
			if _, err := s.deps.Cameras.Start(r.Context(), id); err != nil {
				writeError(w, r, s.log, err)
				return
			}
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
		sub := s.deps.Hub.Subscribe(id, hub.SubscribeOptions{Transport: "mjpeg"})
		defer sub.Close()
		if err := s.streamMJPEG(w, r, sub, s.closing, nil); err != nil {
			s.log.Debug("mjpeg viewer gone", "camera", id, "remote", r.RemoteAddr, "err", err)
		}
	})
}

// streamMJPEG writes sub's frames as a multipart/x-mixed-replace response
// until the client leaves, stop closes, the camera goes away or a write
// fails (its error is returned). onPart, if set, sees each part's result
// (the write-path benchmark times parts with it).
func (s *Server) streamMJPEG(w http.ResponseWriter, r *http.Request, sub *hub.Subscription, stop <-chan struct{}, onPart func(error)) error {
	h := w.Header()
	h.Set("Content-Type", "multipart/x-mixed-replace; boundary="+mjpegBoundary)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return err
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
			f, ok := sub.Next()
			if !ok {
				continue
			}
			err := s.writePart(rc, w, f)
			if onPart != nil {
				onPart(err)
			}
			if err != nil {
				return err
			}
		}
	}
}

func (s *Server) writePart(rc *http.ResponseController, w http.ResponseWriter, f *media.Frame) error {
	if err := rc.SetWriteDeadline(time.Now().Add(s.timing.writeWait)); err != nil {
		return err
	}
	if _, err := w.Write(s.wire.mjpegHeader(f)); err != nil {
		return err
	}
	if _, err := w.Write(f.JPEG); err != nil {
		return err
	}
	if _, err := w.Write(crlf); err != nil {
		return err
	}
	return rc.Flush()
}

var crlf = []byte("\r\n")

// handleSnapshot serves one current JPEG. For a running or starting camera
// it waits up to snapshotWait for the next frame (subscribing makes the
// camera encode), so it never serves a stale picture; a stopped, ended or
// failed camera serves the last frame of its current run. Without such a
// frame it answers at once: 409 for a camera with no video or one that is
// not playing, 503 decoder_limit for one waiting for a decoder.
func (s *Server) handleSnapshot() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := s.lookupCamera(w, r, pathCamera)
		if !ok {
			return
		}
		id := v.ID
		if v.Video == nil {
			writeError(w, r, s.log, media.Errorf(media.KindConflict, "camera %q has no video yet: upload one first", id))
			return
		}
		f := s.deps.Hub.Latest(id)
		if v.State == media.StateRunning || v.State == media.StateStarting {
			if fresh := s.waitFrame(r.Context(), id); fresh != nil {
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
	case media.StateError:
		return media.Errorf(media.KindConflict, "camera %q has no frame: %s", v.ID, v.Error)
	}
	return media.Errorf(media.KindConflict, "camera %q is %s and has no frame of its current video: start it", v.ID, v.State)
}

// waitFrame waits for the next frame published after the call.
func (s *Server) waitFrame(ctx context.Context, id media.CameraID) *media.Frame {
	sub := s.deps.Hub.Subscribe(id, hub.SubscribeOptions{Transport: "snapshot", SkipLatest: true})
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
