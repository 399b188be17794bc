package httpapi

import (
	"io/fs"
	"net/http"
	"path"
	"strings"
)

const webUIMissing = `<!doctype html><meta charset="utf-8"><title>livemon</title>
<p>The web app is not built into this binary. Run <code>make build</code> (or <code>make run</code>).</p>
<p>The API is up: <a href="/api/cameras">/api/cameras</a>, and the demo camera streams at <a href="/api/cameras/demo/mjpeg">/api/cameras/demo/mjpeg</a>.</p>`

// handleWebUI serves the embedded web app. Paths that are not files fall
// back to index.html, so client-side routes survive a reload.
func (s *Server) handleWebUI() http.Handler {
	ui := s.deps.WebUI
	if ui == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(webUIMissing))
		})
	}
	files := http.FileServerFS(ui)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name != "" {
			if st, err := fs.Stat(ui, name); err == nil && !st.IsDir() {
				if strings.HasPrefix(name, "assets/") {
					w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
				}
				files.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, ui, "index.html")
	})
}
