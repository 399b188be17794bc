package media

import (
	"net/url"
	"strings"
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
)

// MaxSourceURL is the longest accepted source URL, in bytes.
const MaxSourceURL = 2048

// redactedPassword replaces a URL's password wherever the URL is shown.
const redactedPassword = "xxxxx"

// ParseSourceURL validates a live source URL: at most MaxSourceURL bytes,
// scheme http or https, a host, no fragment. rtsp and rtsps are refused as
// not supported yet. Error messages never repeat the URL (it may carry a
// password).
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
	case "http", "https":
	case "rtsp", "rtsps":
		return nil, Errorf(KindInvalid, "RTSP sources are not supported yet: use an http(s) MJPEG or JPEG snapshot URL")
	case "":
		return nil, Errorf(KindInvalid, "source url needs a scheme: http:// or https://")
	default:
		return nil, Errorf(KindInvalid, "source url scheme %q is not accepted: use http:// or https://", sanitizeScheme(u.Scheme))
	}
	if u.Hostname() == "" {
		return nil, Errorf(KindInvalid, "source url has no host")
	}
	if u.Fragment != "" || u.Opaque != "" {
		return nil, Errorf(KindInvalid, "source url must not have a fragment or an opaque part")
	}
	return u, nil
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
