package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// tokenCookie holds the access token for browsers, set by POST /api/login.
const tokenCookie = "livemon_token"

// Token guessing is limited per client address (IPv6: per /64, what one
// host usually gets): after maxFailures wrong tokens within failureWindow,
// every request from that address that carries a token is answered 429
// with Retry-After until the window ends, without looking at the token,
// so the answer says nothing about it. Requests without a token are not
// guesses: they get 401 and count nothing. Only distinct wrong tokens
// count: a browser that keeps sending a stale cookie (the token changed)
// makes one guess, not one per request, so it does not lock its user out
// of signing in again. Nothing is ever delayed.
const (
	maxFailures   = 10
	failureWindow = time.Minute
	// maxTracked bounds the table of addresses; when it is full of live
	// entries an arbitrary one is dropped.
	maxTracked = 10000
)

// auth checks the access token when one is configured.
type auth struct {
	token []byte
	now   func() time.Time

	mu       sync.Mutex
	failures map[netip.Prefix]*failures
}

// failures holds the distinct wrong tokens (as hashes) one address sent
// since start.
type failures struct {
	start time.Time
	count int
	seen  [maxFailures]uint64
}

// add counts the token with hash h unless it was seen already.
func (f *failures) add(h uint64) {
	if f.count >= maxFailures || slices.Contains(f.seen[:f.count], h) {
		return
	}
	f.seen[f.count] = h
	f.count++
}

// tokenHash identifies a wrong token without keeping it.
func tokenHash(tok string) uint64 {
	sum := sha256.Sum256([]byte(tok))
	return binary.BigEndian.Uint64(sum[:8])
}

func newAuth(token string) *auth {
	return &auth{token: []byte(token), now: time.Now, failures: make(map[netip.Prefix]*failures)}
}

// open reports whether requests need no token at all.
func (a *auth) open() bool { return len(a.token) == 0 }

// public lists paths served without a token: liveness and readiness
// probes, the sign-in routes and the web app's static shell (which asks
// for the token itself).
func public(r *http.Request) bool {
	p := r.URL.Path
	switch {
	case p == "/healthz", p == "/readyz", p == "/api/login", p == "/api/auth":
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

// clientKey is the unit of the failure limit: the address for IPv4, its
// /64 for IPv6.
func clientKey(r *http.Request) netip.Prefix {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Prefix{}
	}
	ip := ap.Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// check reports whether tok is the token. retry > 0 means the client is
// over its failure limit and must wait that long; the token was not looked
// at. An empty token is simply not valid and counts nothing. The limit
// check, the comparison and the count are one step under a.mu, so
// parallel guesses cannot slip past the limit between them.
func (a *auth) check(key netip.Prefix, tok string) (ok bool, retry time.Duration) {
	if tok == "" {
		return false, 0
	}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if retry := a.limitedLocked(key, now); retry > 0 {
		return false, retry
	}
	if subtle.ConstantTimeCompare([]byte(tok), a.token) == 1 {
		return true, 0
	}
	a.failLocked(key, tokenHash(tok), now)
	return false, 0
}

// limitedLocked is how long key must wait; a.mu is held.
func (a *auth) limitedLocked(key netip.Prefix, now time.Time) time.Duration {
	f := a.failures[key]
	if f == nil {
		return 0
	}
	if left := f.start.Add(failureWindow).Sub(now); left > 0 {
		if f.count >= maxFailures {
			return left
		}
		return 0
	}
	delete(a.failures, key)
	return 0
}

// failLocked counts a wrong token of hash h for key; a.mu is held.
func (a *auth) failLocked(key netip.Prefix, h uint64, now time.Time) {
	f := a.failures[key]
	if f == nil || now.Sub(f.start) >= failureWindow {
		if f == nil && len(a.failures) >= maxTracked {
			a.prune(now)
		}
		f = &failures{start: now}
		a.failures[key] = f
	}
	f.add(h)
}

// prune drops expired entries, or one live entry if none has expired.
func (a *auth) prune(now time.Time) {
	for k, v := range a.failures {
		if now.Sub(v.start) >= failureWindow {
			delete(a.failures, k)
		}
	}
	if len(a.failures) < maxTracked {
		return
	}
	for k := range a.failures {
		delete(a.failures, k)
		return
	}
}

func (a *auth) succeed(key netip.Prefix) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.failures, key)
}

// requireToken rejects requests without the token with 401, and clients
// over the failure limit with 429.
func (s *Server) requireToken(next http.Handler) http.Handler {
	a := s.auth
	if a.open() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if public(r) {
			next.ServeHTTP(w, r)
			return
		}
		ok, retry := a.check(clientKey(r), presented(r))
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		s.rejectToken(w, r, retry)
	})
}

// rejectToken answers 401, or 429 with Retry-After when retry > 0.
func (s *Server) rejectToken(w http.ResponseWriter, r *http.Request, retry time.Duration) {
	if retry > 0 {
		secs := int((retry + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, r, s.log, media.Errorf(media.KindRateLimited,
			"too many wrong tokens from this address; try again in %d s", secs))
		return
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
		key := clientKey(r)
		if ok, retry := s.auth.check(key, req.Token); !ok {
			s.rejectToken(w, r, retry)
			return
		}
		s.auth.succeed(key)
		http.SetCookie(w, &http.Cookie{
			Name: tokenCookie, Value: req.Token, Path: "/", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 30 * 24 * 3600,
		})
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true, "required": true})
	})
}

// handleAuthStatus tells the web app whether it must ask for a token and
// whether this request carries a valid one. It is public and never
// limited or delayed; a wrong token still counts as a failure (else it
// would be a free oracle), and a client over the limit is told
// "not authenticated" without its token being looked at.
func (s *Server) handleAuthStatus() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		required := !s.auth.open()
		authenticated := !required
		if required {
			authenticated, _ = s.auth.check(clientKey(r), presented(r))
		}
		writeJSON(w, http.StatusOK, map[string]bool{"required": required, "authenticated": authenticated})
	})
}
