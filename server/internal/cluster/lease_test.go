package cluster

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/livemon/livemon/server/internal/cluster/natstest"
	"github.com/livemon/livemon/server/internal/media"
)

// One holder at a time; a release frees the lease at once; a write by
// anyone else loses it at the next renewal.
func TestLeases(t *testing.T) {
	srv := natstest.Single(t)
	c := connect(t, srv.URLs(), "a")
	ctx := context.Background()
	a, b := newLeases(c.Owners, "a", c.NATS().IsConnected), newLeases(c.Owners, "b", c.NATS().IsConnected)
	if ok, err := a.acquire(ctx, "cam"); !ok || err != nil {
		t.Fatalf("a acquire: %v %v", ok, err)
	}
	if ok, err := b.acquire(ctx, "cam"); ok || err != nil {
		t.Fatalf("b acquired a held lease: %v %v", ok, err)
	}
	if lost := a.renew(ctx); len(lost) != 0 || !a.holds("cam") {
		t.Fatalf("renewal lost %v", lost)
	}
	if err := a.release(ctx, "cam"); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.acquire(ctx, "cam"); !ok || err != nil {
		t.Fatalf("b could not take a released lease: %v %v", ok, err)
	}
	// a takes it back behind b's back (as after an expiry): b's next
	// renewal finds another revision.
	if _, err := c.Owners.Put(ctx, "cam", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if lost := b.renew(ctx); !slices.Equal(lost, []media.CameraID{"cam"}) || b.holds("cam") {
		t.Fatalf("b's renewal after someone else's write: lost %v, holds %v", lost, b.holds("cam"))
	}
}

// A holder cut off from NATS gives its leases up after leaseFence, before
// they can expire for anyone else; not before.
func TestLeaseFence(t *testing.T) {
	srv := natstest.Single(t)
	c := connect(t, srv.URLs(), "a")
	ctx := context.Background()
	clock := &fakeClock{t: time.Now()}
	l := newLeases(c.Owners, "a", c.NATS().IsConnected)
	l.now = clock.now
	if ok, err := l.acquire(ctx, "cam"); !ok || err != nil {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	srv.Shutdown(0)
	clock.add(leaseFence - time.Second)
	if lost := l.renew(ctx); len(lost) != 0 {
		t.Fatalf("lost %v before the fence", lost)
	}
	clock.add(time.Second)
	if lost := l.renew(ctx); !slices.Equal(lost, []media.CameraID{"cam"}) {
		t.Fatalf("lost %v at the fence, want [cam]", lost)
	}
	if leaseFence >= OwnerLeaseTTL {
		t.Fatalf("fence %v is not before the TTL %v", leaseFence, OwnerLeaseTTL)
	}
}

// unansweredKV is a bucket whose writes get no answer while down is set,
// as during a JetStream leader election.
type unansweredKV struct {
	jetstream.KeyValue
	down atomic.Bool
}

func (k *unansweredKV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if k.down.Load() {
		return 0, context.DeadlineExceeded
	}
	return k.KeyValue.Update(ctx, key, value, rev)
}

// A holder still connected to NATS keeps its lease while the bucket does
// not answer (a leader election), past the fence, up to leaseOutage; when
// the bucket answers again and the key expired meanwhile, it takes it
// again. One whose key somebody else took loses it.
func TestLeaseSurvivesBucketOutage(t *testing.T) {
	srv := natstest.Single(t)
	c := connect(t, srv.URLs(), "a")
	ctx := context.Background()
	clock := &fakeClock{t: time.Now()}
	kv := &unansweredKV{KeyValue: c.Owners}
	l := newLeases(kv, "a", c.NATS().IsConnected)
	l.now = clock.now
	if ok, err := l.acquire(ctx, "cam"); !ok || err != nil {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	kv.down.Store(true)
	clock.add(leaseFence + time.Second)
	if lost := l.renew(ctx); len(lost) != 0 {
		t.Fatalf("lost %v past the fence while connected and the bucket did not answer", lost)
	}
	// The key expires meanwhile (here: is deleted); nobody takes it.
	if err := c.Owners.Delete(ctx, "cam"); err != nil {
		t.Fatal(err)
	}
	kv.down.Store(false)
	clock.add(time.Second)
	if lost := l.renew(ctx); len(lost) != 0 || !l.holds("cam") {
		t.Fatalf("renewal of an expired key nobody took: lost %v", lost)
	}
	if e, err := c.Owners.Get(ctx, "cam"); err != nil || string(e.Value()) != "a" {
		t.Fatalf("lease after the outage: %v %v", e, err)
	}

	// Connected, but the bucket does not answer for leaseOutage.
	kv.down.Store(true)
	clock.add(leaseOutage - time.Second)
	if lost := l.renew(ctx); len(lost) != 0 {
		t.Fatalf("lost %v before leaseOutage", lost)
	}
	clock.add(time.Second)
	if lost := l.renew(ctx); !slices.Equal(lost, []media.CameraID{"cam"}) {
		t.Fatalf("lost %v after leaseOutage without an answer, want [cam]", lost)
	}

	// Expired and taken by b meanwhile: lost at the next answer.
	kv.down.Store(false)
	if ok, err := l.acquire(ctx, "cam2"); !ok || err != nil {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	if err := c.Owners.Delete(ctx, "cam2"); err != nil {
		t.Fatal(err)
	}
	if ok, err := newLeases(c.Owners, "b", c.NATS().IsConnected).acquire(ctx, "cam2"); !ok || err != nil {
		t.Fatalf("b acquire: %v %v", ok, err)
	}
	if lost := l.renew(ctx); !slices.Equal(lost, []media.CameraID{"cam2"}) {
		t.Fatalf("lost %v after b took the expired key, want [cam2]", lost)
	}
}

// A renewal whose answer was lost (the write happened, a leader changed
// before the acknowledgement) finds its own write and keeps the lease.
func TestLeaseFindsItsOwnWrite(t *testing.T) {
	srv := natstest.Single(t)
	c := connect(t, srv.URLs(), "a")
	ctx := context.Background()
	l := newLeases(c.Owners, "a", c.NATS().IsConnected)
	if ok, err := l.acquire(ctx, "cam"); !ok || err != nil {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	if _, err := c.Owners.Put(ctx, "cam", []byte("a")); err != nil { // our write, unacknowledged
		t.Fatal(err)
	}
	if lost := l.renew(ctx); len(lost) != 0 || !l.holds("cam") {
		t.Fatalf("renewal after its own unacknowledged write: lost %v", lost)
	}
}
