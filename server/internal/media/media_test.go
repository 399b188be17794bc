package media

import (
	"errors"
	"math"
	"net/url"
	"strings"
	"testing"
)

func TestParseCameraID(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"demo", true},
		{"cam_1-A", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"../x", false},
		{"a/b", false},
		{"a b", false},
		{"%2e%2e", false},
		{`a\b`, false},
		{"ä", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			id, err := ParseCameraID(tt.in)
			if tt.ok != (err == nil) {
				t.Fatalf("ParseCameraID(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if err != nil {
				var me *Error
				if !errors.As(err, &me) || me.Kind != KindInvalid {
					t.Fatalf("want KindInvalid error, got %#v", err)
				}
			} else if string(id) != tt.in {
				t.Fatalf("id = %q", id)
			}
		})
	}
}

func FuzzParseCameraID(f *testing.F) {
	for _, s := range []string{"demo", "../x", "", "a_b-c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseCameraID(s)
		if err != nil {
			return
		}
		if len(id) == 0 || len(id) > 64 || strings.ContainsAny(string(id), "/\\. %") {
			t.Fatalf("accepted unsafe id %q", id)
		}
	})
}

func TestPlaybackFPS(t *testing.T) {
	for in, want := range map[float64]float64{0: FallbackFPS, -3: FallbackFPS, math.NaN(): FallbackFPS, 30: 30, MaxFileFPS: MaxFileFPS, MaxFileFPS + 1: FallbackFPS, 12.5: 12.5} {
		if got := PlaybackFPS(in); got != want {
			t.Errorf("PlaybackFPS(%v) = %v, want %v", in, got, want)
		}
	}
}

func TestJPEGQuality(t *testing.T) {
	for in, want := range map[int]int{-1: DefaultJPEGQuality, 0: DefaultJPEGQuality, 1: 1, 55: 55, MaxJPEGQuality: MaxJPEGQuality, 500: MaxJPEGQuality} {
		if got := JPEGQuality(in); got != want {
			t.Errorf("JPEGQuality(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestParseCameraName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Lobby", "Lobby", true},
		{"  로비 카메라 \n", "로비 카메라", true},
		{"👩‍👩‍👧 family", "👩‍👩‍👧 family", true}, // ZWJ is not bidi control
		{strings.Repeat("가", MaxNameRunes), strings.Repeat("가", MaxNameRunes), true},
		{strings.Repeat("가", MaxNameRunes+1), "", false},
		{"", "", false},
		{"   ", "", false},
		{"a\x00b", "", false},
		{"line\nbreak", "", false},
		{"tab\there", "", false},
		{"a\x7fb", "", false},
		{"esc\x1b[31m", "", false},
		{"gpj.\u202Eexe", "", false},  // right-to-left override
		{"a\u2066b\u2069", "", false}, // isolates
		{"a\u200Fb", "", false},       // right-to-left mark
		{"a\u061Cb", "", false},       // Arabic letter mark
		{"a\u2028b", "", false},       // line separator
		{"a\u0085b", "", false},       // next line (C1 control)
		{"bad \xff utf8", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCameraName(tt.in)
			if tt.ok != (err == nil) {
				t.Fatalf("ParseCameraName(%q) = %q, %v; want ok=%v", tt.in, got, err, tt.ok)
			}
			if err != nil && !IsKind(err, KindInvalid) {
				t.Fatalf("want KindInvalid, got %v", err)
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseSourceURL(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want string // substring of the error, "" for ok
	}{
		{"http://cam.local/mjpeg", ""},
		{"https://u:p@10.0.0.2:8443/snap.jpg", ""},
		{"rtsp://cam/stream", ""},
		{"RTSPS://admin:pw@cam:322/stream?channel=1", ""},
		{"rtsp://", "no host"},
		{"file:///etc/passwd", `"file" is not accepted`},
		{"ftp://x/y", "not accepted"},
		{"cam.local/mjpeg", "needs a scheme"},
		{"http:///path", "no host"},
		{"http://h/" + strings.Repeat("a", MaxSourceURL), "longer than"},
		{"", "empty"},
		{"http://h/%zz", "not a valid URL"},
	} {
		_, err := ParseSourceURL(tc.raw)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.raw, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !IsKind(err, KindInvalid) {
			t.Errorf("%q: got %v, want invalid with %q", tc.raw, err, tc.want)
		}
	}
}

func TestParseRTSPTransport(t *testing.T) {
	rtsp, _ := url.Parse("rtsp://cam/stream")
	web, _ := url.Parse("http://cam/mjpeg")
	for _, tc := range []struct {
		u    *url.URL
		in   string
		want RTSPTransport
		err  string
	}{
		{rtsp, "", RTSPTCP, ""},
		{rtsp, "udp", RTSPUDP, ""},
		{rtsp, "tcp", RTSPTCP, ""},
		{rtsp, "UDP", "", "tcp or udp"},
		{rtsp, "http", "", "tcp or udp"},
		{web, "", "", ""},
		{web, "udp", "", "rtsp:// and rtsps:// sources only"},
	} {
		got, err := ParseRTSPTransport(tc.u, tc.in)
		if tc.err == "" && (err != nil || got != tc.want) {
			t.Errorf("%s %q: got %q, %v; want %q", tc.u, tc.in, got, err, tc.want)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !IsKind(err, KindInvalid)) {
			t.Errorf("%s %q: got %v, want invalid with %q", tc.u, tc.in, err, tc.err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"http://user:s3cret@h:81/p?q=1": "http://user:xxxxx@h:81/p?q=1",
		"http://user@h/p":               "http://user@h/p",
		"https://h/p":                   "https://h/p",
		"":                              "",
		"http://u:s3cret@h/%zz":         "",
		"http://h/snap.cgi?user=admin&pwd=s3cret": "http://h/snap.cgi?pwd=xxxxx&user=admin",
		"http://h/a?Password=s3cret&x=1":          "http://h/a?Password=xxxxx&x=1",
		"http://h/a?x=%zz":                        "http://h/a?xxxxx",
	} {
		if got := RedactURL(raw); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}
