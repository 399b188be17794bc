package session

import (
	"testing"
)

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"", "0123456789abcdef0123456789abcdef", "0123456789ABCDEF0123456789ABCDEF"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		valid := len(s) == 32
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				valid = false
			}
		}
		if valid != (err == nil) {
			t.Fatalf("ParseID(%q) err = %v, valid = %v", s, err, valid)
		}
		if err == nil && string(id) != s {
			t.Fatalf("ParseID(%q) = %q", s, id)
		}
		if err != nil && id != "" {
			t.Fatalf("ParseID(%q) returned %q with an error", s, id)
		}
	})
}
