package httpapi

// The web app's side of the API contract, read from its TypeScript sources:
// the camera JSON shape (webapp/src/types/api.ts) against what the real
// handlers send, and the error codes (webapp/src/api/client.ts, the i18n
// error.* keys) against media.Kinds(). A drift on either side fails here.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// webappSrc is webapp/src from this package's directory.
var webappSrc = filepath.Join("..", "..", "..", "webapp", "src")

func readWebapp(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(webappSrc, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatalf("read the web app's %s: %v", rel, err)
	}
	return string(b)
}

// tsField is one field of a TypeScript interface.
type tsField struct {
	optional bool
	nullable bool
	// ref is the interface the value (or each array element) has, if any.
	ref string
}

type tsInterface struct {
	extends string
	fields  map[string]tsField
}

var (
	tsBlockComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
	tsLineComment  = regexp.MustCompile(`(?m)//.*$`)
	tsInterfaceRE  = regexp.MustCompile(`(?s)export interface (\w+)(?:\s+extends\s+(\w+))?\s*\{(.*?)\n\}`)
	tsFieldRE      = regexp.MustCompile(`^(\w+)(\?)?:\s*(.+)$`)
)

// parseInterfaces reads the exported interfaces of a TypeScript file kept
// simple on purpose: one "name: type" per line, no inline object types.
func parseInterfaces(t *testing.T, src string) map[string]tsInterface {
	t.Helper()
	src = tsBlockComment.ReplaceAllString(src, "")
	src = tsLineComment.ReplaceAllString(src, "")
	out := make(map[string]tsInterface)
	for _, m := range tsInterfaceRE.FindAllStringSubmatch(src, -1) {
		iface := tsInterface{extends: m[2], fields: make(map[string]tsField)}
		for _, line := range strings.Split(m[3], "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			f := tsFieldRE.FindStringSubmatch(line)
			if f == nil || strings.ContainsAny(f[3], "{}") {
				t.Fatalf("types/api.ts: interface %s: cannot read %q (one `name: type` per line, no inline object types)", m[1], line)
			}
			var field tsField
			field.optional = f[2] == "?"
			for _, alt := range strings.Split(f[3], "|") {
				alt = strings.TrimSpace(alt)
				if alt == "null" {
					field.nullable = true
					continue
				}
				field.ref = strings.TrimSuffix(alt, "[]")
			}
			iface.fields[f[1]] = field
		}
		out[m[1]] = iface
	}
	return out
}

// shapeChecker compares decoded JSON values with the parsed interfaces.
type shapeChecker struct {
	t       *testing.T
	ifaces  map[string]tsInterface
	checked map[string]bool // interfaces met with a non-null object
}

func (c *shapeChecker) fields(name string) map[string]tsField {
	c.t.Helper()
	out := make(map[string]tsField)
	for name != "" {
		iface, ok := c.ifaces[name]
		if !ok {
			c.t.Fatalf("types/api.ts has no interface %s", name)
		}
		for k, f := range iface.fields {
			if _, seen := out[k]; !seen {
				out[k] = f
			}
		}
		name = iface.extends
	}
	return out
}

// check compares the object v (at path, for messages) with interface name.
func (c *shapeChecker) check(name string, v any, path string) {
	c.t.Helper()
	obj, ok := v.(map[string]any)
	if !ok {
		c.t.Errorf("%s: the server sent %T, types/api.ts says %s (an object)", path, v, name)
		return
	}
	c.checked[name] = true
	fields := c.fields(name)
	for _, k := range sortedKeys(obj) {
		if _, ok := fields[k]; !ok {
			c.t.Errorf("%s: the server sends %q, which %s in webapp/src/types/api.ts lacks", path, k, name)
		}
	}
	for _, k := range sortedKeys(fields) {
		f := fields[k]
		val, present := obj[k]
		switch {
		case !present:
			if !f.optional {
				c.t.Errorf("%s: %s.%s is in webapp/src/types/api.ts but not in the server's JSON", path, name, k)
			}
		case val == nil:
			if !f.nullable {
				c.t.Errorf("%s.%s: the server sends null; types/api.ts should say `| null`", path, k)
			}
		case c.ifaces[f.ref].fields != nil:
			if arr, isArr := val.([]any); isArr {
				for i, el := range arr {
					c.check(f.ref, el, fmt.Sprintf("%s.%s[%d]", path, k, i))
				}
			} else {
				c.check(f.ref, val, path+"."+k)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestContractCameraJSONMatchesWebappTypes(t *testing.T) {
	c := &shapeChecker{t: t, ifaces: parseInterfaces(t, readWebapp(t, "types/api.ts")), checked: map[string]bool{}}
	e := newEnv(t, envOptions{})

	status, created := e.json(http.MethodPost, "/api/cameras", map[string]any{"id": "front", "name": "Front"})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, created)
	}
	c.check("Camera", created, "POST /api/cameras")
	if status, _ := e.json(http.MethodPost, "/api/cameras", map[string]any{"id": "empty", "name": "No video"}); status != http.StatusCreated {
		t.Fatalf("create empty: %d", status)
	}
	status, up := e.upload("/api/cameras/front/video", "clip.mp4", synthVideo(1, 300))
	if status != http.StatusCreated && status != http.StatusOK {
		t.Fatalf("upload: %d %v", status, up)
	}
	c.check("UploadResult", up, "POST /api/cameras/front/video")

	waitFor(t, "front running", 5*time.Second, func() bool {
		_, cam := e.json(http.MethodGet, "/api/cameras/front", nil)
		return cam["state"] == "running"
	})

	_, list := e.json(http.MethodGet, "/api/cameras", nil)
	c.check("CameraList", list, "GET /api/cameras")
	_, one := e.json(http.MethodGet, "/api/cameras/front", nil)
	c.check("Camera", one, "GET /api/cameras/front")
	_, stats := e.json(http.MethodGet, "/api/stats", nil)
	c.check("Stats", stats, "GET /api/stats")

	for _, name := range []string{"Camera", "CameraList", "VideoDescription", "UploadResult", "Probe", "Stats", "ServerStats", "CameraStatsEntry"} {
		if !c.checked[name] {
			t.Errorf("no JSON object was compared with %s: the test no longer reaches it", name)
		}
	}
}

var tsQuoted = regexp.MustCompile(`'([a-z_]+)'`)

// tsConstList reads `export const NAME = [ 'a', 'b', ... ] as const`.
func tsConstList(t *testing.T, src, name string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?s)export const ` + name + ` = \[(.*?)\] as const`).FindStringSubmatch(src)
	if m == nil {
		t.Fatalf("api/client.ts: no `export const %s = [...] as const`", name)
	}
	body := tsLineComment.ReplaceAllString(m[1], "")
	var out []string
	for _, q := range tsQuoted.FindAllStringSubmatch(body, -1) {
		out = append(out, q[1])
	}
	return out
}

var tsErrorKey = regexp.MustCompile(`(?m)^\s*'error\.(\w+)':`)

func TestContractErrorCodesMatchWebapp(t *testing.T) {
	var server []string
	for _, k := range media.Kinds() {
		server = append(server, k.Code())
	}
	client := readWebapp(t, "api/client.ts")
	webServer := tsConstList(t, client, "SERVER_ERROR_CODES")
	if !slices.Equal(webServer, server) {
		t.Errorf("webapp/src/api/client.ts SERVER_ERROR_CODES must be media.Kinds() codes in order:\n got  %v\n want %v", webServer, server)
	}
	webClient := tsConstList(t, client, "CLIENT_ERROR_CODES")
	for _, code := range webClient {
		if slices.Contains(server, code) {
			t.Errorf("CLIENT_ERROR_CODES has %q, which is a server code", code)
		}
	}

	want := append(append(append([]string(nil), server...), webClient...), "unknown")
	sort.Strings(want)
	for _, file := range []string{"lib/i18n/en.ts", "lib/i18n/ko.ts"} {
		var keys []string
		for _, m := range tsErrorKey.FindAllStringSubmatch(readWebapp(t, file), -1) {
			keys = append(keys, m[1])
		}
		sort.Strings(keys)
		if !slices.Equal(keys, want) {
			t.Errorf("webapp/src/%s error.* keys must be the server codes, the client codes and \"unknown\":\n got  %v\n want %v", file, keys, want)
		}
	}
}
