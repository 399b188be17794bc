package cluster

import (
	"slices"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/cluster/natstest"
	"github.com/livemon/livemon/server/internal/hub"
	"github.com/livemon/livemon/server/internal/media"
)

// BenchmarkFrameHop measures the latency NATS adds to a frame: from the
// owner's hub.Publish to the frame in an edge hub subscriber's mailbox,
// through a local NATS server, with a 60 KB JPEG (a 720p frame). It
// reports p50 and p99 in milliseconds:
//
//	go test -run '^$' -bench FrameHop -benchtime 2000x ./server/internal/cluster/
func BenchmarkFrameHop(b *testing.B) {
	srv := natstest.Single(b)
	ownHub := hub.New()
	own := connectB(b, srv.URLs(), "ingest")
	pub, err := NewPublisher(own, ownHub, PublisherOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	edgeHub := hub.New()
	feed := NewFeeder(connectB(b, srv.URLs(), "edge"), edgeHub, nil)
	defer feed.Close()
	feed.Add("cam")
	sub := edgeHub.Subscribe("cam", hub.SubscribeOptions{Transport: media.TransportWebSocket})
	defer sub.Close()
	jpeg := make([]byte, 60<<10)
	seq := uint64(0)
	hop := func() time.Duration {
		seq++
		start := time.Now()
		ownHub.Publish(&media.Frame{Camera: "cam", Epoch: 1, Seq: seq, Captured: start, Width: 1280, Height: 720, JPEG: jpeg})
		timeout := time.After(5 * time.Second)
		for {
			select {
			case <-sub.Ready():
				if f, ok := sub.Next(); ok && f.Seq == seq {
					return time.Since(start)
				}
			case <-timeout:
				b.Fatalf("frame %d did not arrive", seq)
			}
		}
	}
	// Warm up: the first frames wait for the interest to reach the owner.
	for range 20 {
		hop()
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		lat = append(lat, hop())
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(ms(0.5), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}
