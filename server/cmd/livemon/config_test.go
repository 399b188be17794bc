package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/media"
)

func TestMaxCamerasFlag(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, tc := range []struct {
		name   string
		args   []string
		getenv func(string) string
		want   int
		bad    bool
	}{
		{name: "default", getenv: noEnv, want: camera.DefaultMaxCameras},
		{name: "flag", args: []string{"--max-cameras", "3"}, getenv: noEnv, want: 3},
		{name: "no cap", args: []string{"--max-cameras", "0"}, getenv: noEnv, want: 0},
		{name: "env", getenv: func(k string) string {
			if k == "LIVEMON_MAX_CAMERAS" {
				return "7"
			}
			return ""
		}, want: 7},
		{name: "negative", args: []string{"--max-cameras", "-1"}, getenv: noEnv, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig(tc.args, tc.getenv, io.Discard)
			if tc.bad {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.MaxCameras != tc.want {
				t.Fatalf("MaxCameras = %d, want %d", c.MaxCameras, tc.want)
			}
		})
	}
}

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

// Issue 18 item 4: the body and upload limits have defaults and flags.
func TestLimitFlags(t *testing.T) {
	c, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.BodyIdleTimeout != 30*time.Second || c.MaxUploads != 8 || c.MaxUploadsPerClient != 4 || c.MaxSubscriptions != 64 {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = parseConfig([]string{"--body-idle-timeout", "5s", "--max-uploads", "0"}, func(k string) string {
		return map[string]string{"LIVEMON_MAX_UPLOADS_PER_CLIENT": "1"}[k]
	}, io.Discard)
	if err != nil || c.BodyIdleTimeout != 5*time.Second || c.MaxUploads != 0 || c.MaxUploadsPerClient != 1 {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := parseConfig([]string{"--max-uploads", "-1"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Fatal("negative cap accepted")
	}
}

// Issue 18 item 5: the default cap on decoding cameras follows cores and
// memory.
func TestDefaultMaxDecoders(t *testing.T) {
	for _, tt := range []struct {
		cores int
		mem   int64
		want  int
	}{
		{2, 24 << 30, 16}, // CPU-bound: eight per core
		{16, 4 << 30, 18}, // memory-bound: half of 4 GiB at 110 MB
		{1, 512 << 20, 2}, // never below 2
		{4, 0, 32},        // memory unknown
	} {
		if got := defaultMaxDecoders(tt.cores, tt.mem); got != tt.want {
			t.Fatalf("defaultMaxDecoders(%d, %d) = %d, want %d", tt.cores, tt.mem, got, tt.want)
		}
	}
	if machineMemory() <= 0 {
		t.Fatal("cannot read this machine's memory")
	}
	c, err := parseConfig([]string{"--max-decoders", "3"}, func(string) string { return "" }, io.Discard)
	if err != nil || c.MaxDecoders != 3 {
		t.Fatalf("%+v %v", c.MaxDecoders, err)
	}
	if c, _ := parseConfig(nil, func(string) string { return "" }, io.Discard); c.MaxDecoders != machineDecoders() {
		t.Fatalf("default %d, want %d", c.MaxDecoders, machineDecoders())
	}
}

func TestGridFlags(t *testing.T) {
	noEnv := func(string) string { return "" }
	c, err := parseConfig(nil, noEnv, io.Discard)
	if err != nil || c.Grid != media.DefaultGrid() {
		t.Fatalf("default grid %+v, %v", c.Grid, err)
	}
	c, err = parseConfig([]string{"--grid-width", "320"}, func(k string) string {
		if k == "LIVEMON_GRID_FPS" {
			return "5"
		}
		return ""
	}, io.Discard)
	if err != nil || c.Grid != (media.Grid{Width: 320, FPS: 5}) {
		t.Fatalf("grid %+v, %v", c.Grid, err)
	}
	for _, args := range [][]string{{"--grid-width", "10"}, {"--grid-fps", "0"}, {"--grid-fps", "60"}} {
		if _, err := parseConfig(args, noEnv, io.Discard); err == nil || !strings.Contains(err.Error(), "--grid-width / --grid-fps") {
			t.Errorf("%v: %v", args, err)
		}
	}
}
