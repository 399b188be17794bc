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

// clients returns the names of each server's client connections
// (/connz), in server order: which NATS server each livemon node uses.
func (c *natsCluster) clients() ([][]string, error) {
	out := make([][]string, len(c.srvs))
	for i, s := range c.srvs {
		var cz struct {
			Connections []struct {
				Name string `json:"name"`
			} `json:"connections"`
		}
		if err := s.get("/connz", &cz); err != nil {
			return nil, err
		}
		for _, conn := range cz.Connections {
			out[i] = append(out[i], conn.Name)
		}
	}
	return out, nil
}

// serverOf is the index of the server whose clients include a name with
// suffix, or -1.
func serverOf(clients [][]string, suffix string) int {
	for i, names := range clients {
		for _, n := range names {
			if strings.HasSuffix(n, suffix) {
				return i
			}
		}
	}
	return -1
}

// streamSeqs returns the last sequence number of each JetStream stream
// (a KV bucket "B" is stream "KV_B"), from the first server that answers;
// the difference over a window is the writes in it.
func (c *natsCluster) streamSeqs() map[string]uint64 {
	for _, s := range c.srvs {
		var jz struct {
			Accounts []struct {
				Streams []struct {
					Name  string `json:"name"`
					State struct {
						LastSeq uint64 `json:"last_seq"`
					} `json:"state"`
				} `json:"stream_detail"`
			} `json:"account_details"`
		}
		if err := s.get("/jsz?streams=true", &jz); err != nil {
			continue
		}
		seqs := map[string]uint64{}
		for _, a := range jz.Accounts {
			for _, st := range a.Streams {
				seqs[st.Name] = max(seqs[st.Name], st.State.LastSeq)
			}
		}
		return seqs
	}
	return nil
}
