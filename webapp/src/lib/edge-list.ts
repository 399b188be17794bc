// Keeps a CameraSocket's endpoints in step with the cluster's live edges
// (GET /api/edges, docs/api.md). A single server answers an empty list:
// then the socket has just the page's own server and polling stops.
import type { Timers } from '@/lib/camera-socket'

export const EDGES_POLL_MS = 15_000

export interface EdgeFollowerOptions {
  /** Fetches the edge list; throws when the server cannot be reached. */
  load: (signal: AbortSignal) => Promise<string[]>
  /** Receives each list fetched. */
  apply: (edges: string[]) => void
  timers?: Timers
  intervalMs?: number
}

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
}

/**
 * Fetches the edge list now and every `intervalMs` while the server is a
 * cluster edge (or cannot be reached: the last list stays in use). Returns
 * the function that stops it.
 */
export function followEdges(opts: EdgeFollowerOptions): () => void {
  const timers = opts.timers ?? defaultTimers
  const interval = opts.intervalMs ?? EDGES_POLL_MS
  const ctrl = new AbortController()
  let timer: unknown = null
  const run = async () => {
    timer = null
    let again = true
    try {
      const edges = await opts.load(ctrl.signal)
      if (ctrl.signal.aborted) return
      opts.apply(edges)
      again = edges.length > 0
    } catch {
      // unreachable or refused: keep the list we have, ask again later
    }
    if (again && !ctrl.signal.aborted) timer = timers.setTimeout(() => void run(), interval)
  }
  void run()
  return () => {
    ctrl.abort()
    if (timer !== null) timers.clearTimeout(timer)
  }
}
