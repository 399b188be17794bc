package cluster

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
)

// SessionStore keeps WebSocket sessions in the KV bucket BucketSessions so
// that any edge resumes any session. It implements session.Store with the
// semantics of store.Store (SQLite): a session's expiry is in its record
// (zero while a connection holds it), Sweep (DeleteExpiredSessions)
// removes expired ones, and a missing session or camera is a
// media.KindNotFound error. Keys are hex(SHA-256(session id)); a record is
// changed by revision-checked read-modify-write, so two edges writing the
// same session never lose each other's change.
type SessionStore struct {
	kv      jetstream.KeyValue
	cameras jetstream.KeyValue

	// known caches the last record and revision this node read or wrote
	// per connected session, so the periodic flush writes without reading
	// first (one round trip instead of two). A stale entry (another edge
	// changed the session) fails its revision check and is read again.
	mu    sync.Mutex
	known map[string]knownRecord
}

type knownRecord struct {
	rec sessionRecord
	rev uint64
}

// NewSessionStore returns the session store of c.
func NewSessionStore(c *Conn) *SessionStore {
	return &SessionStore{kv: c.Sessions, cameras: c.Cameras, known: make(map[string]knownRecord)}
}

// sessionRecord is a session's JSON in the bucket. Times are Unix
// nanoseconds; Expires is 0 while a connection holds the session.
type sessionRecord struct {
	Created  int64              `json:"created"`
	LastSeen int64              `json:"last_seen"`
	Expires  int64              `json:"expires,omitempty"`
	Subs     []subscriptionJSON `json:"subscriptions,omitempty"`
}

type subscriptionJSON struct {
	Camera    media.CameraID  `json:"camera"`
	Rendition media.Rendition `json:"rendition"`
	Epoch     uint64          `json:"epoch,omitempty"`
	LastSeq   uint64          `json:"last_seq,omitempty"`
}

// maxCASAttempts bounds retries of a read-modify-write that lost a race.
const maxCASAttempts = 16

func sessionKey(key store.SessionKey) string { return hex.EncodeToString(key[:]) }

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

var errNoSession = media.Errorf(media.KindNotFound, "session does not exist")

func (s *SessionStore) get(ctx context.Context, k string) (sessionRecord, uint64, error) {
	e, err := s.kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return sessionRecord{}, 0, errNoSession
	}
	if err != nil {
		return sessionRecord{}, 0, fmt.Errorf("read session: %w", err)
	}
	var rec sessionRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return sessionRecord{}, 0, fmt.Errorf("read session: %w", err)
	}
	return rec, e.Revision(), nil
}

// update applies fn to the stored record and writes it back if fn
// reports a change, retrying when another writer got in between. It
// starts from the record this node last read or wrote, when it has one.
func (s *SessionStore) update(ctx context.Context, key store.SessionKey, fn func(*sessionRecord) bool) error {
	k := sessionKey(key)
	rec, rev, ok := s.cached(k)
	for range maxCASAttempts {
		if !ok {
			var err error
			if rec, rev, err = s.get(ctx, k); err != nil {
				s.forget(k)
				return err
			}
			s.remember(k, rec, rev)
		}
		ok = false
		if !fn(&rec) {
			return nil
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		nrev, err := s.kv.Update(ctx, k, b, rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) || isWrongLastSeqErr(err) {
			continue // read it again (a missing one then says so)
		}
		if err != nil {
			s.forget(k)
			return fmt.Errorf("write session: %w", err)
		}
		s.remember(k, rec, nrev)
		return nil
	}
	return fmt.Errorf("write session: %d concurrent changes in a row", maxCASAttempts)
}

// cached returns a copy of the record this node last saw for k.
func (s *SessionStore) cached(k string) (sessionRecord, uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.known[k]
	if !ok {
		return sessionRecord{}, 0, false
	}
	rec := c.rec
	rec.Subs = slices.Clone(c.rec.Subs)
	return rec, c.rev, true
}

// remember keeps rec at rev for a connected session; a disconnected one
// (it has an expiry) is written rarely and is not kept.
func (s *SessionStore) remember(k string, rec sessionRecord, rev uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec.Expires != 0 {
		delete(s.known, k)
		return
	}
	if c, ok := s.known[k]; ok && c.rev > rev {
		return
	}
	rec.Subs = slices.Clone(rec.Subs)
	s.known[k] = knownRecord{rec: rec, rev: rev}
}

func (s *SessionStore) forget(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.known, k)
}

// CreateSession stores a new, connected session (no expiry).
func (s *SessionStore) CreateSession(ctx context.Context, key store.SessionKey, now time.Time) error {
	b, err := json.Marshal(sessionRecord{Created: unixNano(now), LastSeen: unixNano(now)})
	if err != nil {
		return err
	}
	if _, err := s.kv.Create(ctx, sessionKey(key), b); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// LoadSession returns a stored session with its subscriptions (by
// camera), or a KindNotFound error.
func (s *SessionStore) LoadSession(ctx context.Context, key store.SessionKey) (store.SessionRecord, error) {
	rec, _, err := s.get(ctx, sessionKey(key))
	if err != nil {
		return store.SessionRecord{}, err
	}
	out := store.SessionRecord{
		Key: key, CreatedAt: fromUnixNano(rec.Created), LastSeen: fromUnixNano(rec.LastSeen), ExpiresAt: fromUnixNano(rec.Expires),
	}
	for _, sub := range rec.Subs {
		r, err := media.ParseRendition(string(sub.Rendition))
		if err != nil {
			r = media.RenditionFull // a name this server does not know
		}
		out.Subscriptions = append(out.Subscriptions, store.Subscription{Camera: sub.Camera, Rendition: r, Epoch: sub.Epoch, LastSeq: sub.LastSeq})
	}
	return out, nil
}

// TouchSession sets a session's last-seen time and expiry (zero:
// connected).
func (s *SessionStore) TouchSession(ctx context.Context, key store.SessionKey, lastSeen, expiresAt time.Time) error {
	return s.update(ctx, key, func(rec *sessionRecord) bool {
		rec.LastSeen, rec.Expires = unixNano(lastSeen), unixNano(expiresAt)
		return true
	})
}

// DeleteSession removes a session; a missing one is fine.
func (s *SessionStore) DeleteSession(ctx context.Context, key store.SessionKey) error {
	s.forget(sessionKey(key))
	if err := s.kv.Purge(ctx, sessionKey(key)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// PutSubscription adds a subscription; an existing one keeps its last
// delivered frame and takes sub's rendition. A missing session or camera
// is a KindNotFound error.
func (s *SessionStore) PutSubscription(ctx context.Context, key store.SessionKey, sub store.Subscription) error {
	if _, err := s.cameras.Get(ctx, string(sub.Camera)); errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return media.Errorf(media.KindNotFound, "camera %q does not exist", sub.Camera)
	} else if err != nil {
		return fmt.Errorf("subscribe to camera %q: %w", sub.Camera, err)
	}
	r := sub.Rendition.OrFull()
	return s.update(ctx, key, func(rec *sessionRecord) bool {
		for i := range rec.Subs {
			if rec.Subs[i].Camera == sub.Camera {
				rec.Subs[i].Rendition = r
				return true
			}
		}
		rec.Subs = append(rec.Subs, subscriptionJSON{Camera: sub.Camera, Rendition: r, Epoch: sub.Epoch, LastSeq: sub.LastSeq})
		return true
	})
}

// DeleteSubscription removes a subscription; a missing one (or session)
// is fine.
func (s *SessionStore) DeleteSubscription(ctx context.Context, key store.SessionKey, cam media.CameraID) error {
	err := s.update(ctx, key, func(rec *sessionRecord) bool { return rec.drop(cam) })
	if media.IsKind(err, media.KindNotFound) {
		return nil
	}
	return err
}

func (rec *sessionRecord) drop(cam media.CameraID) bool {
	n := len(rec.Subs)
	rec.Subs = slices.DeleteFunc(rec.Subs, func(s subscriptionJSON) bool { return s.Camera == cam })
	return len(rec.Subs) != n
}

// DeleteSubscriptionsTo removes every session's subscription to a camera.
// It reads every session: a camera deletion is rare.
func (s *SessionStore) DeleteSubscriptionsTo(ctx context.Context, cam media.CameraID) error {
	return s.each(ctx, func(key store.SessionKey) error {
		err := s.update(ctx, key, func(rec *sessionRecord) bool { return rec.drop(cam) })
		if media.IsKind(err, media.KindNotFound) {
			return nil
		}
		return err
	})
}

// SaveDelivered records the last delivered frames of existing
// subscriptions. Subscriptions that no longer exist are not recreated.
func (s *SessionStore) SaveDelivered(ctx context.Context, key store.SessionKey, subs []store.Subscription) error {
	if len(subs) == 0 {
		return nil
	}
	err := s.update(ctx, key, func(rec *sessionRecord) bool { return applyDelivered(rec, subs) })
	if err != nil && !media.IsKind(err, media.KindNotFound) {
		return fmt.Errorf("save delivered frames: %w", err)
	}
	return nil
}

// FlushSession writes a connected session's delivered frames (subs, may be
// empty) and marks it seen at lastSeen, connected, in one write: what
// session.Manager.Flush does every 2 s for every live session.
func (s *SessionStore) FlushSession(ctx context.Context, key store.SessionKey, subs []store.Subscription, lastSeen time.Time) error {
	err := s.update(ctx, key, func(rec *sessionRecord) bool {
		applyDelivered(rec, subs)
		rec.LastSeen, rec.Expires = unixNano(lastSeen), 0
		return true
	})
	if err != nil && !media.IsKind(err, media.KindNotFound) {
		return fmt.Errorf("flush session: %w", err)
	}
	return nil
}

// applyDelivered sets the last delivered frame of rec's subscriptions
// from subs and reports whether any changed.
func applyDelivered(rec *sessionRecord, subs []store.Subscription) bool {
	changed := false
	for i := range rec.Subs {
		for _, sub := range subs {
			if rec.Subs[i].Camera == sub.Camera && (rec.Subs[i].Epoch != sub.Epoch || rec.Subs[i].LastSeq != sub.LastSeq) {
				rec.Subs[i].Epoch, rec.Subs[i].LastSeq = sub.Epoch, sub.LastSeq
				changed = true
			}
		}
	}
	return changed
}

// DeleteExpiredSessions removes sessions that expired at or before now,
// and sessions marked connected whose last-seen time is at or before
// staleBefore (their node died) unless live reports them held here. It
// reads every session.
func (s *SessionStore) DeleteExpiredSessions(ctx context.Context, now, staleBefore time.Time, live func(store.SessionKey) bool) (int, error) {
	removed := 0
	err := s.each(ctx, func(key store.SessionKey) error {
		rec, rev, err := s.get(ctx, sessionKey(key))
		if media.IsKind(err, media.KindNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		expired := rec.Expires != 0 && rec.Expires <= now.UnixNano() ||
			rec.Expires == 0 && rec.LastSeen <= staleBefore.UnixNano()
		if !expired || (live != nil && live(key)) {
			return nil
		}
		// Only the revision read: a session resumed meanwhile stays.
		err = s.kv.Purge(ctx, sessionKey(key), jetstream.LastRevision(rev))
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || isWrongLastSeqErr(err) {
			return nil
		}
		if err != nil {
			return err
		}
		s.forget(sessionKey(key))
		removed++
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("delete expired sessions: %w", err)
	}
	return removed, nil
}

// each calls fn with every stored session's key.
func (s *SessionStore) each(ctx context.Context, fn func(store.SessionKey) error) error {
	lister, err := s.kv.ListKeys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list sessions: %w", err)
	}
	var keys []store.SessionKey
	for k := range lister.Keys() {
		var key store.SessionKey
		if b, err := hex.DecodeString(k); err == nil && len(b) == len(key) {
			copy(key[:], b)
			keys = append(keys, key)
		}
	}
	_ = lister.Stop()
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

func isWrongLastSeqErr(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
