package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/livemon/livemon/server/internal/media"
)

// Lease timings: a lease lives OwnerLeaseTTL after its last renewal (the
// owners bucket's TTL) and its holder renews it every LeaseRenew.
//
// A holder gives a camera up on its own (the fence) when it cannot be
// sure it still holds the lease:
//   - at once when the bucket answers that the key is someone else's;
//   - after leaseFence without a renewal while it is cut off from NATS
//     (its frames flow nowhere, and nobody can reach its handlers, so
//     another ingest may take the camera once the lease expires: the
//     fence comes first);
//   - after leaseOutage without a renewal while connected (the bucket
//     does not answer: a JetStream leader election, which must not move
//     or stop cameras, lasts seconds, not this long).
//
// A renewal that finds the key gone (it expired while the bucket did not
// answer) takes it again with Create, which fails if anybody else took it
// meanwhile. Ingest.adopt takes no camera whose holder still answers for
// it, so nobody takes a lease its holder still runs (docs/architecture.md,
// "Leases and JetStream elections").
const (
	LeaseRenew  = time.Second
	leaseFence  = OwnerLeaseTTL - 1500*time.Millisecond
	leaseOutage = 30 * time.Second
)

// leases are this node's leases on cameras: keys of the owners bucket
// (camera id -> node id) written with revision checks, so a lease is held
// by exactly the node whose write the bucket has last.
//
// Safe for use by any goroutine; no method holds mu across NATS I/O.
type leases struct {
	kv        jetstream.KeyValue
	node      string
	now       func() time.Time
	connected func() bool // the NATS connection is up

	mu   sync.Mutex
	held map[media.CameraID]lease
}

type lease struct {
	rev     uint64    // revision of our last write
	renewed time.Time // when that write was acknowledged
}

func newLeases(kv jetstream.KeyValue, node string, connected func() bool) *leases {
	return &leases{kv: kv, node: node, now: time.Now, connected: connected, held: make(map[media.CameraID]lease)}
}

// acquire takes the camera's lease if nobody holds it. It reports false,
// without an error, when another node holds it (or this node already
// does).
func (l *leases) acquire(ctx context.Context, id media.CameraID) (bool, error) {
	if l.holds(id) {
		return false, nil
	}
	rev, err := l.kv.Create(ctx, string(id), []byte(l.node))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("acquire lease on camera %q: %w", id, err)
	}
	l.mu.Lock()
	l.held[id] = lease{rev: rev, renewed: l.now()}
	l.mu.Unlock()
	return true, nil
}

// holds reports whether this node holds the camera's lease.
func (l *leases) holds(id media.CameraID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.held[id]
	return ok
}

// ids returns the cameras whose leases this node holds.
func (l *leases) ids() []media.CameraID {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]media.CameraID, 0, len(l.held))
	for id := range l.held {
		out = append(out, id)
	}
	return out
}

// renew renews every held lease once, all within one LeaseRenew (so a
// NATS outage cannot stretch a round past the fence), and returns those
// that are lost (see the fence above). A lost lease is forgotten here;
// the caller stops its camera at once.
func (l *leases) renew(ctx context.Context) []media.CameraID {
	rctx, cancel := context.WithTimeout(ctx, LeaseRenew)
	defer cancel()
	var lost []media.CameraID
	for _, id := range l.ids() {
		l.mu.Lock()
		cur, ok := l.held[id]
		l.mu.Unlock()
		if !ok {
			continue
		}
		rev, err := l.renewOne(rctx, id, cur.rev)
		l.mu.Lock()
		if now, gone := l.now(), l.held[id] != cur; gone {
			// Released (or released and taken again) while we renewed.
		} else if err == nil {
			l.held[id] = lease{rev: rev, renewed: now}
		} else if errors.Is(err, errNotOurs) || now.Sub(cur.renewed) >= leaseOutage ||
			(now.Sub(cur.renewed) >= leaseFence && !l.connected()) {
			delete(l.held, id)
			lost = append(lost, id)
		}
		l.mu.Unlock()
	}
	return lost
}

// errNotOurs: the bucket says another node holds the lease.
var errNotOurs = errors.New("lease held by another node")

// renewOne renews one lease written at rev and returns the new revision.
// A key that is gone (expired while the bucket did not answer, or
// deleted) is taken again if nobody else has; errNotOurs if somebody has.
// Other errors mean the bucket did not answer.
func (l *leases) renewOne(ctx context.Context, id media.CameraID, rev uint64) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	newRev, err := l.kv.Update(ctx, string(id), []byte(l.node), rev)
	if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return newRev, err
	}
	// Someone else's write, our own whose answer we missed (a leader
	// change), or no key: Create, then the value, tell them apart. Only
	// this node writes its own id.
	newRev, err = l.kv.Create(ctx, string(id), []byte(l.node))
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return newRev, err
	}
	e, err := l.kv.Get(ctx, string(id))
	if err != nil {
		return 0, err
	}
	if string(e.Value()) != l.node {
		return 0, errNotOurs
	}
	return e.Revision(), nil
}

// release gives the camera's lease up, so another node can take it at
// once instead of after the TTL. Only our own write is deleted.
func (l *leases) release(ctx context.Context, id media.CameraID) error {
	l.mu.Lock()
	cur, ok := l.held[id]
	delete(l.held, id)
	l.mu.Unlock()
	if !ok {
		return nil
	}
	err := l.kv.Delete(ctx, string(id), jetstream.LastRevision(cur.rev))
	if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !isWrongLastSeq(err) {
		return fmt.Errorf("release lease on camera %q: %w", id, err)
	}
	return nil
}

// drop forgets a lease without touching the bucket (it was lost).
func (l *leases) drop(id media.CameraID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.held, id)
}

// isWrongLastSeq reports a failed revision check of a delete (which the
// client does not map to ErrKeyRevisionMismatch).
func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
