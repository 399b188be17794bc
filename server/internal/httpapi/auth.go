package httpapi

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// tokenCookie holds the access token for browsers, set by POST /api/login.
const tokenCookie = "livemon_token"

// Failed-attempt throttling: after freeFailures failures from one address
// within failureWindow, each further failure is answered only after a pause
// that grows by a second per failure up to maxPause.
const (
	freeFailures  = 5
	failureWindow = time.Minute
	maxPause      = 5 * time.Second
	maxTracked    = 10000
)

// auth checks the access token when one is configured.
type auth struct {
	token []byte

	mu       sync.Mutex
	failures map[string]*failure
}

type failure struct {
	count int
	last  time.Time
}

func newAuth(token string) *auth {
	return &auth{token: []byte(token), failures: make(map[string]*failure)}
}

// open reports whether requests need no token at all.
func (a *auth) open() bool { return len(a.token) == 0 }

// public lists paths served without a token: liveness and readiness
// probes, the login route and the web app's static shell (which asks for
// the token itself).
func public(r *http.Request) bool {
	p := r.URL.Path
	switch {
	case p == "/healthz", p == "/readyz", p == "/api/login":
		return true
	case strings.HasPrefix(p, "/api/"), p == "/metrics":
		return false
	}
	return true // web app files
}

// presented returns the token a request carries: Authorization: Bearer,
// the HttpOnly cookie, or a token query parameter (for <img> tags).
func presented(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	if c, err := r.Cookie(tokenCookie); err == nil {
		return c.Value
	}
	return r.URL.Query().Get("token")
}

func (a *auth) valid(tok string) bool {
	return subtle.ConstantTimeCompare([]byte(tok), a.token) == 1
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// fail records a failed attempt and returns how long to pause.
func (a *auth) fail(host string, now time.Time) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.failures[host]
	if f == nil || now.Sub(f.last) > failureWindow {
		if len(a.failures) >= maxTracked {
			for k, v := range a.failures {
				if now.Sub(v.last) > failureWindow {
					delete(a.failures, k)
				}
			}
		}
		f = &failure{}
		a.failures[host] = f
	}
	f.count++
	f.last = now
	if f.count <= freeFailures {
		return 0
	}
	return min(time.Duration(f.count-freeFailures)*time.Second, maxPause)
}

func (a *auth) succeed(host string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.failures, host)
}

// middleware rejects requests without the token with 401.
func (s *Server) requireToken(next http.Handler) http.Handler {
	a := s.auth
	if a.open() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if public(r) || a.valid(presented(r)) {
			next.ServeHTTP(w, r)
			return
		}
		s.rejectToken(w, r)
	})
}

func (s *Server) rejectToken(w http.ResponseWriter, r *http.Request) {
	if pause := s.auth.fail(remoteHost(r), time.Now()); pause > 0 {
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
		t.Stop()
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="livemon"`)
	writeError(w, r, s.log, media.Errorf(media.KindUnauthorized, "a valid access token is required"))
}

type loginRequest struct {
	Token string `json:"token"`
}

// handleLogin checks a token and stores it in an HttpOnly cookie.
func (s *Server) handleLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req loginRequest
		if err := decodeJSON(r, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if s.auth.open() {
			writeJSON(w, http.StatusOK, map[string]bool{"ok": true, "required": false})
			return
		}
		if !s.auth.valid(req.Token) {
			s.rejectToken(w, r)
			return
		}
		s.auth.succeed(remoteHost(r))
		http.SetCookie(w, &http.Cookie{
			Name: tokenCookie, Value: req.Token, Path: "/", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 30 * 24 * 3600,
		})
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true, "required": true})
	})
}

// handleAuthStatus tells the web app whether it must ask for a token.
func (s *Server) handleAuthStatus() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		required := !s.auth.open()
		writeJSON(w, http.StatusOK, map[string]bool{"required": required, "authenticated": !required || s.auth.valid(presented(r))})
	})
}
