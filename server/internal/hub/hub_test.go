package hub

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/livemon/livemon/server/internal/media"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func frame(cam media.CameraID, seq uint64) *media.Frame {
	return &media.Frame{Camera: cam, Epoch: 1, Seq: seq, JPEG: []byte{byte(seq)}}
}

func next(t *testing.T, s *Subscription) *media.Frame {
	t.Helper()
	select {
	case <-s.Ready():
	case <-time.After(2 * time.Second):
		t.Fatal("no frame within 2s")
	}
	f, ok := s.Next()
	if !ok {
		t.Fatal("Ready fired but no frame waiting")
	}
	return f
}

func TestLatestOnSubscribe(t *testing.T) {
	h := New()
	h.Publish(frame("a", 1))
	h.Publish(frame("a", 2))
	s := h.Subscribe("a", SubscribeOptions{Transport: "websocket"})
	defer s.Close()
	if f := next(t, s); f.Seq != 2 {
		t.Fatalf("first frame seq = %d, want latest 2", f.Seq)
	}
	skip := h.Subscribe("a", SubscribeOptions{SkipLatest: true})
	defer skip.Close()
	select {
	case <-skip.Ready():
		t.Fatal("SkipLatest subscriber got the stale latest frame")
	default:
	}
	h.Publish(frame("a", 3))
	if f := next(t, skip); f.Seq != 3 {
		t.Fatalf("seq = %d, want 3", f.Seq)
	}
}

func TestNewestWinsAndDropsCounted(t *testing.T) {
	h := New()
	s := h.Subscribe("a", SubscribeOptions{Transport: "mjpeg"})
	defer s.Close()
	for i := uint64(1); i <= 10; i++ {
		h.Publish(frame("a", i))
	}
	if f := next(t, s); f.Seq != 10 {
		t.Fatalf("seq = %d, want newest 10", f.Seq)
	}
	if _, ok := s.Next(); ok {
		t.Fatal("mailbox holds more than one frame")
	}
	if s.Drops() != 9 {
		t.Fatalf("drops = %d, want 9", s.Drops())
	}
	st, _ := h.Stats("a")
	if st.Drops["mjpeg"] != 9 || st.Viewers["mjpeg"] != 1 || st.Published != 10 {
		t.Fatalf("stats = %+v", st)
	}
}

// A subscriber that never reads must not delay the publisher or the others.
func TestSlowSubscriberDoesNotDelayOthers(t *testing.T) {
	h := New()
	stalled := h.Subscribe("a", SubscribeOptions{})
	defer stalled.Close()
	fast := h.Subscribe("a", SubscribeOptions{})
	defer fast.Close()

	const n = 2000
	got := make(chan uint64, n)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var last uint64
		for last < n {
			select {
			case <-fast.Ready():
				if f, ok := fast.Next(); ok {
					if f.Seq <= last {
						t.Errorf("seq went from %d to %d", last, f.Seq)
					}
					last = f.Seq
					got <- last
				}
			case <-time.After(5 * time.Second):
				t.Error("fast subscriber starved")
				return
			}
		}
	}()
	for i := uint64(1); i <= n; i++ {
		h.Publish(frame("a", i))
		if i%100 == 0 {
			time.Sleep(time.Millisecond) // let the reader run; the stalled one never does
		}
	}
	wg.Wait()
	close(got)
	var last uint64
	for seq := range got {
		last = seq
	}
	if last != n {
		t.Fatalf("fast subscriber ended at seq %d, want the newest %d", last, n)
	}
	if stalled.Drops() != n-1 {
		t.Fatalf("stalled drops = %d, want %d", stalled.Drops(), n-1)
	}
}

func TestWatchedLinger(t *testing.T) {
	now := time.Unix(1000, 0)
	h := New(WithLinger(10*time.Second), WithClock(func() time.Time { return now }))
	if h.Watched("a") {
		t.Fatal("unknown camera watched")
	}
	s := h.Subscribe("a", SubscribeOptions{})
	select {
	case <-h.Wake("a"):
	default:
		t.Fatal("subscribe did not wake the producer")
	}
	if !h.Watched("a") {
		t.Fatal("camera with subscriber not watched")
	}
	s.Close()
	s.Close() // idempotent
	now = now.Add(9 * time.Second)
	if !h.Watched("a") {
		t.Fatal("camera not watched within linger")
	}
	now = now.Add(2 * time.Second)
	if h.Watched("a") {
		t.Fatal("camera still watched after linger")
	}
}

func TestResetAndRemove(t *testing.T) {
	h := New()
	s := h.Subscribe("a", SubscribeOptions{})
	h.Publish(frame("a", 1))
	h.Reset("a")
	if _, ok := s.Next(); ok {
		t.Fatal("frame of a replaced run survived Reset")
	}
	if h.Latest("a") != nil {
		t.Fatal("latest survived Reset")
	}
	h.Publish(frame("a", 2))
	h.Remove("a")
	select {
	case <-s.Done():
	case <-time.After(time.Second):
		t.Fatal("Done not closed by Remove")
	}
	if _, ok := s.Next(); ok {
		t.Fatal("a removed camera's frame is still waiting")
	}
	s.Close()
	if _, ok := h.Stats("a"); ok {
		t.Fatal("removed camera still has stats")
	}
}

func TestChannelsStable(t *testing.T) {
	h := New()
	a, b := h.Channel("a"), h.Channel("b")
	if a == b || a == 0 || h.Channel("a") != a {
		t.Fatalf("channels a=%d b=%d", a, b)
	}
}

func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(strconv.Itoa(n)+"subs", func(b *testing.B) {
			h := New()
			subs := make([]*Subscription, n)
			for i := range subs {
				subs[i] = h.Subscribe("a", SubscribeOptions{Transport: "websocket"})
			}
			f := frame("a", 1)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				h.Publish(f)
			}
			b.StopTimer()
			for _, s := range subs {
				s.Close()
			}
		})
	}
}
