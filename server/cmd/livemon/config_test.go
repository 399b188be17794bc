package main

import (
	"io"
	"testing"
)

// Issue 18 item 7: --max-upload 5MB is reported as 5MB, not 4.8 MiB.
func TestMaxUploadText(t *testing.T) {
	for _, tt := range []struct{ flag, text string }{
		{"5MB", "5MB"}, {" 2GiB ", "2GiB"}, {"1048576", "1048576 bytes"},
	} {
		c, err := parseConfig([]string{"--max-upload", tt.flag}, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if c.MaxUploadText != tt.text {
			t.Fatalf("--max-upload %q: text %q, want %q", tt.flag, c.MaxUploadText, tt.text)
		}
	}
}
