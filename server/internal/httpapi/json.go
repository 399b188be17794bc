package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/livemon/livemon/server/internal/media"
)

const maxJSONBody = 64 << 10

// writeJSON writes v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeJSON reads a JSON body of at most maxJSONBody bytes into v,
// rejecting unknown fields. A larger body is 413; a body that stops
// arriving is 408 (the bodyIdle middleware's error).
func decodeJSON(r *http.Request, v any) error {
	if r.ContentLength > maxJSONBody {
		return jsonTooLarge()
	}
	lr := &io.LimitedReader{R: r.Body, N: maxJSONBody + 1}
	dec := json.NewDecoder(lr)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var me *media.Error
		switch {
		case errors.As(err, &me):
			return err
		case lr.N <= 0:
			return jsonTooLarge()
		case errors.Is(err, io.EOF):
			return media.Errorf(media.KindInvalid, "request body is empty: JSON expected")
		}
		return media.WrapError(media.KindInvalid, err, "request body is not valid JSON for this request")
	}
	return nil
}

func jsonTooLarge() error {
	return media.Errorf(media.KindTooLarge, "the JSON body is larger than %d KiB", maxJSONBody>>10)
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// errorCode returns the status, the API code and the user-safe message of
// err. Internal errors get a generic message; their detail is only logged.
func errorCode(err error) (int, string, string) {
	var me *media.Error
	if errors.As(err, &me) {
		if me.Kind != media.KindInternal {
			return me.Kind.Status(), me.Kind.Code(), me.Message
		}
	}
	return http.StatusInternalServerError, "internal", "internal server error"
}

// Retry-After of the 503s that pass by themselves: an upload slot frees
// when one finishes; a camera without a node is taken over within a
// second of its lease being released or expiring (cluster leases).
const (
	uploadRetryAfter      = 5
	unavailableRetryAfter = 2
)

// retryAfter is the Retry-After (seconds) to send with err, 0 for none.
func retryAfter(err error) int {
	switch {
	case media.IsKind(err, media.KindUploadLimit):
		return uploadRetryAfter
	case media.IsKind(err, media.KindCameraUnavailable):
		return unavailableRetryAfter
	}
	return 0
}

// writeError writes err as the API's error body, logging internal errors
// once, here at the edge.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status, code, msg := errorCode(err)
	if media.IsKind(err, media.KindTimeout) {
		w.Header().Set("Connection", "close") // the body was not read to its end
	}
	if secs := retryAfter(err); secs > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	if status >= 500 && status != http.StatusServiceUnavailable && status != http.StatusInsufficientStorage {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
	} else {
		log.Debug("request rejected", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: msg}})
}
