// Package natstest runs embedded NATS servers with JetStream for tests:
// Single(t) one server, Cluster(t, n) n clustered servers. Every server
// listens on 127.0.0.1 at a random port and stores under t.TempDir();
// cleanup shuts the servers down and waits for them.
package natstest

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds waiting for a server to accept clients and for a
// cluster to elect its JetStream leader.
const readyTimeout = 20 * time.Second

// Servers is a set of running NATS servers.
type Servers struct {
	t    testing.TB
	mu   sync.Mutex
	srvs []*server.Server
	down []bool
}

// Single starts one NATS server with JetStream.
func Single(t testing.TB) *Servers {
	t.Helper()
	s := &Servers{t: t}
	s.start(1)
	return s
}

// Cluster starts n clustered NATS servers with JetStream (a cluster of
// three tolerates losing one) and waits until JetStream has a leader.
func Cluster(t testing.TB, n int) *Servers {
	t.Helper()
	if n < 2 {
		t.Fatalf("natstest.Cluster: n = %d, want at least 2 (use Single)", n)
	}
	s := &Servers{t: t}
	s.start(n)
	s.waitLeader()
	return s
}

func (s *Servers) start(n int) {
	t := s.t
	ports := freePorts(t, n)
	var routes []*url.URL
	if n > 1 {
		for _, p := range ports {
			routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
		}
	}
	for i := 0; i < n; i++ {
		o := &server.Options{
			ServerName:         fmt.Sprintf("n%d", i+1),
			Host:               "127.0.0.1",
			Port:               server.RANDOM_PORT,
			JetStream:          true,
			JetStreamMaxMemory: 64 << 20,
			JetStreamMaxStore:  256 << 20,
			StoreDir:           t.TempDir(),
			NoLog:              true,
			NoSigs:             true,
		}
		if n > 1 {
			o.Cluster = server.ClusterOpts{Name: "livemon-test", Host: "127.0.0.1", Port: ports[i]}
			o.Routes = routes
		}
		srv, err := server.NewServer(o)
		if err != nil {
			t.Fatalf("natstest: new server: %v", err)
		}
		srv.Start()
		s.srvs = append(s.srvs, srv)
		s.down = append(s.down, false)
		t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	}
	for _, srv := range s.srvs {
		if !srv.ReadyForConnections(readyTimeout) {
			t.Fatalf("natstest: server %s not ready in %v", srv.Name(), readyTimeout)
		}
	}
}

// freePorts reserves n distinct loopback ports for cluster routes (they
// must be known before the servers start, as every server routes to all).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	var ls []net.Listener
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("natstest: reserve port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func (s *Servers) waitLeader() {
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		for _, srv := range s.srvs {
			if srv.JetStreamIsLeader() && len(srv.JetStreamClusterPeers()) == len(s.srvs) && s.allCurrent() {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("natstest: no JetStream leader in %v", readyTimeout)
}

func (s *Servers) allCurrent() bool {
	for _, srv := range s.srvs {
		if !srv.JetStreamIsCurrent() {
			return false
		}
	}
	return true
}

// URLs returns the client URLs of the servers that are up.
func (s *Servers) URLs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for i, srv := range s.srvs {
		if !s.down[i] {
			out = append(out, srv.ClientURL())
		}
	}
	return out
}

// URL returns URLs joined by commas, the form of --nats.
func (s *Servers) URL() string { return strings.Join(s.URLs(), ",") }

// Len is the number of servers started.
func (s *Servers) Len() int { return len(s.srvs) }

// Shutdown stops server i (0-based) and waits for it.
func (s *Servers) Shutdown(i int) {
	s.mu.Lock()
	srv := s.srvs[i]
	s.down[i] = true
	s.mu.Unlock()
	srv.Shutdown()
	srv.WaitForShutdown()
}
