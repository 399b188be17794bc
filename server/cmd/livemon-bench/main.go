// Command livemon-bench measures livemon under load on one machine: it
// builds nothing itself, but generates the 720p30 input with the server
// binary, starts that binary on a free loopback port with a temporary data
// dir, uploads the input and runs the scenarios of issue 9 (fan-out, idle,
// resume, cameras, slow viewers) and of issue 14 (live sources, from a
// `livemon fake-camera` process), then writes JSON lines and a Markdown
// table under --out. docs/performance.md explains the figures.
//
//	livemon-bench [flags]         the whole benchmark (make bench)
//	livemon-bench load [flags]    N viewers against a running server
//	livemon-bench soak [flags]    churn and faults for --duration, then the
//	                              leak and loss checks (make soak; soak*.go)
//	livemon-bench crash [flags]   SIGKILL the server --rounds times and check
//	                              every restart (make crash; crash.go)
//
// The load generator is one goroutine per viewer. It never decodes a JPEG:
// a WebSocket viewer reads the 40-byte frame header and reads the rest
// into one reused 128 KiB buffer; an MJPEG viewer parses part headers and
// skips Content-Length bytes inside a 128 KiB read buffer.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "livemon-bench:", err)
		os.Exit(1)
	}
}
