// Package cluster carries what crosses livemon nodes over NATS: frames on
// core subjects, state in JetStream key-value buckets, uploaded videos in a
// JetStream object store. It is the only package that imports nats.go; the
// rest of the server sees plain Go types and interfaces.
//
// A node of role "all" (the default) never uses this package at runtime.
//
// Contract:
//   - Connect returns a *Conn that reconnects forever with backoff; every
//     method of Conn and of the handles it returns may be called from any
//     goroutine. Close ends the connection and waits for its callbacks.
//   - Subjects and the frame wire format (EncodeFrame/DecodeFrame) are the
//     only definitions of what travels between nodes; both roles use them.
//   - Replicas of every bucket are min(3, number of NATS servers the
//     connection knows), so a three-server NATS cluster survives losing one.
//
// docs/architecture.md ("Cluster") describes the data plane, the sessions
// and the ownership built on it.
package cluster
