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
// owners bucket's TTL) and its holder renews it every LeaseRenew. A holder
// that has not renewed for leaseFence gives the camera up on its own,
// before the lease can expire and another ingest take the camera: two
// ingests never run one camera, even when the holder is cut off from NATS.
const (
	LeaseRenew = time.Second
	leaseFence = OwnerLeaseTTL - 1500*time.Millisecond
)

// leases are this node's leases on cameras: keys of the owners bucket
// (camera id -> node id) written with revision checks, so a lease is held
// by exactly the node whose write the bucket has last.
//
// Safe for use by any goroutine; no method holds mu across NATS I/O.
type leases struct {
	kv   jetstream.KeyValue
	node string
	now  func() time.Time

	mu   sync.Mutex
	held map[media.CameraID]lease
}

type lease struct {
	rev     uint64    // revision of our last write
	renewed time.Time // when that write was acknowledged
}

func newLeases(kv jetstream.KeyValue, node string) *leases {
	return &leases{kv: kv, node: node, now: time.Now, held: make(map[media.CameraID]lease)}
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
// that are lost: another node wrote the key (or it expired, so the
// revision moved on), or no renewal succeeded for leaseFence. A lost
// lease is forgotten here; the caller stops its camera at once.
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
		var rev uint64
		err := rctx.Err()
		if err == nil {
			rev, err = l.kv.Update(rctx, string(id), []byte(l.node), cur.rev)
		}
		l.mu.Lock()
		if now, gone := l.now(), l.held[id] != cur; gone {
			// Released (or released and taken again) while we renewed.
		} else if err == nil {
			l.held[id] = lease{rev: rev, renewed: now}
		} else if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) ||
			now.Sub(cur.renewed) >= leaseFence {
			delete(l.held, id)
			lost = append(lost, id)
		}
		l.mu.Unlock()
	}
	return lost
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
