package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/livemon/livemon/server/internal/store"
)

// fetchVideo copies a video object of the videos bucket into a new temp
// file of st, for camera.Manager.Adopt or PublishUpload. The object must
// have the size and digest the record names (when it names them): an
// object replaced or cut short is refused, and the client checks the
// bytes against the object's digest as it reads them. On error nothing is
// left in st.
func fetchVideo(ctx context.Context, obs jetstream.ObjectStore, st *store.Store, object string, size int64, digest string) (*store.TempFile, error) {
	res, err := obs.Get(ctx, object)
	if err != nil {
		return nil, fmt.Errorf("fetch video %q: %w", object, err)
	}
	defer res.Close()
	info, err := res.Info()
	if err != nil {
		return nil, fmt.Errorf("fetch video %q: %w", object, err)
	}
	if size >= 0 && int64(info.Size) != size {
		return nil, fmt.Errorf("fetch video %q: object has %d bytes, the camera's record %d", object, info.Size, size)
	}
	if digest != "" && info.Digest != digest {
		return nil, fmt.Errorf("fetch video %q: object digest %s, the camera's record %s", object, info.Digest, digest)
	}
	tf, err := st.CreateTemp()
	if err != nil {
		return nil, fmt.Errorf("fetch video %q: %w", object, err)
	}
	n, err := io.Copy(tf, res)
	if err == nil && n != int64(info.Size) {
		err = fmt.Errorf("read %d of %d bytes", n, info.Size)
	}
	if err != nil {
		tf.Abort()
		if errors.Is(err, jetstream.ErrDigestMismatch) {
			return nil, fmt.Errorf("fetch video %q: its bytes do not match its digest", object)
		}
		return nil, fmt.Errorf("fetch video %q: %w", object, err)
	}
	return tf, nil
}
