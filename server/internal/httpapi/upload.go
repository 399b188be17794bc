package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// multipartSlack is what the multipart envelope around the video may add
// to the body beyond --max-upload.
const multipartSlack = 1 << 20

type probeBody struct {
	Width    int     `json:"width"`
	Height   int     `json:"height"`
	FPS      float64 `json:"fps"`
	Frames   int64   `json:"frames"`
	Duration float64 `json:"duration"`
}

type uploadBody struct {
	Upload string     `json:"upload"`
	Probe  probeBody  `json:"probe"`
	Camera cameraJSON `json:"camera"`
}

// uploadAnswer is the upload's response body.
func uploadAnswer(_ *http.Request, b uploadBody) any { return b }

// legacyUploadBody is the legacy upload's response: the new fields and
// the ones the earlier prototype's client reads.
type legacyUploadBody struct {
	uploadBody
	CameraID media.CameraID `json:"camera_id"`
	Filename string         `json:"filename"`
	Message  string         `json:"message"`
	// StreamURL is the legacy stream of the camera.
	StreamURL string `json:"stream_url"`
	// VideoPath is the upload id, an opaque token: the prototype passes
	// it back in the stream URL, where it is accepted and ignored. It is
	// never a server path.
	VideoPath string `json:"video_path"`
}

// legacyUploadAnswer is the legacy upload's response body, with a message
// in Korean or English after the request's Accept-Language.
func legacyUploadAnswer(r *http.Request, b uploadBody) any {
	id, name := b.Camera.ID, ""
	if b.Camera.Video != nil {
		name = b.Camera.Video.Name
	}
	msg := fmt.Sprintf("Video %q uploaded; camera %s is playing it.", name, id)
	if prefersKorean(r.Header.Get("Accept-Language")) {
		msg = fmt.Sprintf("영상 %q을(를) 업로드했습니다. 카메라 %s에서 재생 중입니다.", name, id)
	}
	return legacyUploadBody{
		uploadBody: b,
		CameraID:   id,
		Filename:   name,
		Message:    msg,
		StreamURL:  "/api/live-monitoring/stream/" + string(id),
		VideoPath:  b.Upload,
	}
}

// prefersKorean reports whether an Accept-Language header ranks Korean
// above English (and any other language); ties go to the first listed.
func prefersKorean(header string) bool {
	best, bestQ := "", 0.0
	for _, item := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(item), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		if lang, _, _ := strings.Cut(tag, "-"); lang != "" && q > bestQ {
			best, bestQ = strings.ToLower(lang), q
		}
	}
	return best == "ko"
}

// tooLarge is the error of an upload over --max-upload, which it names as
// the operator wrote it ("5MB" stays "5MB").
func (s *Server) tooLarge() error {
	text := s.deps.Config.MaxUploadText
	if text == "" {
		text = humanBytes(s.deps.Config.MaxUpload)
	}
	return media.Errorf(media.KindTooLarge, "the file is larger than the upload limit of %s", text)
}

// handleUpload streams the multipart field "video" to a temp file in the
// data dir (never holding it in memory), then hands it to the camera
// manager, which probes it and switches the camera to it.
// answer gives the response body.
func (s *Server) handleUpload(from cameraFrom, answer func(*http.Request, uploadBody) any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id, err := from(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		log := s.log.With("camera", id, "remote", r.RemoteAddr)
		body := r.Body // receiveUpload wraps r.Body; lingerDrain reads the original
		var size int64
		release, err := s.uploads.acquire(r)
		if err == nil {
			size, err = s.receiveUpload(w, r, id, answer)
			release()
		}
		if err != nil {
			unread := media.IsKind(err, media.KindTooLarge) || media.IsKind(err, media.KindUploadLimit)
			if unread {
				// The rest of the body is not read: don't reuse the
				// connection, but let the client see the answer.
				w.Header().Set("Connection", "close")
				_ = http.NewResponseController(w).EnableFullDuplex()
				defer lingerDrain(w, body)
			}
			_, code, _ := errorCode(err)
			s.deps.Metrics.Upload(code, size)
			log.Info("upload rejected", "outcome", code, "bytes", size, "duration", time.Since(start).Round(time.Millisecond), "err", err)
			writeError(w, r, s.log, err)
		}
	})
}

// receiveUpload does the work of handleUpload and writes the success
// response; it returns the bytes received.
func (s *Server) receiveUpload(w http.ResponseWriter, r *http.Request, id media.CameraID, answer func(*http.Request, uploadBody) any) (int64, error) {
	limit := s.deps.Config.MaxUpload
	if r.ContentLength > limit+multipartSlack {
		return 0, s.tooLarge()
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+multipartSlack)
	mr, err := r.MultipartReader()
	if err != nil {
		return 0, media.WrapError(media.KindInvalid, err, "expected a multipart/form-data body with a field named \"video\"")
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return 0, media.Errorf(media.KindInvalid, "the form has no field named \"video\"")
		}
		if err != nil {
			if errors.As(err, new(*http.MaxBytesError)) || errors.As(err, new(*media.Error)) {
				return 0, s.uploadReadError(err)
			}
			return 0, media.WrapError(media.KindInvalid, err, "the multipart body is malformed or was cut off")
		}
		if part.FormName() != "video" {
			if _, err := io.Copy(io.Discard, io.LimitReader(part, multipartSlack)); err != nil {
				return 0, s.uploadReadError(err)
			}
			continue
		}
		tf, err := s.deps.Store.CreateTemp()
		if err != nil {
			return 0, err
		}
		n, err := io.Copy(tf, io.LimitReader(part, limit+1))
		if err != nil {
			tf.Abort()
			return n, s.uploadReadError(err)
		}
		if n > limit {
			tf.Abort()
			return n, s.tooLarge()
		}
		if n == 0 {
			tf.Abort()
			return 0, media.Errorf(media.KindUnsupported, "the uploaded file is empty")
		}
		start := time.Now()
		up, err := s.deps.Cameras.PublishUpload(r.Context(), id, tf, part.FileName())
		if err != nil {
			return n, err
		}
		s.deps.Metrics.Upload("ok", n)
		s.log.Info("upload accepted", "camera", id, "remote", r.RemoteAddr, "outcome", "ok", "upload", up.ID, "bytes", n,
			"width", up.Probe.Width, "height", up.Probe.Height, "fps", up.Probe.FPS, "probe", time.Since(start).Round(time.Millisecond))
		writeJSON(w, http.StatusCreated, answer(r, uploadBody{
			Upload: up.ID,
			Probe: probeBody{
				Width: up.Probe.Width, Height: up.Probe.Height, FPS: up.Probe.FPS,
				Frames: up.Probe.Frames, Duration: up.Probe.Duration.Seconds(),
			},
			Camera: cameraView(up.Camera),
		}))
		return n, nil
	}
}

// uploadReadError classifies an error met while reading the request body.
func (s *Server) uploadReadError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return s.tooLarge()
	}
	if errors.As(err, new(*media.Error)) {
		return err // disk full from the temp file, a body that stopped arriving
	}
	return media.WrapError(media.KindInvalid, err, "the upload was interrupted before it completed")
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
