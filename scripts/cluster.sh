#!/usr/bin/env bash
# `make cluster`: a whole livemon cluster on loopback, for trying it out.
#
# Starts three NATS servers clustered with JetStream, two ingest nodes
# (sources and decoders) and two edge nodes (web app, API, WebSocket,
# MJPEG), uploads a demo video through an edge, prints the edge URLs and
# the nodes' process ids, and stops everything on Ctrl-C, waiting for each
# process it started. A node that exits (try `kill -9` on edge 1 under an
# open page, or on an ingest) is reported and the rest keep running, so
# failover can be watched; the script ends when every node has exited. Everything lives in a temp dir, removed at the end.
#
# nats-server is built from the Go module pinned in go.mod (a `tool`
# directive), never downloaded as a binary. Ports: NATS clients
# $CLUSTER_PORT+0..2 (4222-4224), NATS routes +2000 (6222-6224), NATS
# monitoring +4000 (8222-8224), ingests 8101-8102 (health, metrics), edges
# 8001-8002.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${CLUSTER_PORT:-4222}
KEEP=${CLUSTER_KEEP:-}  # set to keep the temp dir (logs, data) after stopping
NATS_BIN=bin/nats-server
LIVEMON_BIN=${LIVEMON_BIN:-bin/livemon}

[ -x "$NATS_BIN" ] || { echo "cluster: $NATS_BIN missing (make nats-server)"; exit 1; }
[ -x "$LIVEMON_BIN" ] || { echo "cluster: $LIVEMON_BIN missing (make build)"; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/livemon-cluster.XXXXXX")
pids=()
names=()

stop() {
  trap - INT TERM EXIT
  echo
  echo "cluster: stopping"
  # Edges first (they hold the viewers), then ingests, then NATS.
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    # Each node gets 15 s to shut down cleanly, then it is killed.
    for _ in $(seq 150); do
      kill -0 "${pids[$i]}" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  if [ -n "$KEEP" ]; then
    echo "cluster: logs and data kept in $dir"
  else
    rm -rf "$dir"
  fi
  echo "cluster: stopped"
}
trap 'stop; exit 130' INT TERM
trap stop EXIT

# start NAME CMD...: run CMD in the background, its output in $dir/NAME.log,
# in its own session: Ctrl-C reaches only this script, which stops the
# nodes in order (edges, ingests handing their cameras back, then NATS).
start() {
  local name=$1
  shift
  setsid "$@" >"$dir/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
}

# ready NAME URL: wait up to 30 s for URL to answer 200, or fail with the
# node's log.
ready() {
  for _ in $(seq 300); do
    if curl -fsS -o /dev/null "$2" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "cluster: $1 did not become ready at $2; its log:"
  tail -n 30 "$dir/$1.log"
  exit 1
}

routes=""
for i in 0 1 2; do
  routes+="${routes:+, }nats-route://127.0.0.1:$((BASE + 2000 + i))"
done
urls=""
for i in 0 1 2; do
  urls+="${urls:+,}nats://127.0.0.1:$((BASE + i))"
done

for i in 0 1 2; do
  n=nats$((i + 1))
  mkdir -p "$dir/$n"
  cat >"$dir/$n.conf" <<EOF
server_name: $n
listen: 127.0.0.1:$((BASE + i))
http: 127.0.0.1:$((BASE + 4000 + i))
jetstream {
  store_dir: "$dir/$n"
  max_memory_store: 256MB
  max_file_store: 4GB
}
cluster {
  name: livemon
  listen: 127.0.0.1:$((BASE + 2000 + i))
  routes: [$routes]
}
EOF
  start "$n" "$NATS_BIN" -c "$dir/$n.conf"
done
for i in 0 1 2; do
  ready "nats$((i + 1))" "http://127.0.0.1:$((BASE + 4000 + i))/healthz?js-enabled-only=true"
done
echo "cluster: NATS $urls (monitoring http://127.0.0.1:$((BASE + 4000))/)"

node_flags=(--demo=false --log-format text)
for i in 1 2; do
  start "ingest$i" "$LIVEMON_BIN" --role ingest --nats "$urls" --addr "127.0.0.1:810$i" \
    --data "$dir/ingest$i" "${node_flags[@]}"
done
for i in 1 2; do
  start "edge$i" "$LIVEMON_BIN" --role edge --nats "$urls" --addr "127.0.0.1:800$i" \
    --data "$dir/edge$i" "${node_flags[@]}"
done
for i in 1 2; do ready "ingest$i" "http://127.0.0.1:810$i/healthz"; done
for i in 1 2; do ready "edge$i" "http://127.0.0.1:800$i/healthz"; done

# A demo camera, uploaded through the first edge, unless there is one.
if ! curl -fsS http://127.0.0.1:8001/api/cameras | grep -q '"demo"'; then
  "$LIVEMON_BIN" gen-video --out "$dir/demo.avi" --label "livemon cluster" >/dev/null
  curl -fsS -o /dev/null -F "video=@$dir/demo.avi" http://127.0.0.1:8001/api/cameras/demo/video ||
    echo "cluster: demo upload failed (see $dir/edge1.log)"
fi

echo
echo "livemon cluster is up (logs in $dir):"
echo "  edge 1: http://127.0.0.1:8001/"
echo "  edge 2: http://127.0.0.1:8002/"
echo "  ingests: http://127.0.0.1:8101/metrics, http://127.0.0.1:8102/metrics"
echo "Ctrl-C stops everything."

# Wait until Ctrl-C; report each node that exits on its own meanwhile.
echo "Process ids (kill one to watch the failover):"
for i in "${!pids[@]}"; do echo "  ${names[$i]}: ${pids[$i]}"; done
set +e
declare -A reported=()
while :; do
  alive=0
  for i in "${!pids[@]}"; do
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      alive=$((alive + 1))
    elif [[ -z "${reported[$i]:-}" ]]; then
      reported[$i]=1
      echo "cluster: ${names[$i]} exited; the others keep running. Its log:"
      tail -n 20 "$dir/${names[$i]}.log"
    fi
  done
  ((alive > 0)) || break
  wait -n "${pids[@]}" 2>/dev/null || sleep 1
done
