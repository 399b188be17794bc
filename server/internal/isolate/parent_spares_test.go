package isolate_test

import (
	"errors"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/isolate"
)

// waitReady waits until sp has n spares ready.
func waitReady(t *testing.T, sp *isolate.Spares, n int) {
	t.Helper()
	deadline := time.Now().Add(promptly)
	for sp.Ready() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d spares ready, want %d", sp.Ready(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// withSpares gives o one spare, ready, and returns both; the spares are
// closed when the test ends.
func withSpares(t *testing.T, o isolate.Opener) (isolate.Opener, *isolate.Spares) {
	t.Helper()
	sp := isolate.NewSpares(o, 1)
	t.Cleanup(sp.Close)
	o.Spares = sp
	waitReady(t, sp, 1)
	return o, sp
}

// pids returns the pids of this process's children.
func pids(t *testing.T) map[string]bool {
	t.Helper()
	m := map[string]bool{}
	for _, c := range children(t) {
		m[strings.Fields(c)[0]] = true
	}
	return m
}

// Open takes the spare that was started ahead, which then serves the
// file, and a new spare takes its place; Close of the spares reaps them.
func TestSparesServeOpens(t *testing.T) {
	path := writeSynth(t, spec)
	o, sp := withSpares(t, isolate.Opener{CallTimeout: promptly})
	before := pids(t)
	if len(before) != 1 {
		t.Fatalf("children %v, want the one spare", before)
	}
	src := open(t, o, path)
	if n := frame(t, src); n != 0 {
		t.Fatalf("frame %d", n)
	}
	waitReady(t, sp, 1)
	after := pids(t)
	if len(after) != 2 {
		t.Fatalf("children %v, want the source's and a new spare", after)
	}
	for pid := range before {
		if !after[pid] {
			t.Fatalf("the spare %s is gone; the source did not use it", pid)
		}
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	for pid := range before {
		if pids(t)[pid] {
			t.Fatalf("the spare %s that served the source outlived it", pid)
		}
	}
	sp.Close()
	noChildren(t)
	// Open works without spares after Close.
	src = open(t, o, path)
	frame(t, src)
	src.Close()
	noChildren(t)
}

// A spare that dies while it waits is reaped at once (no zombie) and
// never handed out: Open still succeeds.
func TestSpareDiedWaiting(t *testing.T) {
	path := writeSynth(t, spec)
	o, sp := withSpares(t, isolate.Opener{CallTimeout: promptly})
	var spare int
	for pid := range pids(t) {
		spare, _ = strconv.Atoi(pid)
	}
	if err := syscall.Kill(spare, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(promptly)
	for pids(t)[strconv.Itoa(spare)] { // a zombie would stay listed
		if time.Now().After(deadline) {
			t.Fatalf("killed spare %d not reaped: %v", spare, children(t))
		}
		time.Sleep(5 * time.Millisecond)
	}
	src := open(t, o, path)
	if n := frame(t, src); n != 0 {
		t.Fatalf("frame %d", n)
	}
	src.Close()
	sp.Close()
	noChildren(t)
}

// A file that crashes every child fails Open with the crash, spare or
// not, and leaves no child behind.
func TestSparesCrashingFile(t *testing.T) {
	path := writeSynth(t, spec)
	o, sp := withSpares(t, isolate.Opener{CallTimeout: promptly, Env: []string{isolate.FaultEnv + "=crash"}})
	_, err := o.Open(path)
	if !errors.Is(err, decoder.ErrSourceBroken) || !strings.Contains(err.Error(), "crashed") {
		t.Fatalf("Open in crashing children = %v, want a crash", err)
	}
	sp.Close()
	noChildren(t)
}
