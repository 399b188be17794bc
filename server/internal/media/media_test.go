package media

import (
	"errors"
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
