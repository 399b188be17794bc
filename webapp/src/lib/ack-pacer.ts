// AckPacer decides when the tab acknowledges a frame it is done with
// (docs/architecture.md, "Flow control", "Pacing a saturated tab"). The
// server sends a channel's next frame when its ack arrives, so every
// acknowledged channel has a frame on its way into the tab. With many
// channels (a 16-tile wall) on a tab that cannot paint them all, those
// frames queue behind one another on the main thread, and each is painted
// older the more are in flight. The pacer keeps at most `limit` channels
// with a frame on its way and queues the other acks (oldest first), and it
// adapts the limit: it measures how long frames take from the moment they
// could leave the server to their paint, and shrinks the limit when that
// time grows above its recent minimum (the link and the paint itself) by
// more than `targetQueueMs`, grows it back by one while it stays below half
// of that. An ack that waits costs nothing: the server keeps replacing the
// channel's waiting frame with the newest, so what is sent when the ack
// goes is fresh. A fast tab never reaches the limit and acks at once.
import type { Timers } from '@/lib/camera-socket'

export interface AckPacerOptions {
  /** Sends the ack: the channel's frames up to `seq` are done. */
  send(channel: number, seq: number): void
  /** Wall clock (ms). */
  now?: () => number
  timers?: Timers
  /** Queueing delay in the tab the pacer aims to stay under (ms). */
  targetQueueMs?: number
  /**
   * A channel whose ack went out this long ago without a frame back (a
   * camera that publishes rarely, or stopped) no longer counts as in flight.
   */
  grantTimeoutMs?: number
}

/** How long one measurement window lasts: the limit changes at most this often. */
export const PACER_WINDOW_MS = 250
/** How many windows the baseline (the smallest delay seen) spans: 10 s. */
const BASELINE_WINDOWS = 40
/** The limit is never raised above this (more channels than that just ack at once). */
const MAX_LIMIT = 256

export class AckPacer {
  private readonly sendAck: (channel: number, seq: number) => void
  private readonly now: () => number
  private readonly timers: Timers
  private readonly targetQueueMs: number
  private readonly grantTimeoutMs: number

  /** How many channels may have a frame on its way at once (Infinity: unpaced). */
  private limitValue = Infinity
  /** channel -> when its ack went out (its next frame is on its way). */
  private readonly granted = new Map<number, number>()
  /** channel -> the seq to ack, in the order the acks were held back. */
  private readonly waiting = new Map<number, number>()
  private windowStart = 0
  private samples: number[] = []
  /** The smallest delay of each of the last windows, newest last. */
  private readonly minima: number[] = []
  private timer: unknown = null

  constructor(opts: AckPacerOptions) {
    this.sendAck = opts.send
    this.now = opts.now ?? Date.now
    this.timers = opts.timers ?? {
      setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
      clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
    }
    this.targetQueueMs = opts.targetQueueMs ?? 100
    this.grantTimeoutMs = opts.grantTimeoutMs ?? 1000
  }

  /** The current limit (Infinity while the tab keeps up). */
  get limit(): number {
    return this.limitValue
  }

  /** Acks held back right now. */
  get held(): number {
    return this.waiting.size
  }

  /**
   * The tab is done with a frame of `channel` (painted, or given up when
   * `publishedAt` is null). `publishedAt` is when the server published it,
   * in our clock: with the time its channel's ack went out, it tells how
   * long the frame spent between the server and the screen.
   */
  done(channel: number, seq: number, publishedAt: number | null): void {
    const now = this.now()
    const grantedAt = this.granted.get(channel)
    this.granted.delete(channel)
    if (publishedAt !== null) this.sample(now - Math.max(grantedAt ?? publishedAt, publishedAt), now)
    this.waiting.delete(channel) // a newer seq replaces a held one and goes to the back
    this.waiting.set(channel, seq)
    this.drain()
  }

  /** The channel is gone (unsubscribed): it holds no slot and gets no held ack. */
  forget(channel: number): void {
    this.granted.delete(channel)
    this.waiting.delete(channel)
    this.drain()
  }

  /** A new connection: every channel starts with free credit, nothing is held. */
  reset(): void {
    this.granted.clear()
    this.waiting.clear()
    this.samples = []
    this.minima.length = 0
    this.windowStart = 0
    this.limitValue = Infinity
    this.clearTimer()
  }

  private inFlight(now: number): number {
    for (const [ch, at] of this.granted) if (now - at >= this.grantTimeoutMs) this.granted.delete(ch)
    return this.granted.size
  }

  private drain(): void {
    const now = this.now()
    let flying = this.inFlight(now)
    for (const [ch, seq] of this.waiting) {
      if (flying >= this.limitValue) break
      this.waiting.delete(ch)
      this.granted.set(ch, now)
      flying++
      this.sendAck(ch, seq)
    }
    this.clearTimer()
    if (this.waiting.size > 0 && this.granted.size > 0) {
      // Held acks go out when the oldest grant times out, if no frame comes first.
      const oldest = Math.min(...this.granted.values())
      this.timer = this.timers.setTimeout(() => {
        this.timer = null
        this.drain()
      }, Math.max(1, oldest + this.grantTimeoutMs - now))
    }
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      this.timers.clearTimeout(this.timer)
      this.timer = null
    }
  }

  private sample(delay: number, now: number): void {
    if (this.samples.length === 0) this.windowStart = now
    this.samples.push(Math.max(0, delay))
    if (now - this.windowStart < PACER_WINDOW_MS) return
    const sorted = this.samples.sort((a, b) => a - b)
    const median = sorted[Math.floor((sorted.length - 1) / 2)]!
    this.samples = []
    this.minima.push(sorted[0]!)
    if (this.minima.length > BASELINE_WINDOWS) this.minima.shift()
    const queue = median - Math.min(...this.minima)
    if (queue > this.targetQueueMs) {
      const flying = Math.max(1, this.inFlight(now) + this.waiting.size)
      this.limitValue = Math.max(1, Math.floor(Math.min(this.limitValue, flying) * 0.7))
    } else if (queue < this.targetQueueMs / 2 && this.limitValue !== Infinity) {
      this.limitValue = this.limitValue + 1 > MAX_LIMIT ? Infinity : this.limitValue + 1
    }
  }
}
