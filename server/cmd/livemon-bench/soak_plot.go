package main

import (
	"bytes"
	"fmt"
	"html"
)

// soakPlot draws the server's RSS (and its children's), goroutines and
// open descriptors over the run as a small SVG, with a dashed line at
// every server stop and a tick at every decode child killed.
func soakPlot(samples []soakSample, events []soakEvent, run string) []byte {
	const (
		w, panelH, left, right, top, gap = 720, 150, 60, 20, 30, 40
	)
	type series struct {
		label, color string
		v            func(soakSample) float64
	}
	panels := []struct {
		title  string
		series []series
	}{
		{"RSS (MiB)", []series{
			{"server", "#1f77b4", func(s soakSample) float64 { return float64(s.RSS) / 1024 }},
			{"decode/probe children", "#ff7f0e", func(s soakSample) float64 { return float64(s.ChildRSS) / 1024 }},
		}},
		{"goroutines", []series{{"server", "#2ca02c", func(s soakSample) float64 { return s.Goroutines }}}},
		{"open file descriptors", []series{{"server", "#d62728", func(s soakSample) float64 { return float64(s.FDs) }}}},
	}
	h := top + len(panels)*(panelH+gap)
	var tmax float64
	for _, s := range samples {
		tmax = max(tmax, s.T)
	}
	if tmax == 0 {
		tmax = 1
	}
	x := func(t float64) float64 { return left + t/tmax*(w-left-right) }
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/><text x="%d" y="16" font-size="13">livemon soak %s: %.0f min (dashed: server SIGTERM/SIGKILL; ticks: decode child SIGKILLed)</text>`+"\n", w, h, left, html.EscapeString(run), tmax/60)
	for i, p := range panels {
		y0 := float64(top + i*(panelH+gap) + 10)
		var vmax float64
		for _, s := range samples {
			if !s.Up || s.Goroutines == 0 {
				continue
			}
			for _, se := range p.series {
				vmax = max(vmax, se.v(s))
			}
		}
		if vmax == 0 {
			vmax = 1
		}
		vmax *= 1.1
		y := func(v float64) float64 { return y0 + panelH - v/vmax*panelH }
		fmt.Fprintf(&b, `<rect x="%d" y="%.0f" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", left, y0, w-left-right, panelH)
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" font-weight="bold">%s</text>`+"\n", left, y0-4, p.title)
		for _, f := range []float64{0, 0.5, 1} {
			fmt.Fprintf(&b, `<text x="%d" y="%.0f" text-anchor="end">%.0f</text>`+"\n", left-4, y(f*vmax/1.1)+4, f*vmax/1.1)
		}
		for _, e := range events {
			switch e.What {
			case "server-sigterm", "server-sigkill":
				fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" stroke="#555" stroke-dasharray="4,3"/>`+"\n", x(e.T), x(e.T), y0, y0+panelH)
			case "kill-child":
				fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" stroke="#9467bd"/>`+"\n", x(e.T), x(e.T), y0+panelH-8, y0+panelH)
			}
		}
		for j, se := range p.series {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.2" points="`, se.color)
			life := -1
			for _, s := range samples {
				if !s.Up || s.Goroutines == 0 {
					continue
				}
				if s.Life != life && life >= 0 {
					fmt.Fprintf(&b, `"/>`+"\n"+`<polyline fill="none" stroke="%s" stroke-width="1.2" points="`, se.color)
				}
				life = s.Life
				fmt.Fprintf(&b, "%.1f,%.1f ", x(s.T), y(se.v(s)))
			}
			b.WriteString(`"/>` + "\n")
			if len(p.series) > 1 {
				fmt.Fprintf(&b, `<text x="%d" y="%.0f" fill="%s" text-anchor="end">%s</text>`+"\n", w-right-4, y0+14+float64(j)*13, se.color, se.label)
			}
		}
	}
	for m := 0.0; m <= tmax/60; m += 10 {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%.0f min</text>`+"\n", x(m*60), h-8, m)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
