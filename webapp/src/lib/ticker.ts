// One shared once-a-second timer for the page's live figures. Every
// subscriber runs in the same task, so the state updates of all tiles are
// batched into one React render (and one style/layout pass) a second,
// instead of one per tile at scattered moments.

type Tick = () => void

const subscribers = new Set<Tick>()
let timer: ReturnType<typeof setInterval> | null = null

export const TICK_MS = 1000

/** Calls `fn` once a second (with every other subscriber) until the returned function is called. */
export function everySecond(fn: Tick): () => void {
  const entry: Tick = () => fn()
  subscribers.add(entry)
  timer ??= setInterval(() => {
    for (const s of [...subscribers]) {
      try {
        s()
      } catch (err) {
        console.error(err)
      }
    }
  }, TICK_MS)
  return () => {
    subscribers.delete(entry)
    if (subscribers.size === 0 && timer !== null) {
      clearInterval(timer)
      timer = null
    }
  }
}
