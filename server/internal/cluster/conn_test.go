package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/livemon/livemon/server/internal/cluster/natstest"
)

// connect connects to urls as name and closes the connection at cleanup.
func connect(t *testing.T, urls []string, name string) *Conn { return connectB(t, urls, name) }

func connectB(t testing.TB, urls []string, name string) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Connect(ctx, Options{URLs: urls, Name: name})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestConnectSingle(t *testing.T) {
	srv := natstest.Single(t)
	c := connect(t, srv.URLs(), "a")
	if c.Replicas() != 1 {
		t.Fatalf("replicas = %d, want 1", c.Replicas())
	}
	ctx := context.Background()
	st, err := c.Owners.Status(ctx)
	if err != nil || st.TTL() != OwnerLeaseTTL {
		t.Fatalf("owners status: %v, %v", st, err)
	}
}

func TestConnectNoServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := Connect(ctx, Options{URLs: []string{"nats://127.0.0.1:1"}}); err == nil {
		t.Fatal("Connect to nothing succeeded")
	}
}

// TestClusterSurvivesLosingAServer: buckets have three replicas, and a
// value written before one of three servers dies is read after.
func TestClusterSurvivesLosingAServer(t *testing.T) {
	srv := natstest.Cluster(t, 3)
	a := connect(t, srv.URLs(), "a")
	if a.Replicas() != 3 {
		t.Fatalf("replicas = %d, want 3", a.Replicas())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := a.Sessions.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	srv.Shutdown(0)
	b := connect(t, srv.URLs(), "b")
	var got []byte
	for {
		e, err := b.Sessions.Get(ctx, "k")
		if err == nil {
			got = e.Value()
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("get after losing a server: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if string(got) != "v" {
		t.Fatalf("got %q", got)
	}
	if _, err := a.Sessions.Put(ctx, "k2", []byte("w")); err != nil {
		t.Fatalf("put after losing a server: %v", err)
	}
}
