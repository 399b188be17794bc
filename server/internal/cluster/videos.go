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

// replicaLag bounds how long fetchVideo retries an object that is not
// found, or whose bytes came short or do not match its digest: the bucket
// allows direct reads, which any replica answers, and the chunks come
// through a consumer that may sit on a replica; a replica may not have
// applied an object the leader just acknowledged.
const replicaLag = 3 * time.Second

// errShortRead is a read that ended before the object's size.
var errShortRead = errors.New("the object's bytes ended early")

// fetchVideo copies a video object of the videos bucket into a new temp
// file of st, for camera.Manager.Adopt or PublishUpload, and returns the
// object's info. The object must have the size and digest the caller
// names (when it names them): an object replaced or cut short is refused,
// and the client checks the bytes against the object's digest as it reads
// them. On error nothing is left in st; an object that stays missing is
// an ErrObjectNotFound.
func fetchVideo(ctx context.Context, obs jetstream.ObjectStore, st *store.Store, object string, size int64, digest string) (*store.TempFile, *jetstream.ObjectInfo, error) {
	tf, info, err := fetchOnce(ctx, obs, st, object, size, digest)
	for wait, waited := 25*time.Millisecond, time.Duration(0); replicaBehind(err) && waited < replicaLag; wait *= 2 {
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("fetch video %q: %w", object, ctx.Err())
		case <-time.After(wait):
		}
		waited += wait
		tf, info, err = fetchOnce(ctx, obs, st, object, size, digest)
	}
	if errors.Is(err, jetstream.ErrDigestMismatch) {
		return nil, nil, fmt.Errorf("fetch video %q: its bytes do not match its digest", object)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("fetch video %q: %w", object, err)
	}
	return tf, info, nil
}

// replicaBehind reports an error a replica that lags the leader gives.
func replicaBehind(err error) bool {
	return errors.Is(err, jetstream.ErrObjectNotFound) || errors.Is(err, jetstream.ErrDigestMismatch) || errors.Is(err, errShortRead)
}

func fetchOnce(ctx context.Context, obs jetstream.ObjectStore, st *store.Store, object string, size int64, digest string) (*store.TempFile, *jetstream.ObjectInfo, error) {
	res, err := obs.Get(ctx, object)
	if err != nil {
		return nil, nil, err
	}
	defer res.Close()
	info, err := res.Info()
	if err != nil {
		return nil, nil, err
	}
	if size >= 0 && int64(info.Size) != size {
		return nil, nil, media.Errorf(media.KindConflict, "video %q has %d bytes in the cluster, expected %d", object, info.Size, size)
	}
	if digest != "" && info.Digest != digest {
		return nil, nil, media.Errorf(media.KindConflict, "video %q has digest %s in the cluster, expected %s", object, info.Digest, digest)
	}
	tf, err := st.CreateTemp()
	if err != nil {
		return nil, nil, err
	}
	n, err := io.Copy(tf, res)
	if err == nil && n != int64(info.Size) {
		err = fmt.Errorf("read %d of %d bytes: %w", n, info.Size, errShortRead)
	}
	if err != nil {
		tf.Abort()
		return nil, nil, err
	}
	return tf, info, nil
}
