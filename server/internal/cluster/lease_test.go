package cluster

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/cluster/natstest"
	"github.com/livemon/livemon/server/internal/media"
)

// One holder at a time; a release frees the lease at once; a write by
// anyone else loses it at the next renewal.
func TestLeases(t *testing.T) {
	srv := natstest.Single(t)
	c := connect(t, srv.URLs(), "a")
	ctx := context.Background()
	a, b := newLeases(c.Owners, "a"), newLeases(c.Owners, "b")
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
	l := newLeases(c.Owners, "a")
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
