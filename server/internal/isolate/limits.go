package isolate

import (
	"runtime"
	"strconv"
	"time"
)

// Defaults for Limits.
const (
	DefaultMaxMemory = 4 << 30
	DefaultCPUWindow = time.Minute
)

// DefaultMaxCPU is the CPU time a child may use per DefaultCPUWindow: half
// the machine's cores, at least one, for the whole window. A 720p30 camera
// needs about a quarter of one core.
var DefaultMaxCPU = time.Duration(max(1, runtime.NumCPU()/2)) * DefaultCPUWindow

// Limits bound one child's resources. The parent passes them as flags and
// the child applies them to itself before opening any file.
type Limits struct {
	// MaxMemory is the child's address-space limit (RLIMIT_AS) in bytes:
	// 0 means DefaultMaxMemory, negative means none. Race-detector builds
	// skip it.
	MaxMemory int64
	// MaxCPU is the CPU time a child may use per CPUWindow (enforced with
	// RLIMIT_CPU, which the child moves forward at the start of every
	// window): 0 means DefaultMaxCPU, negative means none. It is a rate,
	// not a lifetime budget: a child that plays for days within it is
	// never stopped.
	MaxCPU time.Duration
	// CPUWindow is the window of MaxCPU: 0 means DefaultCPUWindow. At
	// least a second.
	CPUWindow time.Duration
	// RecycleMemory is the resident memory (bytes) at which a decode
	// child playing a file is worn (decoder.Recycler): the decoder
	// replaces it with a fresh child at the same position before it
	// reaches MaxMemory, without an error state. 0 means three quarters
	// of the memory limit; negative means never. The parent reads the
	// child's resident size at most once per RecycleCheck.
	RecycleMemory int64
	// RecycleCheck is how often the resident size is read: 0 means a
	// second.
	RecycleCheck time.Duration
}

func (l Limits) recycleAt() int64 {
	switch {
	case l.RecycleMemory > 0:
		return l.RecycleMemory
	case l.RecycleMemory < 0 || l.memory() == 0:
		return 0
	}
	return l.memory() / 4 * 3
}

func (l Limits) recycleCheck() time.Duration {
	if l.RecycleCheck <= 0 {
		return time.Second
	}
	return l.RecycleCheck
}

func (l Limits) memory() int64 {
	switch {
	case l.MaxMemory == 0:
		return DefaultMaxMemory
	case l.MaxMemory < 0:
		return 0
	}
	return l.MaxMemory
}

func (l Limits) cpu() time.Duration {
	switch {
	case l.MaxCPU == 0:
		return DefaultMaxCPU
	case l.MaxCPU < 0:
		return 0
	}
	return max(l.MaxCPU, time.Second)
}

func (l Limits) window() time.Duration {
	if l.CPUWindow <= 0 {
		return DefaultCPUWindow
	}
	return max(l.CPUWindow, time.Second)
}

// args renders the limits as the children's flags (0: no limit).
func (l Limits) args() []string {
	return []string{
		"--max-memory", strconv.FormatInt(l.memory(), 10),
		"--max-cpu", l.cpu().String(),
		"--cpu-window", l.window().String(),
	}
}
