package store

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func FuzzSanitizeName(f *testing.F) {
	for _, s := range []string{"clip.mp4", "../../x", `a\..\b`, "..", "\x00", "a\u202eb", "..."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := SanitizeName(in)
		if out == "" || !utf8.ValidString(out) {
			t.Fatalf("SanitizeName(%q) = %q: empty or invalid UTF-8", in, out)
		}
		if strings.ContainsAny(out, `/\`) || strings.Contains(out, "..") {
			t.Fatalf("SanitizeName(%q) = %q: separator or ..", in, out)
		}
		if n := utf8.RuneCountInString(out); n > MaxNameRunes {
			t.Fatalf("SanitizeName(%q) has %d runes", in, n)
		}
		for _, r := range out {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("SanitizeName(%q) = %q: control character %U", in, out, r)
			}
		}
		if again := SanitizeName(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
	})
}
