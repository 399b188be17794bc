package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// microPackages hold the Go micro-benchmarks: the hub's publish path, the
// MJPEG and WebSocket write paths, and OpenCV's per-frame work (full and
// grid renditions).
var microPackages = []string{"./server/internal/hub/", "./server/internal/httpapi/", "./server/internal/opencv/"}

// microResult is one line of `go test -bench` output.
type microResult struct {
	Kind        string             `json:"kind"` // "micro"
	Run         string             `json:"run"`
	Name        string             `json:"name"` // without the -GOMAXPROCS suffix
	Iterations  int64              `json:"iterations"`
	NsPerOp     float64            `json:"ns_per_op"`
	BytesPerOp  float64            `json:"bytes_per_op"`
	AllocsPerOp float64            `json:"allocs_per_op"`
	Metrics     map[string]float64 `json:"metrics,omitempty"`
}

// runMicro runs the micro-benchmarks from the module root, saves the raw
// output to rawPath and parses it.
func runMicro(ctx context.Context, rawPath string) ([]microResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", "1s", "-count", "1"}, microPackages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if werr := os.WriteFile(rawPath, out.Bytes(), 0o644); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out.Bytes())
	}
	return parseBench(&out), nil
}

// parseBench reads benchmark lines such as
//
//	BenchmarkPublish/1000subs-2   50000   23456 ns/op   0 B/op   0 allocs/op
func parseBench(r io.Reader) []microResult {
	var rs []microResult
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		m := microResult{Kind: "micro", Name: trimProcs(f[0]), Iterations: n}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			switch unit := f[i+1]; unit {
			case "ns/op":
				m.NsPerOp = v
			case "B/op":
				m.BytesPerOp = v
			case "allocs/op":
				m.AllocsPerOp = v
			default:
				if m.Metrics == nil {
					m.Metrics = map[string]float64{}
				}
				m.Metrics[unit] = v
			}
		}
		rs = append(rs, m)
	}
	return rs
}

// trimProcs drops the "-N" GOMAXPROCS suffix of a benchmark name.
func trimProcs(name string) string {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			return name[:i]
		}
	}
	return name
}

func printMicro(w io.Writer, ms []microResult) {
	fmt.Fprintln(w, "| micro-benchmark | time/op | B/op | allocs/op | other |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|")
	for _, m := range ms {
		var extra []string
		for _, k := range slices.Sorted(maps.Keys(m.Metrics)) {
			extra = append(extra, fmt.Sprintf("%.4g %s", m.Metrics[k], k))
		}
		fmt.Fprintf(w, "| %s | %s | %.0f | %.0f | %s |\n", m.Name, fmtNs(m.NsPerOp), m.BytesPerOp, m.AllocsPerOp, strings.Join(extra, ", "))
	}
}

func fmtNs(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	default:
		return fmt.Sprintf("%.0f ns", ns)
	}
}
