package main

import (
	"testing"
	"time"
)

func TestParseListenLine(t *testing.T) {
	for _, tc := range []struct {
		line, want string
		ok         bool
	}{
		{"fake-camera listening on http://127.0.0.1:40615\n", "http://127.0.0.1:40615", true},
		{"fake-camera listening on http://[::1]:8090", "http://[::1]:8090", true},
		{"  MJPEG:    http://127.0.0.1:40615/mjpeg", "", false},
		{"fake-camera listening on ", "", false},
		{"fake-camera listening on http://", "", false},
		{"fake-camera listening on 127.0.0.1:1", "", false},
		{"fake-camera listening on http://a b", "", false},
	} {
		got, ok := parseListenLine(tc.line)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseListenLine(%q) = %q, %v; want %q, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFirstFramesOf(t *testing.T) {
	base := time.Now()
	sub := base.Add(time.Second)
	subMs := sub.UnixMilli()
	at := func(d time.Duration, tsMs int64) sample {
		now := sub.Add(d)
		return sample{mono: int64(now.Sub(base)), wall: now.UnixMicro(), ts: tsMs}
	}
	t.Run("kept frame, then fresh", func(t *testing.T) {
		st := viewerState{subscribed: sub, samples: []sample{
			at(5*time.Millisecond, subMs-4000),  // kept, 4 s old
			at(120*time.Millisecond, subMs+100), // the reconnected source's
			at(150*time.Millisecond, subMs+140),
		}}
		f, ok := firstFramesOf(st, base)
		if !ok || f.first != 5*time.Millisecond || f.fresh != 120*time.Millisecond {
			t.Fatalf("got %+v, %v; want first 5ms, fresh 120ms", f, ok)
		}
		if f.age < 4*time.Second || f.age > 4*time.Second+10*time.Millisecond {
			t.Errorf("age %v, want about 4s", f.age)
		}
	})
	t.Run("first frame fresh", func(t *testing.T) {
		st := viewerState{subscribed: sub, samples: []sample{at(40*time.Millisecond, subMs+38)}}
		f, ok := firstFramesOf(st, base)
		if !ok || f.first != 40*time.Millisecond || f.fresh != 40*time.Millisecond {
			t.Fatalf("got %+v, %v; want first = fresh = 40ms", f, ok)
		}
	})
	t.Run("only old frames", func(t *testing.T) {
		st := viewerState{subscribed: sub, samples: []sample{at(3*time.Millisecond, subMs-2000)}}
		f, ok := firstFramesOf(st, base)
		if !ok || f.fresh >= 0 {
			t.Fatalf("got %+v, %v; want no fresh frame", f, ok)
		}
	})
	t.Run("no subscribe or no frame", func(t *testing.T) {
		if _, ok := firstFramesOf(viewerState{samples: []sample{at(0, subMs)}}, base); ok {
			t.Error("ok without a subscribe time")
		}
		if _, ok := firstFramesOf(viewerState{subscribed: sub}, base); ok {
			t.Error("ok without a frame")
		}
	})
}

func TestParseOptionsOnly(t *testing.T) {
	o, err := parseOptions([]string{"--only", "live"}, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	if o.micro || !o.scenarios["live"] || len(o.scenarios) != 1 || o.needsUpload() {
		t.Errorf("--only live: micro %v, scenarios %v, needsUpload %v", o.micro, o.scenarios, o.needsUpload())
	}
	o, err = parseOptions(nil, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	if !o.micro || !o.scenarios["live"] || !o.needsUpload() {
		t.Errorf("defaults: micro %v, scenarios %v", o.micro, o.scenarios)
	}
	if _, err := parseOptions([]string{"--live-tries", "0"}, testWriter{t}); err == nil {
		t.Error("--live-tries 0 accepted")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
