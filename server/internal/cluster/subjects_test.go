package cluster

import (
	"testing"

	"github.com/livemon/livemon/server/internal/media"
)

func TestSubjects(t *testing.T) {
	if got := FrameSubject("cam_1", ""); got != "livemon.frame.cam_1.full" {
		t.Errorf("FrameSubject = %q", got)
	}
	for _, s := range []string{FrameSubject("a-b", media.RenditionGrid), WantSubject("a-b", media.RenditionGrid), LatestSubject("a-b", media.RenditionGrid)} {
		cam, r, err := ParseCamRendition(s)
		if err != nil || cam != "a-b" || r != media.RenditionGrid {
			t.Errorf("ParseCamRendition(%q) = %q, %q, %v", s, cam, r, err)
		}
	}
	for _, s := range []string{"livemon.frame.a", "x.frame.a.full", "livemon.frame.a.tiny", "livemon.frame.a/b.full"} {
		if _, _, err := ParseCamRendition(s); err == nil {
			t.Errorf("ParseCamRendition(%q) accepted", s)
		}
	}
	cam, op, err := ParseCamOp(CamOpSubject("c", OpRestart))
	if err != nil || cam != "c" || op != OpRestart {
		t.Errorf("ParseCamOp = %q, %q, %v", cam, op, err)
	}
	if _, _, err := ParseCamOp("livemon.cam.c.explode"); err == nil {
		t.Error("ParseCamOp accepted an unknown op")
	}
}

func TestParseURLs(t *testing.T) {
	got, err := ParseURLs(" nats://127.0.0.1:4222, 127.0.0.1:4223 ")
	if err != nil || len(got) != 2 || got[1] != "nats://127.0.0.1:4223" {
		t.Fatalf("ParseURLs = %v, %v", got, err)
	}
	for _, s := range []string{"", " , ", "http://x:1", "nats://"} {
		if _, err := ParseURLs(s); err == nil {
			t.Errorf("ParseURLs(%q) accepted", s)
		}
	}
}
