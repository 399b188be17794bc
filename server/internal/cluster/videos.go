package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
)

// replicaLag bounds how long fetchVideo waits for an object that is not
// found: the bucket allows direct reads, which any replica answers, and a
// replica may not have applied an object the leader just acknowledged.
const replicaLag = 3 * time.Second

// fetchVideo copies a video object of the videos bucket into a new temp
// file of st, for camera.Manager.Adopt or PublishUpload, and returns the
// object's info. The object must have the size and digest the caller
// names (when it names them): an object replaced or cut short is refused,
// and the client checks the bytes against the object's digest as it reads
// them. On error nothing is left in st; an object that stays missing is
// an ErrObjectNotFound.
func fetchVideo(ctx context.Context, obs jetstream.ObjectStore, st *store.Store, object string, size int64, digest string) (*store.TempFile, *jetstream.ObjectInfo, error) {
	res, err := obs.Get(ctx, object)
	for wait, waited := 25*time.Millisecond, time.Duration(0); errors.Is(err, jetstream.ErrObjectNotFound) && waited < replicaLag; wait *= 2 {
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("fetch video %q: %w", object, ctx.Err())
		case <-time.After(wait):
		}
		waited += wait
		res, err = obs.Get(ctx, object)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("fetch video %q: %w", object, err)
	}
	defer res.Close()
	info, err := res.Info()
	if err != nil {
		return nil, nil, fmt.Errorf("fetch video %q: %w", object, err)
	}
	if size >= 0 && int64(info.Size) != size {
		return nil, nil, media.Errorf(media.KindConflict, "video %q has %d bytes in the cluster, expected %d", object, info.Size, size)
	}
	if digest != "" && info.Digest != digest {
		return nil, nil, media.Errorf(media.KindConflict, "video %q has digest %s in the cluster, expected %s", object, info.Digest, digest)
	}
	tf, err := st.CreateTemp()
	if err != nil {
		return nil, nil, fmt.Errorf("fetch video %q: %w", object, err)
	}
	n, err := io.Copy(tf, res)
	if err == nil && n != int64(info.Size) {
		err = fmt.Errorf("read %d of %d bytes", n, info.Size)
	}
	if err != nil {
		tf.Abort()
		if errors.Is(err, jetstream.ErrDigestMismatch) {
			return nil, nil, fmt.Errorf("fetch video %q: its bytes do not match its digest", object)
		}
		return nil, nil, fmt.Errorf("fetch video %q: %w", object, err)
	}
	return tf, info, nil
}
