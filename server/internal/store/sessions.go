package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/livemon/livemon/server/internal/media"
)

// SessionKey identifies a stored session: the SHA-256 of its id. The raw
// session id is never stored, so a copy of the database cannot be used to
// take over sessions.
type SessionKey [32]byte

// SessionRecord is a stored session.
type SessionRecord struct {
	Key       SessionKey
	CreatedAt time.Time
	LastSeen  time.Time
	// ExpiresAt is zero while a connection holds the session.
	ExpiresAt     time.Time
	Subscriptions []Subscription
}

// Subscription is a session's subscription to a camera, the rendition it
// watches and the last frame delivered to it.
type Subscription struct {
	Camera    media.CameraID
	Rendition media.Rendition // "" is media.RenditionFull
	Epoch     uint64
	LastSeq   uint64
}

func nullTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: nanos(t), Valid: true}
}

// CreateSession stores a new, connected session (no expiry).
func (s *Store) CreateSession(ctx context.Context, key SessionKey, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (hash, created_at, last_seen, expires_at) VALUES (?,?,?,NULL)`,
		key[:], nanos(now), nanos(now))
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// LoadSession returns a stored session with its subscriptions, or a
// KindNotFound error.
func (s *Store) LoadSession(ctx context.Context, key SessionKey) (SessionRecord, error) {
	rec := SessionRecord{Key: key}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var created, seen int64
		var exp sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT created_at, last_seen, expires_at FROM sessions WHERE hash = ?`, key[:]).
			Scan(&created, &seen, &exp)
		if errors.Is(err, sql.ErrNoRows) {
			return media.Errorf(media.KindNotFound, "session does not exist")
		}
		if err != nil {
			return fmt.Errorf("read session: %w", err)
		}
		rec.CreatedAt, rec.LastSeen = fromNanos(created), fromNanos(seen)
		if exp.Valid {
			rec.ExpiresAt = fromNanos(exp.Int64)
		}
		rows, err := tx.QueryContext(ctx, `SELECT camera, rendition, epoch, last_seq FROM subscriptions WHERE session = ? ORDER BY camera`, key[:])
		if err != nil {
			return fmt.Errorf("read session subscriptions: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var sub Subscription
			var epoch, seq int64
			var rend string
			if err := rows.Scan(&sub.Camera, &rend, &epoch, &seq); err != nil {
				return fmt.Errorf("read session subscriptions: %w", err)
			}
			if sub.Rendition, err = media.ParseRendition(rend); err != nil {
				sub.Rendition = media.RenditionFull // a name this server does not know
			}
			sub.Epoch, sub.LastSeq = uint64(epoch), uint64(seq)
			rec.Subscriptions = append(rec.Subscriptions, sub)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read session subscriptions: %w", err)
		}
		return nil
	})
	if err != nil {
		return SessionRecord{}, err
	}
	return rec, nil
}

// TouchSession sets a session's last_seen and expiry; a zero expiresAt
// means connected (no expiry). A missing session is a KindNotFound error.
func (s *Store) TouchSession(ctx context.Context, key SessionKey, lastSeen, expiresAt time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE sessions SET last_seen = ?, expires_at = ? WHERE hash = ?`,
		nanos(lastSeen), nullTime(expiresAt), key[:])
	if err != nil {
		return fmt.Errorf("update session: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return media.Errorf(media.KindNotFound, "session does not exist")
	}
	return nil
}

// DeleteSession removes a session and its subscriptions; a missing one is
// fine.
func (s *Store) DeleteSession(ctx context.Context, key SessionKey) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM subscriptions WHERE session = ?`, `DELETE FROM sessions WHERE hash = ?`} {
			if _, err := tx.ExecContext(ctx, q, key[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// PutSubscription adds a subscription; an existing one keeps its last
// delivered frame and takes sub's rendition. A missing session or camera
// is a KindNotFound error.
func (s *Store) PutSubscription(ctx context.Context, key SessionKey, sub Subscription) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := getCamera(ctx, tx, sub.Camera); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE hash = ?`, key[:]).Scan(&n); err != nil {
			return fmt.Errorf("subscribe to camera %q: %w", sub.Camera, err)
		}
		if n == 0 {
			return media.Errorf(media.KindNotFound, "session does not exist")
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (session, camera, rendition, epoch, last_seq) VALUES (?,?,?,?,?)
			ON CONFLICT (session, camera) DO UPDATE SET rendition = excluded.rendition`,
			key[:], sub.Camera, string(sub.Rendition.OrFull()), int64(sub.Epoch), int64(sub.LastSeq))
		if err != nil {
			return fmt.Errorf("subscribe to camera %q: %w", sub.Camera, err)
		}
		return nil
	})
}

// DeleteSubscription removes a subscription; a missing one is fine.
func (s *Store) DeleteSubscription(ctx context.Context, key SessionKey, cam media.CameraID) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM subscriptions WHERE session = ? AND camera = ?`, key[:], cam); err != nil {
		return fmt.Errorf("unsubscribe from camera %q: %w", cam, err)
	}
	return nil
}

// DeleteSubscriptionsTo removes every session's subscription to a camera.
func (s *Store) DeleteSubscriptionsTo(ctx context.Context, cam media.CameraID) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM subscriptions WHERE camera = ?`, cam); err != nil {
		return fmt.Errorf("remove subscriptions to camera %q: %w", cam, err)
	}
	return nil
}

// SaveDelivered records the last delivered frames of existing
// subscriptions in one transaction. Subscriptions that no longer exist
// are not recreated.
func (s *Store) SaveDelivered(ctx context.Context, key SessionKey, subs []Subscription) error {
	if len(subs) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, sub := range subs {
			_, err := tx.ExecContext(ctx, `UPDATE subscriptions SET epoch = ?, last_seq = ? WHERE session = ? AND camera = ?`,
				int64(sub.Epoch), int64(sub.LastSeq), key[:], sub.Camera)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save delivered frames: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions that expired at or before now,
// and sessions left marked connected by a crash: expires_at is NULL and
// last_seen is at or before staleBefore, unless live reports the key as
// held by a connection of this process. It returns how many it removed.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now, staleBefore time.Time, live func(SessionKey) bool) (int, error) {
	removed := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT hash FROM sessions
			WHERE expires_at <= ? OR (expires_at IS NULL AND last_seen <= ?)`, nanos(now), nanos(staleBefore))
		if err != nil {
			return err
		}
		var keys []SessionKey
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				rows.Close()
				return err
			}
			var k SessionKey
			copy(k[:], b)
			keys = append(keys, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, k := range keys {
			if live != nil && live(k) {
				continue
			}
			for _, q := range []string{`DELETE FROM subscriptions WHERE session = ?`, `DELETE FROM sessions WHERE hash = ?`} {
				if _, err := tx.ExecContext(ctx, q, k[:]); err != nil {
					return err
				}
			}
			removed++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return removed, nil
}
