package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The edge list (docs/architecture.md, "The edge list"): every edge
// announces its public base URL in the KV bucket BucketEdges and follows
// the others', so the web app can fail over to another edge.
const (
	// BucketEdges holds one key per edge (public URL): live, stopped, or
	// dead and not yet expired.
	BucketEdges = "livemon-edges"
	// EdgeRenew is how often an edge writes its entry again.
	EdgeRenew = time.Second
	// EdgeStale is how long an edge stays listed after its last write
	// was heard (a killed edge leaves the list this long after it died; a
	// stopped one leaves at once).
	EdgeStale = 3 * time.Second
	// EdgeKnown is how long an edge's entry stays in the bucket after its
	// last write: pages loaded from it are accepted by the others this
	// long (it is the one that went away when they fail over).
	EdgeKnown = 24 * time.Hour
)

// ParsePublicURL reads an edge's public base URL (--public-url): http or
// https, a host, nothing after it. It returns the URL as an origin,
// scheme://host[:port] in lower case, which is also how browsers send it
// in the Origin header.
func ParsePublicURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSuffix(strings.TrimSpace(s), "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("public URL %q: want http(s)://host[:port] with nothing after it", s)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// edgeRecord is the value of an edge's key in BucketEdges.
type edgeRecord struct {
	URL  string `json:"url"`
	Node string `json:"node"`
	// Stopped is the last write of an edge that stopped.
	Stopped bool `json:"stopped,omitempty"`
}

type edgeSeen struct {
	url string
	// heard is when a write of a running edge was heard (local clock:
	// once a second while it lives); zero: not live (stopped, or only
	// read at start).
	heard time.Time
}

// Edges is this edge's entry in the edge list and its view of the others.
// Start it with StartEdges; List may be called from any goroutine; Close
// removes the entry and stops both goroutines (the renewer and the
// watcher), waiting for them.
type Edges struct {
	kv   jetstream.KeyValue
	self string
	node string
	key  string
	val  []byte
	log  *slog.Logger
	now  func() time.Time

	mu   sync.Mutex
	seen map[string]edgeSeen

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// edgeKey is the bucket key of a public URL (KV keys allow fewer
// characters than URLs have).
func edgeKey(publicURL string) string {
	sum := sha256.Sum256([]byte(publicURL))
	return "e" + hex.EncodeToString(sum[:12])
}

// StartEdges creates the bucket if needed, announces publicURL (as
// returned by ParsePublicURL) and follows the edge list until Close.
func StartEdges(ctx context.Context, c *Conn, publicURL string, log *slog.Logger) (*Edges, error) {
	if log == nil {
		log = slog.Default()
	}
	val, err := json.Marshal(edgeRecord{URL: publicURL, Node: c.name})
	if err != nil {
		return nil, err
	}
	key := edgeKey(publicURL)
	// Like Conn.ensure: on a busy or new cluster a JetStream request may
	// get no answer; try again until ensureTimeout.
	var kv jetstream.KeyValue
	ectx, cancel := context.WithTimeout(ctx, ensureTimeout)
	defer cancel()
	for wait := 100 * time.Millisecond; ; wait = min(wait*2, time.Second) {
		if kv, err = announceEdge(ectx, c, key, val); err == nil {
			break
		}
		log.Debug("edge list bucket not ready", "err", err)
		select {
		case <-ectx.Done():
			return nil, fmt.Errorf("announce edge %s in %s: %w", publicURL, BucketEdges, err)
		case <-time.After(wait):
		}
	}
	e := &Edges{
		kv: kv, self: publicURL, node: c.name, key: key, val: val, log: log,
		now: time.Now, seen: map[string]edgeSeen{},
	}
	wctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	w, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watch %s: %w", BucketEdges, err)
	}
	e.wg.Add(2)
	go func() {
		defer e.wg.Done()
		// The entries there were at start end with a nil entry: they say
		// which edges exist, not which are live now (a live one writes
		// again within a second).
		initial := true
		for ent := range w.Updates() {
			if ent == nil {
				initial = false
				continue
			}
			e.heard(ent, initial)
		}
	}()
	go func() {
		defer e.wg.Done()
		defer func() { _ = w.Stop() }()
		e.renew(wctx)
	}()
	return e, nil
}

// announceEdge creates the bucket if needed and writes val at key, in one
// attempt of at most ensureAttempt.
func announceEdge(ctx context.Context, c *Conn, key string, val []byte) (jetstream.KeyValue, error) {
	actx, cancel := context.WithTimeout(ctx, ensureAttempt)
	defer cancel()
	kv, err := c.js.CreateOrUpdateKeyValue(actx, jetstream.KeyValueConfig{
		Bucket: BucketEdges, History: 1, TTL: EdgeKnown,
		Replicas: c.replicas, Storage: jetstream.MemoryStorage,
	})
	if err != nil {
		return nil, err
	}
	if _, err := kv.Put(actx, key, val); err != nil {
		return nil, err
	}
	return kv, nil
}

// heard records a write or a delete of an edge's entry.
func (e *Edges) heard(ent jetstream.KeyValueEntry, initial bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ent.Operation() != jetstream.KeyValuePut {
		delete(e.seen, ent.Key())
		return
	}
	var rec edgeRecord
	u, err := "", json.Unmarshal(ent.Value(), &rec)
	if err == nil {
		u, err = ParsePublicURL(rec.URL)
	}
	if err != nil {
		e.log.Warn("ignoring edge list entry", "key", ent.Key(), "err", err)
		return
	}
	seen := edgeSeen{url: u}
	if !initial && !rec.Stopped {
		seen.heard = e.now()
	}
	e.seen[ent.Key()] = seen
}

// renew writes this edge's entry every EdgeRenew until ctx ends.
func (e *Edges) renew(ctx context.Context) {
	t := time.NewTicker(EdgeRenew)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, EdgeRenew)
		_, err := e.kv.Put(pctx, e.key, e.val)
		cancel()
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			failing = true
			e.log.Warn("edge list: renewing this edge's entry failed", "err", err)
		case err == nil && failing:
			failing = false
			e.log.Info("edge list: this edge's entry renewed again")
		}
	}
}

// Self is this edge's public URL.
func (e *Edges) Self() string { return e.self }

// List returns the public URLs of the live edges, this one included,
// sorted.
func (e *Edges) List() []string {
	now := e.now()
	e.mu.Lock()
	out := []string{e.self}
	for _, s := range e.seen {
		if !s.heard.IsZero() && now.Sub(s.heard) <= EdgeStale && !slices.Contains(out, s.url) {
			out = append(out, s.url)
		}
	}
	e.mu.Unlock()
	slices.Sort(out)
	return out
}

// Allows reports whether origin (scheme://host[:port], as ParsePublicURL
// returns) is an edge's of this cluster: live, stopped or dead, written
// within EdgeKnown. A page failing over comes from an edge that went away.
func (e *Edges) Allows(origin string) bool {
	if origin == e.self {
		return true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.seen {
		if s.url == origin {
			return true
		}
	}
	return false
}

// Close marks this edge stopped (so the others stop listing it at once
// but still take its pages), stops following the list and waits.
func (e *Edges) Close() {
	e.closeOnce.Do(func() {
		e.cancel()
		e.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		val, _ := json.Marshal(edgeRecord{URL: e.self, Node: e.node, Stopped: true})
		if _, err := e.kv.Put(ctx, e.key, val); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			e.log.Warn("edge list: marking this edge stopped", "err", err)
		}
	})
}
