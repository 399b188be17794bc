import { afterEach, describe, expect, it, vi } from 'vitest'
import { FRAME_GUARD_MS, nextAnimationFrame } from '@/lib/next-frame'

afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
})

describe('nextAnimationFrame', () => {
  it('runs every callback of a frame in one animation frame, once', () => {
    vi.useFakeTimers()
    const frames: (() => void)[] = []
    vi.stubGlobal('requestAnimationFrame', (fn: () => void) => frames.push(fn))
    const ran: string[] = []
    nextAnimationFrame(() => ran.push('a'))
    nextAnimationFrame(() => ran.push('b'))
    expect(frames).toHaveLength(1)
    expect(ran).toEqual([])
    frames.shift()!()
    expect(ran).toEqual(['a', 'b'])
    vi.advanceTimersByTime(FRAME_GUARD_MS * 2) // the guard does not run them again
    expect(ran).toEqual(['a', 'b'])
    nextAnimationFrame(() => ran.push('c'))
    expect(frames).toHaveLength(1) // a new frame for the next paint
    frames.shift()!()
    expect(ran).toEqual(['a', 'b', 'c'])
  })

  it('runs the callbacks after FRAME_GUARD_MS when no animation frame comes, and not again when it does', () => {
    vi.useFakeTimers()
    const frames: (() => void)[] = []
    vi.stubGlobal('requestAnimationFrame', (fn: () => void) => frames.push(fn))
    const ran: string[] = []
    nextAnimationFrame(() => ran.push('a'))
    vi.advanceTimersByTime(FRAME_GUARD_MS - 1)
    expect(ran).toEqual([])
    vi.advanceTimersByTime(1)
    expect(ran).toEqual(['a'])
    nextAnimationFrame(() => ran.push('b'))
    frames.shift()!() // the late frame of the first batch
    expect(ran).toEqual(['a'])
    frames.shift()!()
    expect(ran).toEqual(['a', 'b'])
  })

  it('runs the callback at once where there are no animation frames', () => {
    vi.stubGlobal('requestAnimationFrame', undefined)
    const fn = vi.fn()
    nextAnimationFrame(fn)
    expect(fn).toHaveBeenCalledTimes(1)
  })
})
