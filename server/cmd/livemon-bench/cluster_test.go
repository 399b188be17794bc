package main

import (
	"io"
	"math"
	"strings"
	"testing"
)

func TestNATSConfig(t *testing.T) {
	all := []natsPorts{{4222, 6222, 8222}, {4223, 6223, 8223}, {4224, 6224, 8224}}
	c := natsConfig("nats2", "/tmp/x/nats2", all[1], all)
	for _, want := range []string{
		"server_name: nats2\n",
		"listen: 127.0.0.1:4223\n",
		"http: 127.0.0.1:8223\n",
		`store_dir: "/tmp/x/nats2"`,
		"  listen: 127.0.0.1:6223\n",
		"routes: [nats-route://127.0.0.1:6222, nats-route://127.0.0.1:6223, nats-route://127.0.0.1:6224]",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("config lacks %q:\n%s", want, c)
		}
	}
}

func TestClusterSummary(t *testing.T) {
	s := newClusterSummary("r", []int{1, 10, 51}, 2)
	// Round 1: edge 0.10 -> 0.15 cores, single node process 0.30 ->
	// 0.40 (with its child 0.5 -> 0.65) over 50 added viewers: 1 and 2 (3)
	// millicores, ratio 0.5.
	s.addRound([]float64{0.10, 0.12, 0.15}, []float64{0.30, 0.35, 0.40}, []float64{0.5, 0.7, 0.65})
	if s.EdgeMC[0] != 1 || s.SingleMC[0] != 2 || s.SingleAllMC[0] != 3 || s.Ratio[0] != 0.5 {
		t.Fatalf("round 1: edge %v single %v (all %v) ratio %v; want 1, 2 (3), 0.5", s.EdgeMC, s.SingleMC, s.SingleAllMC, s.Ratio)
	}
	// p99 differences: count 1: 2 and 4 (median 3); count 10: 5 and 9
	// (median 7); count 51: one unmeasured round (-1), the other 6.
	s.EdgeLatP99 = [][]float64{{10, 12}, {15, 20}, {-1, 20}}
	s.SingleLatP99 = [][]float64{{8, 8}, {10, 11}, {9, 14}}
	if got := s.addedP99(); got != 7 {
		t.Errorf("addedP99 = %v, want 7 (count 10)", got)
	}
	s.IngestCores = [][]float64{{0.25, 0.27}, {0.24, 0.26}, {0.30, 0.28}}
	if got := round(s.ingestSpread(), 3); got != 0.04 {
		t.Errorf("ingestSpread = %v, want 0.29 - 0.25 = 0.04", got)
	}
	if got := span([]float64{0.2, 0.1, 0.3}, 1); got != "0.1-0.3" {
		t.Errorf("span = %q", got)
	}
	if got := span([]float64{-1, 2.5, 2}, 1); got != "2.0-2.5" {
		t.Errorf("span with an unmeasured value = %q", got)
	}
	if got := signed(math.NaN()); got != "-" {
		t.Errorf("signed(NaN) = %q", got)
	}
	if got := span([]float64{2, 2}, 0); got != "2" {
		t.Errorf("span of equal values = %q", got)
	}
}

func TestClusterOptions(t *testing.T) {
	o, err := parseOptions([]string{"--only", "cluster"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !o.scenarios["cluster"] || !o.needsUpload() || len(o.clusterViewers) != 3 || o.failovers != 20 {
		t.Errorf("defaults: %+v", o)
	}
	for _, bad := range [][]string{
		{"--cluster-viewers", "10,1"},
		{"--cluster-viewers", "5"},
		{"--cluster-viewers", "1,x"},
		{"--failovers", "0"},
		{"--cluster-rounds", "11"},
		{"--cluster-transport", "snapshot"},
	} {
		if _, err := parseOptions(bad, io.Discard); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
