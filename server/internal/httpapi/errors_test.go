package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/livemon/livemon/server/internal/media"
)

// The error mapping: status, code and Retry-After of the errors that
// pass by themselves (a camera moving between cluster nodes, a full
// upload queue), none for the others.
func TestWriteErrorRetryAfter(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		err    error
		status int
		code   string
		retry  string
	}{
		{media.Errorf(media.KindCameraUnavailable, "no ingest node serves this camera right now"), 503, "camera_unavailable", "2"},
		{media.Errorf(media.KindUploadLimit, "busy"), 503, "upload_limit", "5"},
		{media.Errorf(media.KindCameraLimit, "full"), 503, "camera_limit", ""},
		{media.Errorf(media.KindNotFound, "no camera"), 404, "not_found", ""},
	} {
		t.Run(tc.code, func(t *testing.T) {
			w := httptest.NewRecorder()
			writeError(w, httptest.NewRequest("POST", "/api/cameras", nil), log, tc.err)
			var body errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if w.Code != tc.status || body.Error.Code != tc.code || w.Header().Get("Retry-After") != tc.retry {
				t.Fatalf("got %d %q Retry-After %q, want %d %q Retry-After %q",
					w.Code, body.Error.Code, w.Header().Get("Retry-After"), tc.status, tc.code, tc.retry)
			}
		})
	}
}
