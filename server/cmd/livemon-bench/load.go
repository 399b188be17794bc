package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"
)

// runLoad is `livemon-bench load`: N viewers of one camera of a server
// that is already running, for one window. Server CPU and memory are
// reported when --pid is given.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("livemon-bench load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("url", "http://127.0.0.1:8000", "server base URL (loopback only)")
	camera := fs.String("camera", "demo", "camera id")
	n := fs.Int("viewers", 10, "viewers")
	tr := fs.String("transport", "ws", "ws or mjpeg")
	d := fs.Duration("duration", 15*time.Second, "measurement window")
	warm := fs.Duration("warmup", 1500*time.Millisecond, "wait after every viewer got a frame, before measuring")
	stall := fs.Bool("stall", false, "every tenth viewer stops reading after 15 frames")
	pid := fs.Int("pid", 0, "server process id, for its CPU and peak RSS")
	asJSON := fs.Bool("json", false, "print the result as one JSON line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*addr)
	if err != nil || u.Host == "" {
		return fmt.Errorf("--url: not a URL: %q", *addr)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return errors.New("--url must be a loopback address")
	}
	t := transport(*tr)
	if t != transportWS && t != transportMJPEG {
		return fmt.Errorf("--transport must be ws or mjpeg")
	}
	if *n < 1 || *n > 2000 || *d <= 0 || *d > time.Hour {
		return errors.New("--viewers 1-2000, --duration up to 1h")
	}
	srv := &server{host: u.Host, pid: *pid}
	b := &bench{o: options{warmup: *warm}, srv: srv, base: time.Now(), sourceFPS: 30, external: true, logf: func(f string, a ...any) {
		fmt.Fprintf(stderr, f+"\n", a...)
	}, jsonl: func(any) {}}
	var cam struct {
		Video *struct {
			FPS float64 `json:"fps"`
		} `json:"video"`
	}
	if err := srv.get("/api/cameras/"+url.PathEscape(*camera), &cam); err != nil {
		return err
	}
	if cam.Video != nil && cam.Video.FPS > 0 {
		b.sourceFPS = cam.Video.FPS
	}
	cfgs := make([]viewerConfig, *n)
	for i := range cfgs {
		cfgs[i] = viewerConfig{transport: t, host: u.Host, camera: *camera, expect: b.expect(*d)}
	}
	r, err := b.watchConfigs(ctx, "load", t, cfgs, *d, *stall)
	if err != nil {
		return err
	}
	if *pid == 0 {
		r.ServerCores, r.ServerPeakMB, r.OtherCores = -1, -1, -1
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	printTable(stdout, []result{r})
	return nil
}
