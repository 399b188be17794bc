package main

import (
	"io"
	"testing"

	"github.com/livemon/livemon/server/internal/camera"
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
