package httpapi

import (
	"net/http"

	"github.com/livemon/livemon/server/internal/media"
)

// queryRendition reads the ?rendition= of an MJPEG, snapshot or legacy
// stream request: absent or empty is full, an unknown name a 400.
func queryRendition(r *http.Request) (media.Rendition, error) {
	return media.ParseRendition(r.URL.Query().Get("rendition"))
}
