package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc. It is 100 on
// every Linux this runs on; getconf confirms it when available.
var clockTicks = func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && v > 0 {
			return float64(v)
		}
	}
	return 100
}()

// statFields returns the fields of /proc/PID/stat after the command name:
// f[0] is field 3 (state), f[1] the parent pid, f[11..14] utime, stime,
// cutime and cstime.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return nil, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	return f, nil
}

// procCPU returns the user and system CPU time of process pid and of its
// waited-for children (utime+cutime and stime+cstime of /proc/PID/stat).
func procCPU(pid int) (user, sys time.Duration, err error) {
	user, sys, _, err = procTimes(pid)
	return user, sys, err
}

// procTimes is procCPU plus the process's own CPU time (utime+stime,
// without its children's).
func procTimes(pid int) (user, sys, own time.Duration, err error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, 0, 0, err
	}
	var t [4]float64
	for i, k := range []int{11, 12, 13, 14} {
		v, err := strconv.ParseUint(f[k], 10, 64)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		t[i] = float64(v)
	}
	toDur := func(ticks float64) time.Duration { return time.Duration(ticks / clockTicks * float64(time.Second)) }
	return toDur(t[0] + t[2]), toDur(t[1] + t[3]), toDur(t[0] + t[1]), nil
}

// descendants returns the live descendants of pid (the server's decoder
// and probe children, if it runs any).
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := statFields(p)
		if err != nil {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 && len(out) < 10000 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// treeCPU is the user and system CPU time of pid and its descendants:
// their own times plus those of children they have reaped. A child's time
// moves from its own entry to its parent's cutime when it is reaped, so
// the sum stays continuous.
func treeCPU(pid int) (user, sys, own time.Duration, children int) {
	user, sys, own, err := procTimes(pid)
	if err != nil {
		return 0, 0, 0, 0
	}
	kids := descendants(pid)
	for _, c := range kids {
		if u, s, err := procCPU(c); err == nil {
			user += u
			sys += s
		}
	}
	return user, sys, own, len(kids)
}

// selfCPU is this process's user+system time (the load generator).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStatus returns a field of /proc/PID/status in KiB (VmHWM, VmRSS).
func procStatus(pid int, field string) (int64, error) {
	return procStatusFile(fmt.Sprintf("/proc/%d/status", pid), field)
}

// resetPeakRSS resets VmHWM to the current RSS (Linux >= 4.0) for pid and
// its descendants, so a scenario's peak is its own. It reports whether
// that worked for pid.
func resetPeakRSS(pid int) bool {
	if pid <= 0 {
		return false
	}
	for _, c := range descendants(pid) {
		_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", c), []byte("5"), 0)
	}
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
}

// peakRSS returns the VmHWM of pid and the sum of its live descendants'
// VmHWM, in KiB.
func peakRSS(pid int) (server, children int64) {
	if pid <= 0 {
		return 0, 0
	}
	server, _ = procStatus(pid, "VmHWM")
	for _, c := range descendants(pid) {
		if kb, err := procStatus(c, "VmHWM"); err == nil {
			children += kb
		}
	}
	return server, children
}

// systemCPU returns the busy and total CPU time of the whole machine from
// /proc/stat (all cores summed).
func systemCPU() (busy, total time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0
	}
	var sum, idle float64
	for i, s := range f[1:] {
		if i >= 8 { // guest time is already in user
			break
		}
		v, _ := strconv.ParseFloat(s, 64)
		sum += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	toDur := func(t float64) time.Duration { return time.Duration(t / clockTicks * float64(time.Second)) }
	return toDur(sum - idle), toDur(sum)
}

// loadAvg returns the 1-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// cpuSnap is a point-in-time reading of every CPU counter a scenario
// reports.
type cpuSnap struct {
	at        time.Time
	server    time.Duration // the server and its descendants, user + system
	serverSys time.Duration // the system part
	serverOwn time.Duration // the server process alone
	children  int           // live descendants of the server
	self      time.Duration
	busy      time.Duration
}

func snapCPU(pid int) cpuSnap {
	s := cpuSnap{at: time.Now(), self: selfCPU()}
	if pid > 0 {
		var user time.Duration
		user, s.serverSys, s.serverOwn, s.children = treeCPU(pid)
		s.server = user + s.serverSys
	}
	s.busy, _ = systemCPU()
	return s
}

// cpuUse is the CPU used between two snapshots, in cores.
type cpuUse struct {
	Server, ServerSys, ServerOwn, LoadGen, Other float64
}

func cpuBetween(a, b cpuSnap) cpuUse {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return cpuUse{}
	}
	u := cpuUse{
		Server:    (b.server - a.server).Seconds() / wall,
		ServerSys: (b.serverSys - a.serverSys).Seconds() / wall,
		ServerOwn: (b.serverOwn - a.serverOwn).Seconds() / wall,
		LoadGen:   (b.self - a.self).Seconds() / wall,
	}
	u.Other = max((b.busy-a.busy).Seconds()/wall-u.Server-u.LoadGen, 0)
	return u
}

// procStatusFile returns the number after "field:" in a /proc file.
func procStatusFile(path, field string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, field+":"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, field)
}

// machine describes the host for the results.
type machine struct {
	Kind      string  `json:"kind"`
	Run       string  `json:"run"`
	Time      string  `json:"time"`
	NProc     int     `json:"nproc"`
	CPUModel  string  `json:"cpu_model"`
	MemGiB    float64 `json:"mem_gib"`
	Kernel    string  `json:"kernel"`
	GoVersion string  `json:"go_version"`
	Load1     float64 `json:"load1_at_start"`
	Commit    string  `json:"commit,omitempty"`
}

func describeMachine(run string) machine {
	m := machine{Kind: "machine", Run: run, Time: time.Now().UTC().Format(time.RFC3339), NProc: runtime.NumCPU(), GoVersion: runtime.Version(), Load1: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if kb, err := procStatusFile("/proc/meminfo", "MemTotal"); err == nil {
		m.MemGiB = float64(kb) / (1 << 20)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	return m
}
