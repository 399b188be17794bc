package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/livemon/livemon/server/internal/media"
)

// The guards in this file run in front of the router, for every route:
// security headers on every response, the Host check (DNS rebinding), the
// Origin check for writes (WebSocket upgrades use the same check in
// ws.go), then the token (auth.go).

// contentSecurityPolicy is sent with every response. The built web app
// loads only its own scripts and styles (Vite emits no inline script or
// style element; React sets style properties through the CSSOM, which CSP
// does not restrict), draws frames from blob data, and talks to its own
// origin over fetch and WebSocket ('self' covers ws: and wss: on the same
// host in CSP 3). frame-ancestors 'none' (with X-Frame-Options for older
// browsers) keeps other sites from framing the app.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// contentSecurityPolicy is the CSP of a response: on a cluster edge the
// page may also connect (fetch and WebSocket) to the edges live now, so it
// can fail over to them; a page keeps the CSP it was loaded with, so an
// edge that joined later is reachable after a reload.
func (s *Server) contentSecurityPolicy() string {
	if s.deps.Edges == nil {
		return contentSecurityPolicy
	}
	var b strings.Builder
	b.WriteString(contentSecurityPolicy)
	b.WriteString("; connect-src 'self'")
	for _, e := range s.deps.Edges.List() {
		b.WriteString(" " + e)
		// A host source with scheme http matches http(s) only: name the
		// WebSocket scheme too.
		if ws, ok := strings.CutPrefix(e, "http"); ok {
			b.WriteString(" ws" + ws)
		}
	}
	return b.String()
}

// securityHeaders sets the headers every response carries.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", s.contentSecurityPolicy())
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// hostPolicy decides which Host headers the server answers. A DNS
// rebinding attack needs a name the attacker controls that resolves to
// this server; an IP literal is not one (the browser connects to exactly
// that address, so a page with that origin came from this server), so
// every IP literal is accepted and names only when known: localhost, the
// listen address's name and --allowed-hosts.
type hostPolicy struct {
	any      bool                // "*": no check
	names    map[string]struct{} // exact names, lower case, no trailing dot
	suffixes []string            // ".example.com": that domain and its subdomains
}

func newHostPolicy(allowed []string) hostPolicy {
	p := hostPolicy{names: map[string]struct{}{"localhost": {}}}
	for _, h := range allowed {
		h = normalizeHostName(h)
		switch {
		case h == "":
		case h == "*":
			p.any = true
		case strings.HasPrefix(h, "."):
			p.suffixes = append(p.suffixes, h)
		default:
			p.names[h] = struct{}{}
		}
	}
	return p
}

// normalizeHostName lower-cases a host name and drops a port, IPv6
// brackets and a trailing dot.
func normalizeHostName(host string) string {
	host = strings.TrimSpace(host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimPrefix(strings.TrimSuffix(host, "]"), "[")
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// allows reports whether the Host header host (name or address, with or
// without port) is one this server answers to. An empty Host (HTTP/1.0,
// not a browser) is allowed.
func (p hostPolicy) allows(host string) bool {
	name := normalizeHostName(host)
	if name == "" || p.any {
		return true
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return true
	}
	if _, ok := p.names[name]; ok {
		return true
	}
	for _, s := range p.suffixes {
		if name == s[1:] || strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// checkHost answers requests for unknown host names with 421 before any
// handler sees them.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.hosts.allows(r.Host) {
			next.ServeHTTP(w, r)
			return
		}
		name := normalizeHostName(r.Host)
		if len(name) > 100 {
			name = name[:100] + "…"
		}
		writeError(w, r, s.log, media.Errorf(media.KindHostNotAllowed,
			"this server does not answer to the name %q; if the name is yours, start livemon with --allowed-hosts %s (or LIVEMON_ALLOWED_HOSTS)", name, name))
	})
}

// originPolicy holds --allowed-origins, normalised to scheme://host[:port].
type originPolicy map[string]struct{}

func newOriginPolicy(allowed []string, warn func(origin string, err error)) originPolicy {
	p := originPolicy{}
	for _, o := range allowed {
		n, err := normalizeOrigin(o)
		if err != nil {
			warn(o, err)
			continue
		}
		p[n] = struct{}{}
	}
	return p
}

type originError string

func (e originError) Error() string { return string(e) }

// normalizeOrigin returns origin as lower-case scheme://host[:port].
func normalizeOrigin(origin string) (string, error) {
	u, err := url.Parse(strings.TrimSuffix(strings.TrimSpace(origin), "/"))
	if err != nil {
		return "", err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return "", originError("an origin is http(s)://host[:port] with nothing after it")
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// originAllowed decides whether a browser request may write or open a
// WebSocket. Browsers that send Sec-Fetch-Site say themselves whether the
// request comes from this origin; otherwise the Origin header must be
// this server's own scheme and host, or listed in --allowed-origins.
// Requests with neither header do not come from a web page.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
		if origin == "" {
			return true
		}
		if n, err := normalizeOrigin(origin); err == nil && n == strings.ToLower(requestScheme(r)+"://"+r.Host) {
			return true
		}
	}
	n, err := normalizeOrigin(origin)
	if err != nil {
		return false
	}
	if _, ok := s.origins[n]; ok {
		return true
	}
	// A cluster edge takes pages of the other live edges (failover).
	return s.deps.Edges != nil && s.deps.Edges.Allows(n)
}

func requestScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// safeMethod reports methods that change nothing (no origin check).
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkOrigin rejects cross-site writes (POST, PATCH, DELETE from another
// origin) with 403; the WebSocket upgrade, a GET, is checked in ws.go.
func (s *Server) checkOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if safeMethod(r.Method) || s.originAllowed(r) {
			next.ServeHTTP(w, r)
			return
		}
		writeError(w, r, s.log, media.Errorf(media.KindForbidden, "cross-origin request rejected"))
	})
}
