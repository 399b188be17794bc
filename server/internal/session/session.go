// Package session keeps resumable WebSocket sessions: random ids, their
// camera subscriptions and the last frame delivered per camera, stored in
// the store with a TTL so a session resumes after a reload, a reconnect or
// a server restart.
//
// Concurrency: a *Manager is safe for use by any number of goroutines.
// The HTTP layer calls Open, Subscribe, Unsubscribe, Delivered and, last,
// Disconnect from a connection's writer goroutine (its HTTP handler
// goroutine, which handles the messages the reader goroutine parsed and
// sends the frames); the reader never calls the Manager. Delivered
// is the per-frame call: it only updates memory under a short lock and
// never does I/O. Flush and Sweep are called by one periodic goroutine
// owned by the caller, ForgetCamera by the camera manager when it deletes
// a camera (the package starts no goroutines). No lock is held while the
// database is used.
//
// Lifecycle: Open marks a session connected (it cannot expire while a
// connection holds it; several connections may hold the same session).
// When the last connection calls Disconnect, the delivered positions are
// persisted and the session expires TTL later unless it is opened again.
//
// Security: ids are 128 bits from crypto/rand. Sessions are looked up in
// memory and in the database only by the SHA-256 of the id, so comparing
// lookups takes no time that depends on how many leading characters of a
// guessed id are right, and the database never holds a usable id. An
// unknown or expired id is never adopted: the client gets a fresh id.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
)

// DefaultTTL is how long a disconnected session can be resumed.
const DefaultTTL = 10 * time.Minute

// ID is a session id: 32 lowercase hex characters.
type ID string

// NewID returns a fresh random session id.
func NewID() ID {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return ID(hex.EncodeToString(b[:]))
}

// ParseID validates s as a session id. Anything but 32 lowercase hex
// characters is a KindInvalid error.
func ParseID(s string) (ID, error) {
	if len(s) != 32 {
		return "", errMalformed
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", errMalformed
		}
	}
	return ID(s), nil
}

var errMalformed = media.Errorf(media.KindInvalid, "malformed session id")

func (id ID) key() store.SessionKey { return sha256.Sum256([]byte(id)) }

// Sub is a subscription's rendition and its last delivered frame (zero
// if none yet).
type Sub struct {
	Rendition media.Rendition // "" is media.RenditionFull
	Epoch     uint64
	LastSeq   uint64
}

// Session is a snapshot of a session.
type Session struct {
	ID            ID
	Subscriptions map[media.CameraID]Sub
}

// Store is where a Manager keeps sessions. *store.Store (SQLite)
// implements it for a single node; cluster.SessionStore (a JetStream KV
// bucket) for edges that share sessions. Errors follow store's: a missing
// session is a media.KindNotFound error, as is subscribing to an unknown
// camera.
type Store interface {
	CreateSession(ctx context.Context, key store.SessionKey, now time.Time) error
	LoadSession(ctx context.Context, key store.SessionKey) (store.SessionRecord, error)
	TouchSession(ctx context.Context, key store.SessionKey, lastSeen, expiresAt time.Time) error
	DeleteSession(ctx context.Context, key store.SessionKey) error
	PutSubscription(ctx context.Context, key store.SessionKey, sub store.Subscription) error
	DeleteSubscription(ctx context.Context, key store.SessionKey, cam media.CameraID) error
	DeleteSubscriptionsTo(ctx context.Context, cam media.CameraID) error
	SaveDelivered(ctx context.Context, key store.SessionKey, subs []store.Subscription) error
	DeleteExpiredSessions(ctx context.Context, now, staleBefore time.Time, live func(store.SessionKey) bool) (int, error)
}

var _ Store = (*store.Store)(nil)

// Flusher is a Store over the network (the cluster's KV): it writes a
// connected session's delivered frames (subs, possibly empty) and its
// last-seen time in one write, and Flush calls it for up to
// flushParallel sessions at once, so a flush costs one round trip per
// session and not two, and a busy edge's flush is not a sequence of
// round trips.
type Flusher interface {
	FlushSession(ctx context.Context, key store.SessionKey, subs []store.Subscription, lastSeen time.Time) error
}

// flushParallel bounds the writes a Flusher's flush has in flight.
const flushParallel = 16

// Manager keeps the connected sessions in memory and all sessions in the
// store.
type Manager struct {
	st Store
	// shared: other nodes use the same store, so a session is never
	// resumed from the dormant cache (another node may have changed it).
	shared bool
	ttl    time.Duration
	now    func() time.Time

	// persistMu orders the snapshots written by Flush and Disconnect, so an
	// older snapshot is never written after a newer one.
	persistMu sync.Mutex

	mu   sync.Mutex
	live map[store.SessionKey]*liveSession
	// dormant holds sessions whose last connection left less than TTL
	// ago, as Disconnect persisted them, so that resuming one (a reload,
	// a network drop, hundreds of tabs coming back at once) needs no
	// database round trip: the periodic Flush marks it connected in the
	// store within 2 s. After a restart it is empty and sessions resume
	// from the store.
	dormant map[store.SessionKey]dormantSession
}

type dormantSession struct {
	subs    map[media.CameraID]Sub
	expires time.Time
}

// maxDormant bounds the dormant sessions kept in memory; beyond it a
// session resumes from the store, as after a restart.
const maxDormant = 100_000

type liveSession struct {
	conns int
	subs  map[media.CameraID]Sub
	dirty bool
}

// Option configures a Manager.
type Option func(*Manager)

// WithSharedStore says that other nodes use the same store (edges of a
// cluster): a disconnected session then always resumes from the store,
// never from this node's memory, since it may have been resumed and
// changed on another node meanwhile.
func WithSharedStore() Option { return func(m *Manager) { m.shared = true } }

// New returns a Manager. ttl <= 0 means DefaultTTL; now nil means time.Now.
func New(st Store, ttl time.Duration, now func() time.Time, opts ...Option) *Manager {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if now == nil {
		now = time.Now
	}
	m := &Manager{st: st, ttl: ttl, now: now, live: map[store.SessionKey]*liveSession{}, dormant: map[store.SessionKey]dormantSession{}}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Open attaches a connection to a session. raw == "" starts a new session;
// a malformed raw is a KindInvalid error; an unknown or expired one starts
// a fresh session (resumed false); a known, unexpired one is resumed with
// its subscriptions. Every successful Open must be paired with Disconnect.
func (m *Manager) Open(ctx context.Context, raw string) (*Session, bool, error) {
	if raw != "" {
		id, err := ParseID(raw)
		if err != nil {
			return nil, false, err
		}
		s, ok, err := m.resume(ctx, id)
		if err != nil || ok {
			return s, ok, err
		}
	}
	id := NewID()
	if err := m.st.CreateSession(ctx, id.key(), m.now()); err != nil {
		return nil, false, fmt.Errorf("open session: %w", err)
	}
	m.mu.Lock()
	m.live[id.key()] = &liveSession{conns: 1, subs: map[media.CameraID]Sub{}}
	m.mu.Unlock()
	return &Session{ID: id, Subscriptions: map[media.CameraID]Sub{}}, false, nil
}

func (m *Manager) resume(ctx context.Context, id ID) (*Session, bool, error) {
	key := id.key()
	// Held by another connection of this process: share it.
	m.mu.Lock()
	if ls := m.live[key]; ls != nil {
		ls.conns++
		s := &Session{ID: id, Subscriptions: maps.Clone(ls.subs)}
		m.mu.Unlock()
		return s, true, nil
	}
	// Left by its last connection within TTL: resume from memory.
	if d, ok := m.dormant[key]; ok {
		delete(m.dormant, key)
		if m.now().Before(d.expires) {
			m.live[key] = &liveSession{conns: 1, subs: d.subs}
			s := &Session{ID: id, Subscriptions: maps.Clone(d.subs)}
			m.mu.Unlock()
			return s, true, nil
		}
	}
	m.mu.Unlock()

	// Not while Flush or Disconnect is writing this session's positions.
	m.persistMu.Lock()
	defer m.persistMu.Unlock()
	rec, err := m.st.LoadSession(ctx, key)
	if media.IsKind(err, media.KindNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("resume session: %w", err)
	}
	now := m.now()
	expires := rec.ExpiresAt
	if expires.IsZero() {
		// Marked connected but no connection here holds it: left over
		// from a crash. It expires TTL after it was last seen.
		expires = rec.LastSeen.Add(m.ttl)
	}
	if !now.Before(expires) {
		if err := m.st.DeleteSession(ctx, key); err != nil {
			return nil, false, fmt.Errorf("drop expired session: %w", err)
		}
		return nil, false, nil
	}
	if err := m.st.TouchSession(ctx, key, now, time.Time{}); err != nil {
		if media.IsKind(err, media.KindNotFound) { // swept meanwhile
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("resume session: %w", err)
	}
	subs := make(map[media.CameraID]Sub, len(rec.Subscriptions))
	for _, s := range rec.Subscriptions {
		subs[s.Camera] = Sub{Rendition: s.Rendition.OrFull(), Epoch: s.Epoch, LastSeq: s.LastSeq}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if ls := m.live[key]; ls != nil { // another connection resumed it first
		ls.conns++
		return &Session{ID: id, Subscriptions: maps.Clone(ls.subs)}, true, nil
	}
	m.live[key] = &liveSession{conns: 1, subs: subs}
	return &Session{ID: id, Subscriptions: maps.Clone(subs)}, true, nil
}

// Subscribe adds a camera to a connected session, watching rendition r;
// subscribing again keeps the last delivered frame and takes r. An unknown
// camera or a session that is not open is a KindNotFound error.
func (m *Manager) Subscribe(ctx context.Context, id ID, cam media.CameraID, r media.Rendition) error {
	key := id.key()
	if !m.isLive(key) {
		return errNotOpen
	}
	r = r.OrFull()
	if err := m.st.PutSubscription(ctx, key, store.Subscription{Camera: cam, Rendition: r}); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if ls := m.live[key]; ls != nil {
		sub := ls.subs[cam]
		sub.Rendition = r
		ls.subs[cam] = sub
	}
	return nil
}

// Unsubscribe removes a camera from a connected session; removing one that
// is not subscribed is fine.
func (m *Manager) Unsubscribe(ctx context.Context, id ID, cam media.CameraID) error {
	key := id.key()
	m.mu.Lock()
	ls := m.live[key]
	if ls != nil {
		delete(ls.subs, cam)
	}
	m.mu.Unlock()
	if ls == nil {
		return errNotOpen
	}
	if err := m.st.DeleteSubscription(ctx, key, cam); err != nil {
		return fmt.Errorf("unsubscribe: %w", err)
	}
	return nil
}

var errNotOpen = media.Errorf(media.KindNotFound, "session is not open")

// Delivered records that frame (epoch, seq) of cam reached the session. It
// only touches memory; Flush and Disconnect persist it. Positions never
// move backwards, and cameras the session is not subscribed to are
// ignored.
func (m *Manager) Delivered(id ID, cam media.CameraID, epoch, seq uint64) {
	key := id.key()
	m.mu.Lock()
	defer m.mu.Unlock()
	ls := m.live[key]
	if ls == nil {
		return
	}
	cur, ok := ls.subs[cam]
	if !ok || epoch < cur.Epoch || epoch == cur.Epoch && seq <= cur.LastSeq {
		return
	}
	cur.Epoch, cur.LastSeq = epoch, seq
	ls.subs[cam] = cur
	ls.dirty = true
}

// Disconnect detaches a connection from its session. It persists the
// delivered positions; when the last connection leaves, the session
// expires TTL from now.
func (m *Manager) Disconnect(ctx context.Context, id ID) error {
	key := id.key()
	m.persistMu.Lock()
	defer m.persistMu.Unlock()
	m.mu.Lock()
	ls := m.live[key]
	if ls == nil {
		m.mu.Unlock()
		return errNotOpen
	}
	subs := toStore(ls.subs)
	ls.dirty = false
	ls.conns--
	last := ls.conns == 0
	if last {
		delete(m.live, key)
	}
	m.mu.Unlock()

	err := m.st.SaveDelivered(ctx, key, subs)
	if last {
		now := m.now()
		terr := m.st.TouchSession(ctx, key, now, now.Add(m.ttl))
		if terr != nil && !media.IsKind(terr, media.KindNotFound) && err == nil {
			err = terr
		}
		if err == nil && terr == nil {
			m.keepDormant(key, subs, now.Add(m.ttl))
		}
	}
	if err != nil {
		return fmt.Errorf("disconnect session: %w", err)
	}
	return nil
}

// keepDormant remembers a session the store now holds as disconnected,
// unless a connection took it again meanwhile. persistMu is held.
func (m *Manager) keepDormant(key store.SessionKey, subs []store.Subscription, expires time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.shared || m.live[key] != nil || len(m.dormant) >= maxDormant {
		return
	}
	d := dormantSession{subs: make(map[media.CameraID]Sub, len(subs)), expires: expires}
	for _, s := range subs {
		d.subs[s.Camera] = Sub{Rendition: s.Rendition.OrFull(), Epoch: s.Epoch, LastSeq: s.LastSeq}
	}
	m.dormant[key] = d
}

// pendingFlush is a session's delivered frames waiting for Flush.
type pendingFlush struct {
	key  store.SessionKey
	subs []store.Subscription
}

// Flush persists the delivered positions of connected sessions that
// changed since the last Flush, and refreshes their last-seen time.
func (m *Manager) Flush(ctx context.Context) error {
	m.persistMu.Lock()
	defer m.persistMu.Unlock()
	var todo []pendingFlush
	var keys []store.SessionKey
	m.mu.Lock()
	for k, ls := range m.live {
		keys = append(keys, k)
		if ls.dirty {
			todo = append(todo, pendingFlush{k, toStore(ls.subs)})
			ls.dirty = false
		}
	}
	m.mu.Unlock()

	now := m.now()
	if f, ok := m.st.(Flusher); ok {
		return m.flushEach(ctx, f, keys, todo, now)
	}
	for _, p := range todo {
		if err := m.st.SaveDelivered(ctx, p.key, p.subs); err != nil {
			m.markDirty(p.key)
			return fmt.Errorf("flush sessions: %w", err)
		}
	}
	for _, k := range keys {
		if !m.isLive(k) {
			continue // disconnected meanwhile; Disconnect set its expiry
		}
		if err := m.st.TouchSession(ctx, k, now, time.Time{}); err != nil && !media.IsKind(err, media.KindNotFound) {
			return fmt.Errorf("flush sessions: %w", err)
		}
	}
	return nil
}

// flushEach writes every live session with one FlushSession each, up to
// flushParallel at once. A session that failed is marked dirty again; the
// first error is returned after all writes ended.
func (m *Manager) flushEach(ctx context.Context, f Flusher, keys []store.SessionKey, dirty []pendingFlush, now time.Time) error {
	subs := make(map[store.SessionKey][]store.Subscription, len(dirty))
	for _, p := range dirty {
		subs[p.key] = p.subs
	}
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, flushParallel)
	for _, k := range keys {
		_, isDirty := subs[k]
		live := m.isLive(k)
		if !live && !isDirty {
			continue // disconnected meanwhile; Disconnect set its expiry
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			var err error
			if live {
				err = f.FlushSession(ctx, k, subs[k], now)
			} else {
				err = m.st.SaveDelivered(ctx, k, subs[k]) // keeps the expiry Disconnect set
			}
			if err == nil || media.IsKind(err, media.KindNotFound) {
				return
			}
			if isDirty {
				m.markDirty(k)
			}
			errMu.Lock()
			if firstErr == nil {
				firstErr = fmt.Errorf("flush sessions: %w", err)
			}
			errMu.Unlock()
		}()
	}
	wg.Wait()
	return firstErr
}

// Sweep deletes expired sessions from the store and returns how many. A
// session marked connected that no connection of this process holds and
// that was last seen more than TTL ago (a crash leftover) counts as
// expired.
func (m *Manager) Sweep(ctx context.Context) (int, error) {
	now := m.now()
	m.mu.Lock()
	for k, d := range m.dormant {
		if !now.Before(d.expires) {
			delete(m.dormant, k)
		}
	}
	m.mu.Unlock()
	n, err := m.st.DeleteExpiredSessions(ctx, now, now.Add(-m.ttl), m.isLive)
	if err != nil {
		return 0, fmt.Errorf("sweep sessions: %w", err)
	}
	return n, nil
}

// Count is the number of sessions held by at least one connection.
func (m *Manager) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.live)
}

// ForgetCamera ends every session's subscription to a deleted camera,
// connected or dormant. It implements camera.Forgetter.
func (m *Manager) ForgetCamera(ctx context.Context, cam media.CameraID) error {
	m.mu.Lock()
	for _, ls := range m.live {
		delete(ls.subs, cam)
	}
	for _, d := range m.dormant {
		delete(d.subs, cam)
	}
	m.mu.Unlock()
	if err := m.st.DeleteSubscriptionsTo(ctx, cam); err != nil {
		return fmt.Errorf("remove camera from sessions: %w", err)
	}
	return nil
}

func (m *Manager) isLive(key store.SessionKey) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.live[key] != nil
}

func (m *Manager) markDirty(key store.SessionKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ls := m.live[key]; ls != nil {
		ls.dirty = true
	}
}

func toStore(subs map[media.CameraID]Sub) []store.Subscription {
	out := make([]store.Subscription, 0, len(subs))
	for cam, s := range subs {
		out = append(out, store.Subscription{Camera: cam, Rendition: s.Rendition.OrFull(), Epoch: s.Epoch, LastSeq: s.LastSeq})
	}
	return out
}
