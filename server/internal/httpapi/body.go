package httpapi

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// bodyIdle cuts request bodies that stop arriving: every Read of a body
// runs under a read deadline of Config.BodyIdleTimeout, so a client that
// sends nothing for that long (a slowloris upload at 1 byte a minute, a
// JSON body that never ends) gets its Read failed with a KindTimeout error,
// which handlers answer with 408 and the connection is closed. A slow but
// real upload (any progress within the timeout) is never cut. The deadline
// is cleared after each Read that did not time out, so time a handler spends elsewhere (writing
// the file, probing it) never counts.
func (s *Server) bodyIdle(next http.Handler) http.Handler {
	idle := s.deps.Config.BodyIdleTimeout
	if idle <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: idle}
		}
		next.ServeHTTP(w, r)
	})
}

// After an upload is refused before its body was read (too large, too many
// uploads), the answer is sent and then up to lingerBytes of the body are
// read and dropped for at most lingerTime before the connection closes.
// Closing at once would reset a connection the client is still writing
// to, and many clients (browsers, Node) then report a network error instead
// of the 413 or 503 (nginx's lingering close does the same).
const (
	lingerBytes = 64 << 20
	lingerTime  = 10 * time.Second
)

// lingerDrain flushes the answer, then reads and drops the rest of body
// within the bounds above.
func lingerDrain(w http.ResponseWriter, body io.Reader) {
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	if ib, ok := body.(*idleBody); ok {
		body = ib.ReadCloser // its own deadline would replace ours
	}
	if rc.SetReadDeadline(time.Now().Add(lingerTime)) != nil {
		return
	}
	_, _ = io.CopyN(io.Discard, body, lingerBytes)
}

// idleBody is a request body whose every Read has a deadline.
type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	if err := b.rc.SetReadDeadline(time.Now().Add(b.idle)); err != nil {
		return b.ReadCloser.Read(p) // a connection without deadlines
	}
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The deadline stays in the past, so the server's own attempt to
		// drain the rest of the body after the response fails at once
		// and the connection closes.
		return n, media.WrapError(media.KindTimeout, err, "the request body stopped arriving: nothing was received for "+b.idle.String())
	}
	_ = b.rc.SetReadDeadline(time.Time{})
	return n, err
}
