package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// legacyUpload posts a video the way the earlier prototype's client does
// and returns the fields that client reads.
func (e *env) legacyUpload(t *testing.T, cam, filename string, video int, lang string) legacyUploadBody {
	t.Helper()
	body, ct := multipartBody(t, "video", filename, synthVideo(video, 9000))
	status, data := e.do(http.MethodPost, "/api/live-monitoring/upload-video?camera_id="+cam, body,
		http.Header{"Content-Type": {ct}, "Accept-Language": {lang}})
	if status != http.StatusCreated {
		t.Fatalf("legacy upload: %d %s", status, data)
	}
	var got legacyUploadBody
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	// The new API's fields are there too.
	var raw map[string]any
	json.Unmarshal(data, &raw)
	for _, k := range []string{"upload", "probe", "camera", "camera_id", "filename", "message", "stream_url", "video_path"} {
		if _, ok := raw[k]; !ok {
			t.Fatalf("legacy upload response lacks %q: %s", k, data)
		}
	}
	if strings.Contains(string(data), e.dir) {
		t.Fatalf("legacy upload response names a server path: %s", data)
	}
	return got
}

// The earlier prototype's whole flow: upload, build the stream URL its
// way from the response, watch, reconnect without t.
func TestLegacyPrototypeFlow(t *testing.T) {
	e := newEnv(t, envOptions{})
	first := e.legacyUpload(t, "proto", "first.avi", 1, "ko-KR,ko;q=0.9,en;q=0.8")
	if first.CameraID != "proto" || first.Filename != "first.avi" ||
		first.StreamURL != "/api/live-monitoring/stream/proto" ||
		first.VideoPath != first.Upload || !strings.HasPrefix(first.VideoPath, "u_") {
		t.Fatalf("legacy upload answered %+v", first)
	}
	if !strings.Contains(first.Message, "업로드") {
		t.Fatalf("message for a Korean client = %q", first.Message)
	}
	second := e.legacyUpload(t, "proto", "second.avi", 2, "en-US,en;q=0.9,ko;q=0.5")
	if !strings.Contains(second.Message, "uploaded") || second.VideoPath == first.VideoPath {
		t.Fatalf("second upload answered %+v", second)
	}

	// The prototype's stream URL: stream_url plus its query, with the
	// token it was given as video_path.
	streamURL := func(token string, withT bool) string {
		q := "loop=true&speed=1"
		if withT {
			q += "&t=" + strconv.FormatInt(time.Now().UnixMilli(), 10)
		}
		return second.StreamURL + "?" + q + "&video_path=" + url.QueryEscape(token)
	}
	watched := e.readMJPEG(t, streamURL(second.VideoPath, true), 500*time.Millisecond)
	last := watched[len(watched)-1]
	for _, f := range watched {
		if f.video != 2 || f.epoch != watched[0].epoch {
			t.Fatalf("the newest upload does not play: %+v", watched)
		}
	}
	// Reconnecting without t (and with the older token, which names no
	// file either) attaches to the same run: same epoch, seq goes on.
	again := e.readMJPEG(t, streamURL(first.VideoPath, false), 500*time.Millisecond)
	if a := again[0]; a.video != 2 || a.epoch != last.epoch || a.seq < last.seq {
		t.Fatalf("reconnect restarted the video: %+v after %+v", a, last)
	}
	if b := again[len(again)-1]; b.epoch != last.epoch || b.seq <= last.seq {
		t.Fatalf("reconnect did not go on: %+v after %+v", b, last)
	}
	// A video_path that is not a token is still refused.
	if status, _ := e.do(http.MethodGet, second.StreamURL+"?video_path=%2Fetc%2Fpasswd", nil, nil); status != http.StatusBadRequest {
		t.Fatalf("video_path naming a file: %d", status)
	}
}

func TestPrefersKorean(t *testing.T) {
	for header, want := range map[string]bool{
		"":                              false,
		"ko":                            true,
		"ko-KR,ko;q=0.9,en-US;q=0.8":    true,
		"en-US,en;q=0.9,ko;q=0.8":       false,
		"en;q=0.5, ko;q=0.7":            true,
		"fr, ko;q=0.9":                  false,
		"KO-kr":                         true,
		"ko;q=bad, en":                  false,
		"*":                             false,
		"en;q=0.9, ko-KR;q=0.9, ko;q=1": true,
	} {
		if got := prefersKorean(header); got != want {
			t.Errorf("prefersKorean(%q) = %v, want %v", header, got, want)
		}
	}
}
