package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/livemon/livemon/server/internal/camera"
	"github.com/livemon/livemon/server/internal/live"
	"github.com/livemon/livemon/server/internal/media"
)

// config is everything the server's flags set.
type config struct {
	Addr          string
	Data          string
	MaxUpload     int64
	MaxUploadText string // --max-upload as given, for messages
	Quality       int
	MaxFPS        float64
	// Grid is the grid rendition's size and rate (--grid-width, --grid-fps).
	Grid           media.Grid
	SessionTTL     time.Duration
	AllowedOrigins []string
	AllowedHosts   []string
	LogFormat      string
	LogLevel       string
	Demo           bool
	Token          string
	Insecure       bool
	ProbeTimeout   time.Duration
	Linger         time.Duration
	MaxViewers     int
	MaxPerCamera   int
	MaxCameras     int
	Decoder        string
	DecoderSpares  int
	// Request and resource limits (issue 18).
	BodyIdleTimeout     time.Duration
	MaxUploads          int
	MaxUploadsPerClient int
	MaxSubscriptions    int
	MaxDecoders         int
	// SnapshotInterval is how often a watched JPEG-snapshot camera is
	// polled (issue 14).
	SnapshotInterval time.Duration
	// Role is roleAll (one process, no NATS), roleIngest or roleEdge
	// (issue 16); NATS are the servers of the non-default roles.
	Role string
	NATS []string
	// PublicURL is the base URL browsers reach this edge at, announced in
	// the cluster's edge list (--public-url; --role edge only).
	PublicURL string
}

// parseConfig reads flags; every flag also has an environment variable
// LIVEMON_<NAME> (dashes as underscores) that sets its default.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("livemon", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv("LIVEMON_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); v != "" {
			return v
		}
		return def
	}
	var maxUpload, origins, hosts string
	fs.StringVar(&c.Addr, "addr", env("addr", "127.0.0.1:8000"), "listen address")
	fs.StringVar(&c.Data, "data", env("data", "./data"), "data directory (database and videos)")
	fs.StringVar(&maxUpload, "max-upload", env("max-upload", "2GiB"), "largest accepted video file (bytes, or with KB/MB/GB/KiB/MiB/GiB)")
	fs.IntVar(&c.Quality, "quality", envInt(env("quality", ""), media.DefaultJPEGQuality), fmt.Sprintf("JPEG quality 1-%d", media.MaxJPEGQuality))
	fs.Float64Var(&c.MaxFPS, "max-fps", envFloat(env("max-fps", ""), 30), "cap on frames per second sent per camera (0: no cap)")
	fs.IntVar(&c.Grid.Width, "grid-width", envInt(env("grid-width", ""), media.DefaultGridWidth), fmt.Sprintf("grid rendition: at most this many pixels wide (%d-%d)", media.MinGridWidth, media.MaxGridWidth))
	fs.Float64Var(&c.Grid.FPS, "grid-fps", envFloat(env("grid-fps", ""), media.DefaultGridFPS), fmt.Sprintf("grid rendition: at most this many frames a second (above 0, at most %d)", media.MaxGridFPS))
	fs.DurationVar(&c.SessionTTL, "session-ttl", envDuration(env("session-ttl", ""), 10*time.Minute), "how long a WebSocket session can be resumed after its last disconnect")
	fs.StringVar(&origins, "allowed-origins", env("allowed-origins", ""), "comma-separated extra origins allowed to write and open WebSockets (e.g. http://localhost:5173)")
	fs.StringVar(&hosts, "allowed-hosts", env("allowed-hosts", ""), "comma-separated host names the server answers to besides localhost, IP addresses and the --addr name (.example.com: the domain and its subdomains; *: any); others get 421")
	fs.StringVar(&c.LogFormat, "log-format", env("log-format", "text"), "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", env("log-level", "info"), "log level: debug, info, warn, error")
	fs.BoolVar(&c.Demo, "demo", envBool(env("demo", ""), true), "create a demo camera with a generated video when the database is empty")
	fs.StringVar(&c.Token, "token", env("token", ""), "access token required for every API, WebSocket and stream request (empty: none)")
	fs.BoolVar(&c.Insecure, "insecure", envBool(env("insecure", ""), false), "allow a non-loopback --addr without --token")
	fs.DurationVar(&c.ProbeTimeout, "probe-timeout", envDuration(env("probe-timeout", ""), 30*time.Second), "time limit for checking an uploaded video")
	fs.DurationVar(&c.SnapshotInterval, "snapshot-interval", envDuration(env("snapshot-interval", ""), live.DefaultSnapshotInterval), "how often a watched JPEG-snapshot camera is polled")
	fs.DurationVar(&c.Linger, "linger", envDuration(env("linger", ""), 10*time.Second), "how long a camera keeps encoding after its last viewer leaves")
	fs.IntVar(&c.MaxViewers, "max-viewers", envInt(env("max-viewers", ""), 0), "cap on viewers over all cameras (0: none)")
	fs.IntVar(&c.MaxPerCamera, "max-viewers-per-camera", envInt(env("max-viewers-per-camera", ""), 0), "cap on viewers of one camera (0: none)")
	fs.IntVar(&c.MaxCameras, "max-cameras", envInt(env("max-cameras", ""), camera.DefaultMaxCameras), "cap on cameras, counting those an upload is creating (0: none)")
	fs.StringVar(&c.Decoder, "decoder", env("decoder", decoderIsolated), "where videos are decoded: isolated (a child process per camera and per probe) or inprocess")
	fs.IntVar(&c.DecoderSpares, "decoder-spares", envInt(env("decoder-spares", ""), 1), "isolated decoder: child processes kept started ahead of need, so a camera's first viewer does not wait for one to start (0-16)")
	fs.DurationVar(&c.BodyIdleTimeout, "body-idle-timeout", envDuration(env("body-idle-timeout", ""), 30*time.Second), "cut a request body (upload or JSON) that sends nothing for this long, with 408 (0: never)")
	fs.IntVar(&c.MaxUploads, "max-uploads", envInt(env("max-uploads", ""), 8), "cap on uploads in progress over the server, 503 above it (0: none)")
	fs.IntVar(&c.MaxUploadsPerClient, "max-uploads-per-client", envInt(env("max-uploads-per-client", ""), 4), "cap on uploads in progress from one client address, 503 above it (0: none)")
	fs.IntVar(&c.MaxSubscriptions, "max-subscriptions", envInt(env("max-subscriptions", ""), 64), "cap on cameras one WebSocket (one browser tab) subscribes to (0: none)")
	fs.IntVar(&c.MaxDecoders, "max-decoders", envInt(env("max-decoders", ""), machineDecoders()), "cap on cameras decoding at once; the default follows this machine's cores and memory (0: none)")
	var natsURLs string
	fs.StringVar(&c.Role, "role", env("role", roleAll), "all: one process, no NATS; ingest: runs the cameras and publishes their frames on NATS; edge: serves viewers from NATS (both need --nats)")
	fs.StringVar(&natsURLs, "nats", env("nats", ""), "NATS servers of a cluster, comma-separated (nats://host:4222,...); only with --role ingest or edge")
	fs.StringVar(&c.PublicURL, "public-url", env("public-url", ""), "--role edge: the base URL browsers reach this edge at (http(s)://host[:port]), announced to the other edges so viewers can fail over to it (default: http://<--addr>; behind a load balancer, the balancer's URL)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := c.parseRole(natsURLs); err != nil {
		return c, err
	}
	if err := c.parsePublicURL(); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	n, err := parseSize(maxUpload)
	if err != nil {
		return c, fmt.Errorf("--max-upload: %w", err)
	}
	c.MaxUpload = n
	c.MaxUploadText = sizeText(maxUpload, n)
	c.AllowedOrigins = splitList(origins)
	c.AllowedHosts = splitList(hosts)
	for _, h := range c.AllowedHosts {
		if strings.ContainsAny(h, "/@ ") {
			return c, fmt.Errorf("--allowed-hosts: %q is not a host name (give names like cams.example.com, without scheme or path)", h)
		}
	}
	if name := listenName(c.Addr); name != "" {
		c.AllowedHosts = append(c.AllowedHosts, name)
	}
	if name := publicURLName(c.PublicURL); name != "" {
		c.AllowedHosts = append(c.AllowedHosts, name)
	}
	if c.Quality < 1 || c.Quality > media.MaxJPEGQuality {
		return c, fmt.Errorf("--quality must be between 1 and %d", media.MaxJPEGQuality)
	}
	if err := c.Grid.Validate(); err != nil {
		return c, fmt.Errorf("--grid-width / --grid-fps: %w", err)
	}
	if c.SnapshotInterval < 10*time.Millisecond {
		return c, errors.New("--snapshot-interval must be at least 10ms")
	}
	if c.MaxCameras < 0 {
		return c, errors.New("--max-cameras must be 0 (no cap) or more")
	}
	if c.Decoder != decoderIsolated && c.Decoder != decoderInProcess {
		return c, errors.New("--decoder must be isolated or inprocess")
	}
	if c.DecoderSpares < 0 || c.DecoderSpares > 16 {
		return c, errors.New("--decoder-spares must be between 0 and 16")
	}
	if c.BodyIdleTimeout < 0 || c.MaxUploads < 0 || c.MaxUploadsPerClient < 0 || c.MaxSubscriptions < 0 || c.MaxDecoders < 0 {
		return c, errors.New("--body-idle-timeout, --max-uploads, --max-uploads-per-client, --max-subscriptions and --max-decoders must not be negative")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return c, errors.New("--log-format must be text or json")
	}
	if !c.Insecure && c.Token == "" && !loopback(c.Addr) {
		return c, fmt.Errorf("refusing to listen on non-loopback address %q without --token; pass --insecure to do it anyway", c.Addr)
	}
	return c, nil
}

// loopback reports whether addr binds only a loopback interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// listenName returns the host name of addr, or "" when addr binds an IP
// address or every interface: the server then answers to that name too.
func listenName(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" || net.ParseIP(host) != nil {
		return ""
	}
	return host
}

// parseSize parses "1048576", "10MB", "2GiB".
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)) {
			mult = u.mult
			s = strings.TrimSpace(s[:len(s)-len(u.suffix)])
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("not a positive size: %q", s)
	}
	return int64(v * float64(mult)), nil
}

// sizeText is how messages name a size the operator gave as s (parsed as
// n): in the operator's own unit, so "5MB" is not reported as "4.8 MiB".
func sizeText(s string, n int64) string {
	s = strings.TrimSpace(s)
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	return s
}

func envInt(s string, def int) int {
	if v, err := strconv.Atoi(s); err == nil {
		return v
	}
	return def
}

func envFloat(s string, def float64) float64 {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return v
	}
	return def
}

func envBool(s string, def bool) bool {
	if v, err := strconv.ParseBool(s); err == nil {
		return v
	}
	return def
}

func envDuration(s string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(s); err == nil {
		return v
	}
	return def
}
