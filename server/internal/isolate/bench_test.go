package isolate_test

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/decoder"
	"github.com/livemon/livemon/server/internal/isolate"
)

// BenchmarkPipe measures what the pipe alone costs: a frame (grab and
// encode, one GrabEncode round trip when isolated) whose JPEG is a fixed
// 150 KB (a 720p frame at quality 80), the same with 9 ms of CPU spent on
// each encode (as decoding and encoding a 720p frame takes: the child's
// wait then costs both processes a wake-up), and a grab alone (what
// skipping a frame costs), served in process and by a child. cpu-ns/op
// counts parent and child together; ns/op is the latency. Run without
// -race.
func BenchmarkPipe(b *testing.B) {
	const (
		size = 150_000
		work = 9 * time.Millisecond
	)
	isolated := isolate.Opener{Env: []string{openerEnv + "=fixed:" + strconv.Itoa(size)}}
	for _, bc := range []struct {
		name   string
		opener decoder.Opener
		encode bool
	}{
		{"frame/inprocess", fixedOpener{size: size}, true},
		{"frame/isolated", isolated, true},
		{"frame9ms/inprocess", fixedOpener{size: size, work: work}, true},
		{"frame9ms/isolated", isolate.Opener{Env: []string{openerEnv + "=fixed:" + strconv.Itoa(size) + ":" + work.String()}}, true},
		{"grab/inprocess", fixedOpener{size: size}, false},
		{"grab/isolated", isolated, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			src, err := bc.opener.Open("any")
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			// As the decoder does: GrabEncode when the source has it.
			ge, _ := src.(decoder.GrabEncoder)
			frame := func() {
				var jpeg []byte
				var err error
				switch {
				case !bc.encode:
					err = src.Grab()
				case ge != nil:
					jpeg, err = ge.GrabEncode(80)
				default:
					if err = src.Grab(); err == nil {
						jpeg, err = src.Encode(80)
					}
				}
				if err != nil || (bc.encode && len(jpeg) != size) {
					b.Fatalf("%d bytes, %v", len(jpeg), err)
				}
			}
			frame()
			child := onlyChild(b)
			before, parentBefore := cpuTime(b, child), cpuTime(b, 0)
			for b.Loop() {
				frame()
			}
			b.ReportMetric(float64((cpuTime(b, child)-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
			if child != 0 {
				b.ReportMetric(float64((cpuTime(b, 0)-parentBefore).Nanoseconds())/float64(b.N), "parent-cpu-ns/op")
			}
		})
	}
}

// onlyChild returns the pid of this process's only child, 0 if none.
func onlyChild(tb testing.TB) int {
	tb.Helper()
	c := children(tb)
	if len(c) > 1 {
		tb.Fatalf("children %v, want at most one", c)
	}
	if len(c) == 0 {
		return 0
	}
	pid, _ := strconv.Atoi(strings.Fields(c[0])[0])
	return pid
}

// cpuTime is the CPU time used so far by this process and by child (if
// not 0), from /proc in clock ticks of 10 ms.
func cpuTime(tb testing.TB, child int) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	total := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if child != 0 {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat")
		if err != nil {
			tb.Fatal(err)
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		ut, _ := strconv.ParseInt(f[11], 10, 64) // stat fields 14 and 15
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * 10 * time.Millisecond
	}
	return total
}
