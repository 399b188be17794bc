package httpapi

import "net/http"

// edgeList is the answer of GET /api/edges.
type edgeList struct {
	// Edges are the public URLs of a cluster's live edges, this one
	// included; empty on a single node.
	Edges []string `json:"edges"`
}

// handleEdges lists the cluster's live edges, for the web app's failover
// (docs/api.md).
func (s *Server) handleEdges() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := edgeList{Edges: []string{}}
		if s.deps.Edges != nil {
			out.Edges = s.deps.Edges.List()
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, out)
	})
}
