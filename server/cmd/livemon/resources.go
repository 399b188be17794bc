package main

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// decoderMemory is what one decoding camera costs with the isolated
// decoder: the resident memory of its decode child, measured at about
// 110 MB for a 720p video.
const decoderMemory = 110 << 20

// defaultMaxDecoders is the default cap on decoding cameras
// (--max-decoders) for a machine with cores usable CPUs and mem bytes of
// memory (0: unknown): no more than half the memory at decoderMemory
// each, leaving the rest to the server, the page cache and everything
// else, and eight per core. Memory is the hard bound (too many children
// and the machine swaps or kills); CPU is the soft one (a late camera
// skips frames, newest wins): a 720p30 camera takes about a quarter of a
// core, smaller ones less, so eight per core allows twice what a core
// decodes at 720p while still bounding the number of children. At least
// 2, so a small machine still plays two cameras.
func defaultMaxDecoders(cores int, mem int64) int {
	n := 8 * max(cores, 1)
	if mem > 0 {
		n = min(n, int(mem/2/decoderMemory))
	}
	return max(n, 2)
}

// machineDecoders is defaultMaxDecoders for this machine: GOMAXPROCS
// (which follows the cgroup's CPU limit) and the smaller of the machine's
// memory and the cgroup's memory limit.
func machineDecoders() int {
	return defaultMaxDecoders(runtime.GOMAXPROCS(0), machineMemory())
}

// machineMemory returns the memory this process may use in bytes, or 0
// if it cannot tell.
func machineMemory() int64 {
	var total int64
	if f, err := os.Open("/proc/meminfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if rest, ok := strings.CutPrefix(s.Text(), "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				total = kb << 10
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if limit, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && limit > 0 && (total == 0 || limit < total) {
			total = limit
		}
	}
	return total
}
