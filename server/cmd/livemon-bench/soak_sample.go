package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the soak reads the server's database read-only
)

// soakSample is one sampler line (kind "sample"). Memory in KiB.
type soakSample struct {
	Kind       string             `json:"kind"`
	T          float64            `json:"t"` // seconds since the start
	Life       int                `json:"life"`
	Up         bool               `json:"up"`
	Goroutines float64            `json:"goroutines"`
	HeapBytes  float64            `json:"heap_bytes"`
	FDs        int                `json:"fds"`
	RSS        int64              `json:"rss_kib"`
	PSS        int64              `json:"pss_kib"`
	ChildRSS   int64              `json:"child_rss_kib"`
	ChildPSS   int64              `json:"child_pss_kib"`
	Children   int                `json:"children"`
	Zombies    int                `json:"zombies"`
	DBBytes    int64              `json:"db_bytes"`
	Sessions   int                `json:"sessions"`
	Uploads    int                `json:"uploads"`
	TmpFiles   int                `json:"tmp_files"`
	VideoFiles int                `json:"video_files"`
	WS         int                `json:"ws"`
	MJPEG      int                `json:"mjpeg"`
	FPS        map[string]float64 `json:"fps,omitempty"`
	State      map[string]string  `json:"state,omitempty"`
	Err        string             `json:"error,omitempty"`
}

func (s *soak) sampler(ctx context.Context) {
	t := time.NewTicker(s.o.sample)
	defer t.Stop()
	for {
		smp := s.takeSample(ctx)
		s.jsonl(smp)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// takeSample reads every figure of one sample.
func (s *soak) takeSample(ctx context.Context) soakSample {
	s.mu.Lock()
	srv, life := s.srv, s.life
	s.mu.Unlock()
	smp := soakSample{Kind: "sample", T: s.since(), Life: life, Up: srv != nil}
	db, err := readDB(ctx, s.dataDir)
	if err != nil {
		smp.Err = err.Error()
	}
	smp.Sessions, smp.Uploads, smp.DBBytes = db.sessions, db.uploads, db.bytes
	smp.TmpFiles = countFiles(filepath.Join(s.dataDir, "tmp"))
	smp.VideoFiles = countFiles(filepath.Join(s.dataDir, "videos"))
	if srv == nil {
		return smp
	}
	smp.RSS, _ = procStatus(srv.pid, "VmRSS")
	smp.PSS, _ = procStatusFile(fmt.Sprintf("/proc/%d/smaps_rollup", srv.pid), "Pss")
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", srv.pid)); err == nil {
		smp.FDs = len(ents)
	}
	for _, c := range descendants(srv.pid) {
		f, err := statFields(c)
		if err != nil {
			continue
		}
		if f[0] == "Z" {
			smp.Zombies++
			continue
		}
		smp.Children++
		s.mu.Lock()
		if _, ok := s.children[c]; !ok {
			s.children[c] = cmdline(c)
		}
		s.mu.Unlock()
		if kb, err := procStatus(c, "VmRSS"); err == nil {
			smp.ChildRSS += kb
		}
		if kb, err := procStatusFile(fmt.Sprintf("/proc/%d/smaps_rollup", c), "Pss"); err == nil {
			smp.ChildPSS += kb
		}
	}
	m, err := scrapeMetrics(ctx, srv, "go_goroutines", "go_memstats_heap_alloc_bytes")
	if err != nil {
		smp.Err = err.Error()
	}
	smp.Goroutines, smp.HeapBytes = m["go_goroutines"], m["go_memstats_heap_alloc_bytes"]
	if st, err := srv.stats(); err == nil {
		smp.WS = st.Server.WSConnections
		smp.FPS, smp.State = map[string]float64{}, map[string]string{}
		for _, c := range st.Cameras {
			smp.FPS[c.ID] = c.FPS
			smp.State[c.ID] = c.State
			smp.MJPEG += c.Viewers["mjpeg"]
		}
	}
	return smp
}

// dbFigures are the database figures of a sample.
type dbFigures struct {
	sessions, uploads int
	bytes             int64
	files             map[string]bool // uploads.file
}

// readDB reads the server's database read-only (WAL mode lets it read
// while the server writes).
func readDB(ctx context.Context, dataDir string) (dbFigures, error) {
	var f dbFigures
	path := filepath.Join(dataDir, "livemon.db")
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(path + suffix); err == nil {
			f.bytes += fi.Size()
		}
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return f, err
	}
	defer db.Close()
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.QueryRowContext(qctx, `SELECT count(*) FROM sessions`).Scan(&f.sessions); err != nil {
		return f, fmt.Errorf("count sessions: %w", err)
	}
	rows, err := db.QueryContext(qctx, `SELECT file FROM uploads`)
	if err != nil {
		return f, fmt.Errorf("list uploads: %w", err)
	}
	defer rows.Close()
	f.files = map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return f, err
		}
		f.files[name] = true
		f.uploads++
	}
	return f, rows.Err()
}

func countFiles(dir string) int {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	return len(ents)
}

// listFiles returns the names of the files in dir.
func listFiles(dir string) map[string]bool {
	out := map[string]bool{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		out[e.Name()] = true
	}
	return out
}

// scrapeMetrics reads the named unlabelled series from /metrics.
func scrapeMetrics(ctx context.Context, srv *server, names ...string) (map[string]float64, error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, srv.url("/metrics"), nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		for _, n := range names {
			if name == n {
				out[n], _ = strconv.ParseFloat(strings.TrimSpace(val), 64)
			}
		}
	}
	return out, sc.Err()
}
