package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/livemon/livemon/server/internal/media"
)

// The cluster's epoch floors: BucketEpochs maps a camera id to the last
// epoch of a deleted camera with that id (decimal). The owner raises it
// before it deletes a camera; an ingest creating a camera reads it after
// taking the new camera's lease and starts the camera there, as a single
// node's store does with its own floors. Since the delete releases the
// lease only after the floor is written, and a create reads the floor only
// after taking the lease, a camera created again, on any ingest, starts
// above every epoch a viewer saw for the id.

// floorAttempts bounds the read-modify-write of a floor that others
// write at the same time.
const floorAttempts = 5

// errStateUnavailable wraps a failed floor read or write: the cluster's
// state is not reachable right now (a JetStream leader election).
func errStateUnavailable(err error) error {
	return media.WrapError(media.KindCameraUnavailable, err, "the cluster's state cannot be reached right now; try again in a few seconds")
}

// epochFloor reads the id's floor, 0 without one.
func epochFloor(ctx context.Context, kv jetstream.KeyValue, id media.CameraID) (uint64, uint64, error) {
	e, err := kv.Get(ctx, string(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, errStateUnavailable(fmt.Errorf("read epoch floor of camera %q: %w", id, err))
	}
	floor, err := strconv.ParseUint(string(e.Value()), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("epoch floor of camera %q: %w", id, err)
	}
	return floor, e.Revision(), nil
}

// raiseEpochFloor makes the id's floor at least epoch.
func raiseEpochFloor(ctx context.Context, kv jetstream.KeyValue, id media.CameraID, epoch uint64) error {
	val := []byte(strconv.FormatUint(epoch, 10))
	for range floorAttempts {
		floor, rev, err := epochFloor(ctx, kv, id)
		if err != nil {
			return err
		}
		if rev != 0 && floor >= epoch {
			return nil
		}
		if rev == 0 {
			_, err = kv.Create(ctx, string(id), val)
		} else {
			_, err = kv.Update(ctx, string(id), val, rev)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return errStateUnavailable(fmt.Errorf("write epoch floor of camera %q: %w", id, err))
		}
	}
	return errStateUnavailable(fmt.Errorf("write epoch floor of camera %q: %d concurrent writes", id, floorAttempts))
}
