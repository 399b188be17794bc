package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// Camera is a camera's stored settings and checkpointed run position.
type Camera struct {
	ID      media.CameraID
	Name    string
	Loop    bool
	Speed   float64
	Running bool // the operator wants it playing
	// Epoch identifies the current run; Seq and Frame are its last
	// checkpointed frame sequence number and frame index in the file.
	Epoch    uint64
	Seq      uint64
	Frame    int64
	UploadID string // latest uploaded video; "" if none
	// SourceURL, when set, is the live source the camera plays instead
	// of its video (with its credentials: never show it unredacted, see
	// media.RedactURL). SourceTransport is kept for RTSP (later).
	SourceURL       string
	SourceTransport string
	// Grid overrides the server's grid rendition for this camera; zero
	// fields take the server's.
	Grid      media.Grid
	CreatedAt time.Time
	UpdatedAt time.Time
}

const cameraCols = `id, name, loop, speed, running, epoch, seq, frame, upload_id, source_url, source_transport, grid_width, grid_fps, created_at, updated_at`

type scanner interface{ Scan(...any) error }

func scanCamera(r scanner) (Camera, error) {
	var (
		c                Camera
		loop, running    int
		epoch, seq       int64
		created, updated int64
	)
	err := r.Scan(&c.ID, &c.Name, &loop, &c.Speed, &running, &epoch, &seq, &c.Frame, &c.UploadID, &c.SourceURL, &c.SourceTransport, &c.Grid.Width, &c.Grid.FPS, &created, &updated)
	if err != nil {
		return Camera{}, err
	}
	c.Loop, c.Running = loop != 0, running != 0
	c.Epoch, c.Seq = uint64(epoch), uint64(seq)
	c.CreatedAt, c.UpdatedAt = fromNanos(created), fromNanos(updated)
	return c, nil
}

func errNoCamera(id media.CameraID) error {
	return media.Errorf(media.KindNotFound, "camera %q does not exist", id)
}

// Cameras lists all cameras, oldest first.
func (s *Store) Cameras(ctx context.Context) ([]Camera, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+cameraCols+` FROM cameras ORDER BY created_at, rowid`)
	if err != nil {
		return nil, fmt.Errorf("list cameras: %w", err)
	}
	defer rows.Close()
	var cams []Camera
	for rows.Next() {
		c, err := scanCamera(rows)
		if err != nil {
			return nil, fmt.Errorf("list cameras: %w", err)
		}
		cams = append(cams, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list cameras: %w", err)
	}
	return cams, nil
}

// Camera returns one camera, or a KindNotFound error.
func (s *Store) Camera(ctx context.Context, id media.CameraID) (Camera, error) {
	return getCamera(ctx, s.db, id)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getCamera(ctx context.Context, q querier, id media.CameraID) (Camera, error) {
	c, err := scanCamera(q.QueryRowContext(ctx, `SELECT `+cameraCols+` FROM cameras WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Camera{}, errNoCamera(id)
	}
	if err != nil {
		return Camera{}, fmt.Errorf("read camera %q: %w", id, err)
	}
	return c, nil
}

// CreateCamera stores a new camera without a video. The id must be valid
// (media.ParseCameraID); an empty Name becomes the id and a Speed <= 0
// becomes 1. A camera created with a SourceURL is Running; other run
// fields (Running, Seq, Frame, UploadID) start at zero and
// Epoch at the id's epoch floor (the last epoch of a deleted camera with
// this id, else 0). It returns a KindConflict error if the camera exists.
func (s *Store) CreateCamera(ctx context.Context, c Camera) (Camera, error) {
	if _, err := media.ParseCameraID(string(c.ID)); err != nil {
		return Camera{}, err
	}
	now := s.now().UTC()
	c = Camera{ID: c.ID, Name: c.Name, Loop: c.Loop, Speed: c.Speed, SourceURL: c.SourceURL,
		SourceTransport: c.SourceTransport, Running: c.SourceURL != "", CreatedAt: now, UpdatedAt: now}
	if c.Name == "" {
		c.Name = string(c.ID)
	}
	if c.Speed <= 0 {
		c.Speed = 1
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := getCamera(ctx, tx, c.ID); err == nil {
			return media.Errorf(media.KindConflict, "camera %q already exists", c.ID)
		} else if !media.IsKind(err, media.KindNotFound) {
			return err
		}
		var err error
		c, err = insertCamera(ctx, tx, c)
		return err
	})
	if err != nil {
		return Camera{}, mapDiskFull(err)
	}
	return c, nil
}

// insertCamera adds c, starting its epoch at the id's floor (see
// epochFloor) when that is higher, and returns it as stored.
func insertCamera(ctx context.Context, tx *sql.Tx, c Camera) (Camera, error) {
	floor, err := epochFloor(ctx, tx, c.ID)
	if err != nil {
		return Camera{}, err
	}
	c.Epoch = max(c.Epoch, floor)
	_, err = tx.ExecContext(ctx, `INSERT INTO cameras (`+cameraCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		c.ID, c.Name, boolInt(c.Loop), c.Speed, boolInt(c.Running), int64(c.Epoch), int64(c.Seq), c.Frame,
		c.UploadID, c.SourceURL, c.SourceTransport, c.Grid.Width, c.Grid.FPS, nanos(c.CreatedAt), nanos(c.UpdatedAt))
	if err != nil {
		return Camera{}, fmt.Errorf("insert camera %q: %w", c.ID, err)
	}
	return c, nil
}

func updateCamera(ctx context.Context, tx *sql.Tx, c Camera) error {
	_, err := tx.ExecContext(ctx, `UPDATE cameras SET name=?, loop=?, speed=?, running=?, epoch=?, seq=?, frame=?, upload_id=?, source_url=?, source_transport=?, grid_width=?, grid_fps=?, updated_at=? WHERE id=?`,
		c.Name, boolInt(c.Loop), c.Speed, boolInt(c.Running), int64(c.Epoch), int64(c.Seq), c.Frame, c.UploadID,
		c.SourceURL, c.SourceTransport, c.Grid.Width, c.Grid.FPS, nanos(c.UpdatedAt), c.ID)
	if err != nil {
		return fmt.Errorf("update camera %q: %w", c.ID, err)
	}
	return nil
}

// UpdateCamera reads the camera, applies fn and writes the result in one
// transaction. fn may change Name, Loop, Speed, Grid, Running, Epoch, Seq
// and Frame; changes to ID, UploadID, the source and the timestamps are
// ignored (SetCameraSource and PublishUpload change those). An error
// from fn aborts the update and is returned as is. Running=true for a
// camera without a video is a KindConflict error.
func (s *Store) UpdateCamera(ctx context.Context, id media.CameraID, fn func(*Camera) error) (Camera, error) {
	return s.changeCamera(ctx, id, func(c *Camera) error {
		old := *c
		if err := fn(c); err != nil {
			return err
		}
		c.ID, c.UploadID, c.CreatedAt = old.ID, old.UploadID, old.CreatedAt
		c.SourceURL, c.SourceTransport = old.SourceURL, old.SourceTransport
		if c.Running && c.UploadID == "" && c.SourceURL == "" {
			return media.Errorf(media.KindConflict, "camera %q has no video", id)
		}
		return nil
	})
}

// changeCamera reads the camera, applies fn and writes the result with a
// new UpdatedAt, in one transaction.
func (s *Store) changeCamera(ctx context.Context, id media.CameraID, fn func(*Camera) error) (Camera, error) {
	var out Camera
	err := s.tx(ctx, func(tx *sql.Tx) error {
		c, err := getCamera(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := fn(&c); err != nil {
			return err
		}
		c.UpdatedAt = s.now().UTC()
		if err := updateCamera(ctx, tx, c); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		return Camera{}, mapDiskFull(err)
	}
	return out, nil
}

// SetCameraSource switches the camera to a live source URL as a new run:
// Epoch+1, Seq=0, Frame=0, Running=true. Its uploaded video, if any, is
// kept (an upload switches the camera back to a file).
func (s *Store) SetCameraSource(ctx context.Context, id media.CameraID, rawURL, transport string) (Camera, error) {
	return s.changeCamera(ctx, id, func(c *Camera) error {
		c.SourceURL, c.SourceTransport = rawURL, transport
		c.Epoch++
		c.Seq, c.Frame, c.Running = 0, 0, true
		return nil
	})
}

// RestartCamera starts the camera's video from the beginning as a new run:
// Epoch+1, Seq=0, Frame=0, Running=true. A camera without a video is a
// KindConflict error.
func (s *Store) RestartCamera(ctx context.Context, id media.CameraID) (Camera, error) {
	return s.UpdateCamera(ctx, id, func(c *Camera) error {
		if c.UploadID == "" && c.SourceURL == "" {
			return media.Errorf(media.KindConflict, "camera %q has no video", id)
		}
		c.Epoch++
		c.Seq, c.Frame, c.Running = 0, 0, true
		return nil
	})
}

// Checkpoint records the position of a camera's run. It writes only if
// epoch is the camera's current epoch and seq does not go backwards, so a
// decoder of a replaced run cannot overwrite the new run's position; such
// a stale checkpoint is ignored and returns nil. A missing camera is a
// KindNotFound error.
func (s *Store) Checkpoint(ctx context.Context, id media.CameraID, epoch, seq uint64, frame int64) error {
	res, err := s.db.ExecContext(ctx, `UPDATE cameras SET seq=?, frame=?, updated_at=? WHERE id=? AND epoch=? AND seq<=?`,
		int64(seq), frame, nanos(s.now()), id, int64(epoch), int64(seq))
	if err != nil {
		return mapDiskFull(fmt.Errorf("checkpoint camera %q: %w", id, err))
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		if _, err := getCamera(ctx, s.db, id); err != nil {
			return err
		}
	}
	return nil
}

// DeleteCamera removes the camera, its uploads and the session
// subscriptions to it, then deletes its video files. The camera's epoch is
// kept as the id's epoch floor. It returns the
// removed uploads. The caller stops the camera's decoder first. Failing to
// remove a file is returned as an error after the rows are gone.
func (s *Store) DeleteCamera(ctx context.Context, id media.CameraID) ([]Upload, error) {
	var ups []Upload
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := getCamera(ctx, tx, id); err != nil {
			return err
		}
		var err error
		if ups, err = cameraUploads(ctx, tx, id); err != nil {
			return err
		}
		// Keep the epoch for a camera created again with this id.
		if _, err := tx.ExecContext(ctx, `INSERT INTO epoch_floors (id, epoch)
			SELECT id, epoch FROM cameras WHERE id = ?
			ON CONFLICT(id) DO UPDATE SET epoch = max(epoch, excluded.epoch)`, id); err != nil {
			return fmt.Errorf("delete camera %q: keep epoch: %w", id, err)
		}
		for _, q := range []string{
			`DELETE FROM subscriptions WHERE camera = ?`,
			`DELETE FROM uploads WHERE camera = ?`,
			`DELETE FROM cameras WHERE id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("delete camera %q: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, u := range ups {
		errs = append(errs, s.removeVideo(u))
	}
	return ups, errors.Join(errs...)
}

// RaiseEpochFloor raises the id's epoch floor to at least epoch (a floor
// kept elsewhere: a cluster's, for a camera deleted on another node), so
// a camera created with the id afterwards starts its epochs there.
func (s *Store) RaiseEpochFloor(ctx context.Context, id media.CameraID, epoch uint64) error {
	if _, err := media.ParseCameraID(string(id)); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO epoch_floors (id, epoch) VALUES (?, ?)
		ON CONFLICT(id) DO UPDATE SET epoch = max(epoch, excluded.epoch)`, id, int64(epoch))
	if err != nil {
		return mapDiskFull(fmt.Errorf("raise epoch floor of %q: %w", id, err))
	}
	return nil
}

// epochFloor is the last epoch of a deleted camera with this id, or 0. A
// camera created with the id starts its epochs there, so a viewer that
// watched the old one never sees the epoch go backwards.
func epochFloor(ctx context.Context, q querier, id media.CameraID) (uint64, error) {
	var e int64
	err := q.QueryRowContext(ctx, `SELECT epoch FROM epoch_floors WHERE id = ?`, id).Scan(&e)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read epoch floor of %q: %w", id, err)
	}
	return uint64(e), nil
}
