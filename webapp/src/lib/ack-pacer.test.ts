import { describe, expect, it } from 'vitest'
import { AckPacer, PACER_WINDOW_MS } from '@/lib/ack-pacer'

/** A pacer on a fake clock and fake timers, recording the acks it sends. */
function setup(opts: { targetQueueMs?: number; grantTimeoutMs?: number } = {}) {
  let now = 1_000_000
  const timers = new Map<number, { fn: () => void; at: number }>()
  let nextTimer = 1
  const acks: [number, number][] = []
  const pacer = new AckPacer({
    send: (ch, seq) => acks.push([ch, seq]),
    now: () => now,
    timers: {
      setTimeout: (fn, ms) => {
        const id = nextTimer++
        timers.set(id, { fn, at: now + ms })
        return id
      },
      clearTimeout: (h) => timers.delete(h as number),
    },
    ...opts,
  })
  const advance = (ms: number) => {
    const until = now + ms
    for (;;) {
      const due = [...timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0]
      if (!due) break
      timers.delete(due[0])
      now = due[1].at
      due[1].fn()
    }
    now = until
  }
  return { pacer, acks, advance, clock: () => now }
}

/**
 * Drives `channels` channels through a tab that paints one frame every
 * `paintMs` (a saturated main thread: frames queue behind each other), for
 * `ms`. The server sends a channel's next frame when its ack arrives (its
 * mailbox always holds a frame published just then). Returns the delays
 * between each ack and the paint of the frame it let through.
 */
function saturate(t: ReturnType<typeof setup>, channels: number, paintMs: number, ms: number): number[] {
  const queue: { ch: number; seq: number; sentAt: number }[] = []
  const seq = new Map<number, number>()
  const delays: number[] = []
  const acked = t.acks.length
  // Every channel starts with free credit: one frame each is on its way.
  for (let ch = 1; ch <= channels; ch++) queue.push({ ch, seq: 1, sentAt: t.clock() })
  let seen = acked
  const end = t.clock() + ms
  while (t.clock() < end && queue.length > 0) {
    t.advance(paintMs)
    const f = queue.shift()!
    delays.push(t.clock() - f.sentAt)
    seq.set(f.ch, f.seq)
    t.pacer.done(f.ch, f.seq, f.sentAt)
    // Acks sent by now bring each channel's next frame.
    for (; seen < t.acks.length; seen++) {
      const [ch] = t.acks[seen]!
      queue.push({ ch, seq: (seq.get(ch) ?? 0) + 1, sentAt: t.clock() })
    }
  }
  return delays
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor((s.length - 1) / 2)]!
}

describe('AckPacer', () => {
  it('acks at once while the tab keeps up', () => {
    const t = setup()
    for (let i = 1; i <= 20; i++) {
      for (let ch = 1; ch <= 4; ch++) t.pacer.done(ch, i, t.clock() - 5)
      t.advance(100)
    }
    expect(t.acks).toHaveLength(80)
    expect(t.pacer.limit).toBe(Infinity)
    expect(t.pacer.held).toBe(0)
  })

  it('keeps few frames in flight on a saturated tab, so frames are painted young', () => {
    // 16 channels, one paint every 30 ms: unpaced, each frame waits behind
    // the 15 others (about 480 ms); paced, behind a few.
    const unpaced = setup({ targetQueueMs: 1e9 })
    const before = median(saturate(unpaced, 16, 30, 5000).slice(-50))
    const paced = setup()
    const after = median(saturate(paced, 16, 30, 5000).slice(-50))
    expect(before).toBeGreaterThanOrEqual(450)
    expect(after).toBeLessThan(150)
    expect(paced.pacer.limit).toBeLessThanOrEqual(4)
    // The throughput is the tab's: every channel still gets frames.
    const last = new Set(paced.acks.slice(-32).map(([ch]) => ch))
    expect(last.size).toBe(16)
  })

  it('raises the limit again once the tab keeps up', () => {
    const t = setup()
    saturate(t, 16, 30, 3000)
    const limited = t.pacer.limit
    expect(limited).toBeLessThan(16)
    // Now every frame is painted 5 ms after its ack.
    for (let i = 0; i < 400; i++) {
      t.advance(5)
      t.pacer.done(1 + (i % 16), 100 + i, t.clock() - 5)
    }
    expect(t.pacer.limit).toBeGreaterThan(limited)
  })

  it('sends a held ack when a grant times out (a camera that stopped publishing)', () => {
    const t = setup({ grantTimeoutMs: 1000 })
    saturate(t, 16, 30, 3000)
    const sent = t.acks.length
    expect(t.pacer.held).toBeGreaterThan(0)
    // No frame comes back any more: held acks go out as grants time out.
    t.advance(1000 + PACER_WINDOW_MS)
    expect(t.acks.length).toBeGreaterThan(sent)
  })

  it('frees a forgotten channel’s slot at once', () => {
    const t = setup()
    saturate(t, 16, 30, 3000)
    for (let i = 0; i < 10 && t.pacer.limit > 1; i++) saturate(t, 16, 30, 1000)
    expect(t.pacer.limit).toBe(1)
    expect(t.pacer.held).toBeGreaterThan(0)
    const sent = t.acks.length
    const [lastCh] = t.acks[t.acks.length - 1]!
    t.pacer.forget(lastCh)
    expect(t.acks.length).toBe(sent + 1)
  })

  it('starts unpaced on a new connection', () => {
    const t = setup()
    saturate(t, 16, 30, 3000)
    expect(t.pacer.limit).toBeLessThan(16)
    t.pacer.reset()
    expect(t.pacer.limit).toBe(Infinity)
    expect(t.pacer.held).toBe(0)
    t.pacer.done(3, 7, null)
    expect(t.acks[t.acks.length - 1]).toEqual([3, 7])
  })

  it('acks a given-up frame without measuring it', () => {
    const t = setup()
    t.pacer.done(1, 1, null)
    t.pacer.done(1, 2, null)
    expect(t.acks).toEqual([
      [1, 1],
      [1, 2],
    ])
  })
})
