// Command livemon is the live camera monitoring server.
//
//	livemon [flags]             serve (see --help)
//	livemon gen-video [flags]   write a marker test video (see gen-video --help)
//	livemon fake-camera [flags] serve a fake HTTP MJPEG/snapshot camera (see fake-camera --help)
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
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "livemon:", err)
		os.Exit(1)
	}
}
