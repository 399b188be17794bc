package fakecam

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

const (
	// Boundary separates the parts of /mjpeg.
	Boundary = "fakecamframe"
	// writeWait bounds each write to a viewer.
	writeWait = 5 * time.Second
)

// Handler serves
//
//	GET  /mjpeg          multipart/x-mixed-replace stream of the frames
//	GET  /snapshot.jpg   the frame showing now
//	POST /control?mode=  up, down or stall (see Mode)
//	GET  /               a short text index of the above
func (c *Camera) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /mjpeg", c.authorized(c.serveStream))
	mux.HandleFunc("GET /snapshot.jpg", c.authorized(c.serveSnapshot))
	mux.HandleFunc("POST /control", c.serveControl)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "livemon fake camera, video id %d, %dx%d at %g fps, mode %s\n"+
			"GET /mjpeg  GET /snapshot.jpg  POST /control?mode=up|down|stall\n",
			c.cfg.VideoID, c.cfg.Width, c.cfg.Height, c.cfg.FPS, c.Mode())
	})
	return mux
}

// authorized requires the configured Basic credentials, if any.
func (c *Camera) authorized(h http.HandlerFunc) http.HandlerFunc {
	if c.cfg.User == "" && c.cfg.Password == "" {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		userOK := subtle.ConstantTimeCompare([]byte(user), []byte(c.cfg.User)) == 1
		passwordOK := subtle.ConstantTimeCompare([]byte(password), []byte(c.cfg.Password)) == 1
		if !ok || !userOK || !passwordOK {
			w.Header().Set("WWW-Authenticate", `Basic realm="fake camera"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

func refuse(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	http.Error(w, "camera down", http.StatusServiceUnavailable)
}

// drop closes the connection under an open response, as a camera that
// loses power does: the client sees the stream cut, not a clean end.
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return // HTTP/2: returning ends the stream
	}
	conn.Close()
}

// waitUp waits while the camera stalls. It returns false when the request
// ends or the camera goes down.
func (c *Camera) waitUp(r *http.Request) bool {
	for {
		mode, changed := c.state()
		switch mode {
		case ModeUp:
			return true
		case ModeDown:
			return false
		}
		select {
		case <-r.Context().Done():
			return false
		case <-changed:
		}
	}
}

func (c *Camera) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	if !c.waitUp(r) {
		refuse(w)
		return
	}
	i, frame, err := c.Frame()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Content-Length", strconv.Itoa(len(frame)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Index", strconv.Itoa(i))
	w.Write(frame)
}

func (c *Camera) serveStream(w http.ResponseWriter, r *http.Request) {
	if mode, _ := c.state(); mode == ModeDown {
		refuse(w)
		return
	}
	rc := http.NewResponseController(w)
	timer := time.NewTimer(0)
	defer timer.Stop()
	started := false
	last := -1
	for {
		mode, changed := c.state()
		switch mode {
		case ModeDown:
			drop(w)
			return
		case ModeStall:
			select {
			case <-r.Context().Done():
				return
			case <-changed:
			}
			continue
		}
		i, frame, err := c.Frame()
		if err != nil {
			return
		}
		if !started {
			h := w.Header()
			h.Set("Content-Type", "multipart/x-mixed-replace; boundary="+Boundary)
			h.Set("Cache-Control", "no-store")
			started = true
		}
		if i > last {
			if err := writePart(rc, w, frame); err != nil {
				return
			}
			last = i
		}
		timer.Reset(time.Until(c.timeOf(last + 1)))
		select {
		case <-r.Context().Done():
			return
		case <-changed:
		case <-timer.C:
		}
	}
}

func writePart(rc *http.ResponseController, w http.ResponseWriter, frame []byte) error {
	if err := rc.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", Boundary, len(frame)); err != nil {
		return err
	}
	if _, err := w.Write(frame); err != nil {
		return err
	}
	if _, err := w.Write([]byte("\r\n")); err != nil {
		return err
	}
	return rc.Flush()
}

func (c *Camera) serveControl(w http.ResponseWriter, r *http.Request) {
	mode, err := ParseMode(r.URL.Query().Get("mode"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.SetMode(mode)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "mode %s\n", mode)
}
