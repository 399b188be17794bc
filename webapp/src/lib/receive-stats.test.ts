import { describe, expect, it } from 'vitest'
import { ReceiveStats } from '@/lib/receive-stats'

describe('ReceiveStats', () => {
  it('is empty for a camera it never heard of', () => {
    expect(new ReceiveStats().get('x', 0)).toEqual({
      fps: 0,
      latencyMs: null,
      dropped: 0,
      position: null,
      epoch: null,
      seq: null,
      lastFrameAt: null,
    })
  })

  it('counts frames of the last second, seq gaps within an epoch and the painted latency', () => {
    const s = new ReceiveStats()
    s.resetBaseline('a', 1)
    s.frame('a', { epoch: 1, seq: 10, position: 1 }, 1000)
    s.frame('a', { epoch: 1, seq: 13, position: 1.3 }, 1100) // 11 and 12 dropped
    s.frame('a', { epoch: 1, seq: 12, position: 1.2 }, 1200) // late: no gap, seq stays
    s.frame('a', { epoch: 2, seq: 1, position: 0 }, 1300) // new epoch: no gap
    s.painted('a', 1250, 1300)
    expect(s.get('a', 1300)).toEqual({
      fps: 4,
      latencyMs: 50,
      dropped: 2,
      position: 0,
      epoch: 2,
      seq: 1,
      lastFrameAt: 1300,
    })
    expect(s.get('a', 2150).fps).toBe(2)
    expect(s.get('a', 2400).fps).toBe(0)
  })

  it('does not count the time away before a resubscribe as dropped, and forgets a deleted camera', () => {
    const s = new ReceiveStats()
    s.frame('a', { epoch: 1, seq: 1, position: 0 }, 0)
    s.resetBaseline('a')
    s.frame('a', { epoch: 1, seq: 500, position: 20 }, 100)
    expect(s.get('a', 100).dropped).toBe(0)
    s.setPosition('a', 21)
    expect(s.get('a', 100).position).toBe(21)
    s.forget('a')
    expect(s.get('a', 100).seq).toBeNull()
  })
})
