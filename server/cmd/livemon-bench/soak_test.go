package main

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// soakSamples makes 60 minutes of samples every 10 s in three server
// lives; goroutines are 100 + 3 per open connection + leak per hour, plus
// noise, and a restart starts from a different level. The connections
// ramp up within each life, as if viewers kept arriving: only the leak may
// count as growth.
func soakSamples(leak float64) []soakSample {
	r := rand.New(rand.NewPCG(1, 2))
	var out []soakSample
	for t := 0.0; t < 3600; t += 10 {
		life, began := 1, 0.0
		switch {
		case t >= 2520:
			life, began = 3, 2520
		case t >= 1440:
			life, began = 2, 1440
		}
		conns := 20 + int((t-began)/30) + r.IntN(10)
		g := 100 + float64(life*20) + 3*float64(conns) + leak*t/3600 + r.NormFloat64()*5
		out = append(out, soakSample{T: t, Life: life, Up: true, Goroutines: g, WS: conns, FDs: 50, Children: 3})
	}
	return out
}

func TestFitSlopes(t *testing.T) {
	for _, tc := range []struct {
		leak float64
		ok   bool
	}{{0, true}, {60, true}, {300, false}, {-200, true}} {
		res := fitSlopes(soakSamples(tc.leak), 2*time.Minute)
		g := res[0]
		if g.Name != "goroutines" || !g.Asserted {
			t.Fatalf("first result %+v, want asserted goroutines", g)
		}
		if math.Abs(g.Slope-tc.leak) > 30 {
			t.Errorf("leak %v/h: fitted %.1f/h", tc.leak, g.Slope)
		}
		if g.OK != tc.ok {
			t.Errorf("leak %v/h: ok %v, want %v", tc.leak, g.OK, tc.ok)
		}
		for _, r := range res[1:] {
			if !r.OK {
				t.Errorf("leak %v/h: %s not ok: %+v", tc.leak, r.Name, r)
			}
		}
	}
}

// A smoke run is too short for the slopes to mean anything: they are
// reported, not asserted.
func TestFitSlopesShortRun(t *testing.T) {
	var short []soakSample
	for _, s := range soakSamples(100000) {
		if s.T < 300 {
			short = append(short, s)
		}
	}
	for _, r := range fitSlopes(short, 2*time.Minute) {
		if r.Asserted || !r.OK {
			t.Errorf("%s: %+v, want not asserted", r.Name, r)
		}
	}
}
