package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// natsCluster is a set of nats-server processes the bench started: n
// servers clustered with JetStream on loopback, as scripts/cluster.sh
// starts them (the binary is built from go.mod's pinned module by make
// bench), each with its store in dir.
type natsCluster struct {
	srvs []*server // host is each server's monitoring address
	urls []string  // client URLs
}

// natsPorts are one server's loopback ports.
type natsPorts struct{ client, route, http int }

// natsConfig is one clustered server's configuration file.
func natsConfig(name, storeDir string, p natsPorts, all []natsPorts) string {
	routes := make([]string, len(all))
	for i, q := range all {
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", q.route)
	}
	return fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
jetstream {
  store_dir: %q
  max_memory_store: 256MB
  max_file_store: 4GB
}
cluster {
  name: livemon-bench
  listen: 127.0.0.1:%d
  routes: [%s]
}
`, name, p.client, p.http, storeDir, p.route, strings.Join(routes, ", "))
}

// startNATS starts n clustered NATS servers with JetStream under dir
// (config, store) and waits until each reports JetStream enabled; their
// logs go to logPrefix-natsI.log. On error, the ones started are stopped.
func startNATS(bin, dir, logPrefix string, n int) (*natsCluster, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("nats-server: %w (make bench builds it: go build -o bin/nats-server github.com/nats-io/nats-server/v2)", err)
	}
	ports := make([]natsPorts, n)
	for i := range ports {
		var err error
		for _, p := range []*int{&ports[i].client, &ports[i].route, &ports[i].http} {
			if *p, err = freePort(); err != nil {
				return nil, err
			}
		}
	}
	c := &natsCluster{}
	for i, p := range ports {
		name := fmt.Sprintf("nats%d", i+1)
		store := filepath.Join(dir, name)
		if err := os.MkdirAll(store, 0o755); err != nil {
			c.stop()
			return nil, err
		}
		conf := filepath.Join(dir, name+".conf")
		if err := os.WriteFile(conf, []byte(natsConfig(name, store, p, ports)), 0o644); err != nil {
			c.stop()
			return nil, err
		}
		host := net.JoinHostPort("127.0.0.1", strconv.Itoa(p.http))
		s, err := launch(bin, []string{"-c", conf}, host, logPrefix+"-"+name+".log", "/healthz?js-enabled-only=true")
		if err != nil {
			c.stop()
			return nil, err
		}
		c.srvs = append(c.srvs, s)
		c.urls = append(c.urls, fmt.Sprintf("nats://127.0.0.1:%d", p.client))
	}
	return c, nil
}

// pids are the servers' process ids.
func (c *natsCluster) pids() []int {
	var ps []int
	for _, s := range c.srvs {
		ps = append(ps, s.pid)
	}
	return ps
}

// stop stops every server (SIGTERM, then SIGKILL after 10 s) and waits
// for each.
func (c *natsCluster) stop() error {
	var errs []error
	for i := len(c.srvs) - 1; i >= 0; i-- {
		errs = append(errs, c.srvs[i].stop())
	}
	return errors.Join(errs...)
}
