package media

import (
	"net/url"
	"strings"
	"time"
)

// SourceKind is what feeds a camera: an uploaded file or a live URL.
type SourceKind string

const (
	SourceFile SourceKind = "file" // an uploaded video
	// SourceHTTP is an http(s) URL whose kind is not known yet: the
	// camera has not answered since it was set.
	SourceHTTP     SourceKind = "http"
	SourceMJPEG    SourceKind = "mjpeg"    // multipart/x-mixed-replace stream of JPEGs
	SourceSnapshot SourceKind = "snapshot" // one JPEG per request, polled
	SourceRTSP     SourceKind = "rtsp"     // rtsp:// or rtsps://, H.264 or H.265, decoded in a child
)

// RTSPTransport is how an RTSP source carries its packets.
type RTSPTransport string

const (
	// RTSPTCP interleaves RTP in the RTSP connection: the default, as it
	// passes firewalls and NAT and never loses a packet.
	RTSPTCP RTSPTransport = "tcp"
	// RTSPUDP sends RTP over UDP: less latency on a clean LAN, but a lost
	// packet spoils a picture until the next keyframe.
	RTSPUDP RTSPTransport = "udp"
)

// ParseRTSPTransport validates a source's transport for its URL: "" (tcp
// for RTSP), "tcp" or "udp", and only for rtsp(s) URLs.
func ParseRTSPTransport(u *url.URL, s string) (RTSPTransport, error) {
	rtsp := IsRTSP(u)
	switch t := RTSPTransport(s); {
	case t == "" && rtsp:
		return RTSPTCP, nil
	case t == "":
		return "", nil
	case t != RTSPTCP && t != RTSPUDP:
		return "", Errorf(KindInvalid, "source transport must be tcp or udp")
	case !rtsp:
		return "", Errorf(KindInvalid, "source transport applies to rtsp:// and rtsps:// sources only")
	default:
		return t, nil
	}
}

// InitialKind is the kind of a live source URL before its camera first
// answers: SourceRTSP for rtsp(s), SourceHTTP (not known yet) for http(s).
func InitialKind(rawURL string) SourceKind {
	if u, err := url.Parse(rawURL); err == nil && IsRTSP(u) {
		return SourceRTSP
	}
	return SourceHTTP
}

// IsRTSP reports whether u is an rtsp:// or rtsps:// URL.
func IsRTSP(u *url.URL) bool {
	s := strings.ToLower(u.Scheme)
	return s == "rtsp" || s == "rtsps"
}

// StreamSpec is what a decode child needs to open a live stream: the URL
// (with its credentials: this is the one place outside the store they go)
// and how to read it.
type StreamSpec struct {
	URL       string        `json:"url"`
	Transport RTSPTransport `json:"transport,omitempty"`
	// Timeout bounds the connect and every read: a stream that sends
	// nothing for this long fails.
	Timeout time.Duration `json:"timeout"`
}

// MaxSourceURL is the longest accepted source URL, in bytes.
const MaxSourceURL = 2048

// redactedPassword replaces a URL's password wherever the URL is shown.
const redactedPassword = "xxxxx"

// ParseSourceURL validates a live source URL: at most MaxSourceURL bytes,
// scheme http, https, rtsp or rtsps, a host, no fragment. Error messages
// never repeat the URL (it may carry a password).
func ParseSourceURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, Errorf(KindInvalid, "source url is empty")
	}
	if len(raw) > MaxSourceURL {
		return nil, Errorf(KindInvalid, "source url is longer than %d bytes", MaxSourceURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, Errorf(KindInvalid, "source url is not a valid URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "rtsp", "rtsps":
	case "":
		return nil, Errorf(KindInvalid, "source url needs a scheme: rtsp://, rtsps://, http:// or https://")
	default:
		return nil, Errorf(KindInvalid, "source url scheme %q is not accepted: use rtsp://, rtsps://, http:// or https://", sanitizeScheme(u.Scheme))
	}
	if u.Hostname() == "" {
		return nil, Errorf(KindInvalid, "source url has no host")
	}
	if u.Fragment != "" || u.Opaque != "" {
		return nil, Errorf(KindInvalid, "source url must not have a fragment or an opaque part")
	}
	return u, nil
}

// URLSecrets lists what of raw must never be shown: its password, as
// written and percent-decoded, and the values of its secret-named query
// parameters (see RedactURL). Strings of fewer than 3 bytes are left out:
// hiding them would mangle logs without protecting anything.
func URLSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	var out []string
	add := func(s string) {
		if len(s) >= 3 {
			out = append(out, s)
		}
	}
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			add(pw)
			add(url.PathEscape(pw))
			add(url.QueryEscape(pw))
		}
	}
	if q, err := url.ParseQuery(u.RawQuery); err == nil {
		for k, vs := range q {
			if secretParams[strings.ToLower(k)] {
				for _, v := range vs {
					add(v)
					add(url.QueryEscape(v))
				}
			}
		}
	}
	return out
}

func sanitizeScheme(s string) string {
	if len(s) > 16 {
		s = s[:16]
	}
	return s
}

// secretParams are query parameters cameras take credentials in
// (snapshot.cgi?user=admin&pwd=...); RedactURL hides their values too.
var secretParams = map[string]bool{
	"pwd": true, "pass": true, "passwd": true, "password": true, "token": true,
	"key": true, "auth": true, "secret": true, "apikey": true, "api_key": true,
}

// RedactURL returns raw with its password replaced by xxxxx
// (http://user:xxxxx@host/path), and the values of query parameters named
// like secrets (pwd, password, token, key...) too, for every place a
// source URL is shown: responses, logs, errors. A URL that does not parse
// is shown as "" so nothing of it leaks.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redactedPassword)
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = redactedPassword
		} else {
			changed := false
			for k, vs := range q {
				if secretParams[strings.ToLower(k)] {
					for i := range vs {
						vs[i] = redactedPassword
					}
					changed = true
				}
			}
			if changed {
				u.RawQuery = q.Encode()
			}
		}
	}
	return u.String()
}
