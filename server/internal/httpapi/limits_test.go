package httpapi

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/synth"
)

// Issue 18 item 7: names with control or bidi characters are refused on
// create and on update, by the one rule in media.ParseCameraName.
func TestCameraNameCharacters(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, name := range []string{"gpj.\u202Eexe", "two\nlines", "nul\x00", "mark\u200F"} {
		if status, body := e.json(http.MethodPost, "/api/cameras", map[string]any{"id": "c", "name": name}); status != http.StatusBadRequest || errCode(body) != "invalid_argument" {
			t.Fatalf("create %q: %d %v", name, status, body)
		}
	}
	if status, body := e.json(http.MethodPost, "/api/cameras", map[string]any{"id": "c", "name": "  정문 \t"}); status != http.StatusCreated || body["name"] != "정문" {
		t.Fatalf("create: %d %v", status, body)
	}
	if status, body := e.json(http.MethodPatch, "/api/cameras/c", map[string]any{"name": "a\u2066b"}); status != http.StatusBadRequest {
		t.Fatalf("update with an isolate: %d %v", status, body)
	}
	if _, body := e.json(http.MethodGet, "/api/cameras/c", nil); body["name"] != "정문" {
		t.Fatalf("name changed by a refused update: %v", body)
	}
}

// Issue 18 item 7: ids derived from names. Distinct names never collide,
// even created at the same moment (Korean names used to become
// camera-HHMMSS and conflict); readable names keep readable ids.
func TestCameraIDsFromNames(t *testing.T) {
	e := newEnv(t, envOptions{})
	names := []string{"로비", "주차장", "정문 카메라", "Lobby", "lobby", "LOBBY!"}
	ids := make([]string, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := e.json(http.MethodPost, "/api/cameras", map[string]any{"name": name})
			if status != http.StatusCreated {
				t.Errorf("create %q: %d %v", name, status, body)
				return
			}
			ids[i], _ = body["id"].(string)
		}()
	}
	wg.Wait()
	seen := map[string]string{}
	for i, id := range ids {
		if other, dup := seen[id]; dup {
			t.Fatalf("%q and %q share id %q", other, names[i], id)
		}
		seen[id] = names[i]
	}
	if _, ok := seen["lobby"]; !ok {
		t.Fatalf("no readable id for Lobby: %v", ids)
	}
	if status, _ := e.json(http.MethodPost, "/api/cameras", map[string]any{"name": "Front Door"}); status != http.StatusCreated {
		t.Fatal("create Front Door")
	}
	if status, _ := e.json(http.MethodGet, "/api/cameras/front-door", nil); status != http.StatusOK {
		t.Fatal("Front Door is not front-door")
	}
	// The same Korean name again is the same camera's id: a conflict.
	if status, body := e.json(http.MethodPost, "/api/cameras", map[string]any{"name": "로비"}); status != http.StatusConflict {
		t.Fatalf("same name again: %d %v", status, body)
	}
	for _, name := range []string{strings.Repeat("a", 100), strings.Repeat("가", 100), "-- x --"} {
		for _, id := range idsFromName(name) {
			if len(id) > 64 || strings.HasPrefix(id, "-") || strings.HasSuffix(id, "-") {
				t.Fatalf("idsFromName(%q) gave %q", name, id)
			}
		}
	}
}

// Issue 18 item 7: a JSON body over the limit is 413, not 400.
func TestJSONBodyTooLarge(t *testing.T) {
	e := newEnv(t, envOptions{})
	big := `{"name":"` + strings.Repeat("x", 2<<20) + `"}`
	for _, chunked := range []bool{false, true} {
		var body = bytes.NewReader([]byte(big))
		req, _ := http.NewRequest(http.MethodPost, e.url("/api/cameras"), body)
		req.Header.Set("Content-Type", "application/json")
		if chunked {
			req.ContentLength = -1 // no Content-Length: the limit is met while reading
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("chunked=%v: status %d", chunked, resp.StatusCode)
		}
	}
	if status, _ := e.json(http.MethodPost, "/api/cameras", map[string]any{"id": "ok", "name": strings.Repeat("x", 50)}); status != http.StatusCreated {
		t.Fatalf("small body: %d", status)
	}
}

// Issue 18 item 7: a snapshot of a camera with no frame to show answers at
// once with a code that says why (it used to wait 5 s for over_capacity).
func TestSnapshotWithoutFrame(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.json(http.MethodPost, "/api/cameras", map[string]any{"id": "empty", "name": "empty"})
	e.upload("/api/cameras/stopped/video", "a.avi", synthVideo(1, 300))
	e.json(http.MethodPost, "/api/cameras/stopped/stop", nil)
	e.hub.Reset("stopped") // as after a server restart: no frame in memory
	for _, cam := range []string{"empty", "stopped"} {
		start := time.Now()
		status, body := e.json(http.MethodGet, "/api/cameras/"+cam+"/snapshot.jpg", nil)
		if took := time.Since(start); took > time.Second {
			t.Fatalf("%s: answered after %v", cam, took)
		}
		if status != http.StatusConflict || errCode(body) != "conflict" {
			t.Fatalf("%s: %d %v", cam, status, body)
		}
	}
}

// Issue 18 item 7: the upload limit is named as the operator wrote it.
func TestUploadLimitInOperatorsUnit(t *testing.T) {
	e := newEnvWith(t, envOptions{maxUpload: 5000}, func(c *Config) { c.MaxUploadText = "5KB" })
	status, body := e.upload("/api/cameras/c/video", "a.avi", bytes.Repeat([]byte(" "), 6000))
	msg, _ := body["error"].(map[string]any)["message"].(string)
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "5KB") {
		t.Fatalf("%d %q", status, msg)
	}
}

// Issue 18 item 3: the legacy stream route (an <img> on any site can load
// it) never starts a stopped camera. It shows a "stopped" picture and
// continues with the camera's frames when an operator starts it.
func TestLegacyStreamDoesNotStartCamera(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.upload("/api/cameras/old/video", "a.avi", synthVideo(4, 900))
	before := e.snapshotMarker(t, "old")
	e.json(http.MethodPost, "/api/cameras/old/stop", nil)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url("/api/live-monitoring/stream/old?loop=true&speed=1&t=0"), nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Sec-Fetch-Dest", "image")
	req.Header.Set("Referer", "http://evil.example/")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	mr := multipart.NewReader(resp.Body, params["boundary"])
	p, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(p)
	if p.Header.Get("X-Camera-State") != "stopped" || !bytes.HasPrefix(data, []byte{0xFF, 0xD8}) {
		t.Fatalf("first part: %v, %d bytes", p.Header, len(data))
	}
	if _, _, ok := synth.ReadMarker(data); ok {
		t.Fatal("the first part is a video frame, not the stopped picture")
	}
	// Still stopped a while later: the viewer started nothing.
	time.Sleep(300 * time.Millisecond)
	if _, cam := e.json(http.MethodGet, "/api/cameras/old", nil); cam["state"] != "stopped" {
		t.Fatalf("the legacy stream started the camera: %v", cam["state"])
	}
	// The operator starts it: the same stream continues with its frames,
	// same epoch, later seq.
	e.json(http.MethodPost, "/api/cameras/old/start", nil)
	p, err = mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	data, _ = io.ReadAll(p)
	v, _, ok := synth.ReadMarker(data)
	epoch, _ := strconv.ParseUint(p.Header.Get("X-Epoch"), 10, 64)
	seq, _ := strconv.ParseUint(p.Header.Get("X-Seq"), 10, 64)
	if !ok || v != 4 || epoch != before.epoch || seq <= before.seq {
		t.Fatalf("after start: video %d epoch %d seq %d; before %+v", v, epoch, seq, before)
	}
}
