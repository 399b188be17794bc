// When a picture drawn into a canvas reaches the screen: the start of the
// next animation frame. Shared by the page (paint-target.ts) and the paint
// worker (paint-worker.ts), which both have requestAnimationFrame.

/** Runs a callback when the next frame is put on screen. */
export type NextFrame = (fn: () => void) => void

/**
 * How long a paint waits for its animation frame before it counts as on
 * screen anyway: a worker's animation frames follow its canvases' frame
 * sinks, and a paint must never wait forever for one that does not come
 * (nor, in a hidden tab, hold its channel's next frame back for long).
 */
export const FRAME_GUARD_MS = 1000

let frameQueue: (() => void)[] = []
let guard: ReturnType<typeof setTimeout> | null = null

function runQueue(): void {
  if (guard !== null) clearTimeout(guard)
  guard = null
  const queue = frameQueue
  frameQueue = []
  for (const f of queue) {
    try {
      f()
    } catch (err) {
      console.error(err)
    }
  }
}

/**
 * The default NextFrame: one requestAnimationFrame for every paint in this
 * frame (the callbacks of a frame run in one task), or FRAME_GUARD_MS,
 * whichever comes first. Without requestAnimationFrame (tests) the callback
 * runs at once.
 */
export const nextAnimationFrame: NextFrame = (fn) => {
  if (typeof globalThis.requestAnimationFrame !== 'function') {
    fn()
    return
  }
  frameQueue.push(fn)
  if (frameQueue.length > 1) return
  const queued = frameQueue
  globalThis.requestAnimationFrame(() => {
    if (frameQueue === queued) runQueue()
  })
  guard = setTimeout(() => {
    if (frameQueue === queued) runQueue()
  }, FRAME_GUARD_MS)
}
