import { describe, expect, it, vi } from 'vitest'
import type { CameraFrame } from '@/lib/camera-protocol'
import { CanvasPainter, CanvasPool, type PaintSink } from '@/lib/canvas-painter'
import type { FrameDecoder } from '@/lib/frame-decoder'
import { TargetLost, type Painted } from '@/lib/paint-target'

function frame(seq: number, over: Partial<CameraFrame> = {}): CameraFrame {
  return {
    camera: 'demo',
    rendition: 'grid',
    channel: 1,
    epoch: 3,
    seq,
    serverTime: 1000 + seq,
    position: 0,
    width: 320,
    height: 180,
    jpeg: new Uint8Array([seq]),
    ...over,
  }
}

/** A decoder whose decodes finish when the test says, in order. */
function manualDecoder() {
  const waiting: { jpeg: Uint8Array; ok: (b: ImageBitmap) => void; fail: (e: Error) => void }[] = []
  const closed: number[] = []
  const decoder: FrameDecoder = {
    decode: (jpeg) => new Promise((ok, fail) => waiting.push({ jpeg, ok, fail })),
  }
  /** Finishes the oldest decode (a bitmap `width` wide, or an error) and lets its paint run. */
  const finish = async (width: number | null = 320) => {
    const w = waiting.shift()!
    if (width === null) w.fail(new Error('bad jpeg'))
    else w.ok({ width, height: (width * 9) / 16, close: () => closed.push(w.jpeg[0]!) } as unknown as ImageBitmap)
    await new Promise((r) => setTimeout(r, 0))
  }
  return { decoder, waiting, finish, closed }
}

function recordingSink() {
  const log: string[] = []
  const sink: PaintSink = {
    markPainted: (f, at) => log.push(`painted ${f.seq} at ${at}`),
    frameDone: (f) => log.push(`done ${f.seq}`),
    frameAgeMs: (f, at) => at - f.serverTime,
  }
  return { sink, log }
}

function setup() {
  const d = manualDecoder()
  const { sink, log } = recordingSink()
  const frames: (() => void)[] = []
  const canvas = document.createElement('canvas')
  const onShownChange = vi.fn()
  const painter = new CanvasPainter({
    canvas,
    decoder: d.decoder,
    sink,
    onShownChange,
    now: () => 5000,
    nextFrame: (fn) => frames.push(fn),
  })
  /** Starts the animation frame and lets the paints it ends finish. */
  const animationFrame = async () => {
    frames.splice(0).forEach((f) => f())
    await new Promise((r) => setTimeout(r, 0))
  }
  return { ...d, log, canvas, painter, onShownChange, animationFrame }
}

describe('CanvasPainter', () => {
  it('paints a frame, and counts it painted (acknowledged, data-* set) when its animation frame starts', async () => {
    const { painter, canvas, finish, log, animationFrame, closed, onShownChange } = setup()
    painter.offer(frame(7))
    await finish(480)
    expect(canvas.width).toBe(480)
    expect(canvas.height).toBe(270)
    expect(closed).toEqual([7])
    expect(log).toEqual([]) // drawn, not on screen yet
    expect(canvas.dataset.seq).toBeUndefined()
    expect(painter.shown).toBeNull()
    await animationFrame()
    expect(log).toEqual(['painted 7 at 5000'])
    expect(canvas.dataset.seq).toBe('7')
    expect(canvas.dataset.epoch).toBe('3')
    expect(canvas.dataset.rendition).toBe('grid')
    expect(canvas.dataset.frameAgeMs).toBe(String(5000 - 1007))
    expect(canvas.dataset.paintedAt).toBe('5000')
    expect(painter.shown).toEqual({ rendition: 'grid', width: 480 })
    expect(onShownChange).toHaveBeenCalledTimes(1)
  })

  it('paints one frame at a time; the newest waiting frame wins and each replaced one is given up at once', async () => {
    const { painter, waiting, finish, log, animationFrame, canvas } = setup()
    painter.offer(frame(1))
    painter.offer(frame(2))
    painter.offer(frame(3, { channel: 2 })) // e.g. the new rendition's channel during a switch
    expect(waiting).toHaveLength(1)
    expect(log).toEqual(['done 2'])
    await finish()
    expect(waiting).toHaveLength(0) // frame 1 waits for its animation frame
    await animationFrame()
    expect(waiting).toHaveLength(1) // frame 3, now
    await finish()
    await animationFrame()
    expect(log).toEqual(['done 2', 'painted 1 at 5000', 'painted 3 at 5000'])
    expect(canvas.dataset.seq).toBe('3')
  })

  it('gives up an undecodable frame and keeps the picture it had', async () => {
    const { painter, finish, log, animationFrame, canvas } = setup()
    painter.offer(frame(1))
    await finish()
    await animationFrame()
    painter.offer(frame(2))
    await finish(null)
    expect(log).toEqual(['painted 1 at 5000', 'done 2'])
    expect(canvas.dataset.seq).toBe('1')
  })

  it('tells a changed rendition or width, and only then', async () => {
    const { painter, finish, onShownChange, animationFrame } = setup()
    painter.offer(frame(1))
    await finish(480)
    await animationFrame()
    painter.offer(frame(2))
    await finish(480)
    await animationFrame()
    expect(onShownChange).toHaveBeenCalledTimes(1)
    painter.offer(frame(3, { rendition: 'full' }))
    await finish(640)
    await animationFrame()
    expect(onShownChange).toHaveBeenCalledTimes(2)
    expect(painter.shown).toEqual({ rendition: 'full', width: 640 })
  })

  it('after dispose paints nothing and gives up every frame', async () => {
    const { painter, finish, log, canvas, animationFrame } = setup()
    painter.offer(frame(1))
    painter.offer(frame(2))
    painter.dispose()
    expect(log).toEqual(['done 2'])
    await finish()
    await animationFrame()
    painter.offer(frame(3))
    expect(log).toEqual(['done 2', 'done 1', 'done 3'])
    expect(canvas.dataset.seq).toBeUndefined()
  })

  it('paints through the target the decoder attaches, and paints a fresh canvas itself when that target is lost', async () => {
    const d = manualDecoder()
    const { sink, log } = recordingSink()
    const paints: { jpeg: Uint8Array; ok: (p: Painted) => void; fail: (e: Error) => void }[] = []
    const closeTarget = vi.fn()
    const attached: HTMLCanvasElement[] = []
    const decoder: FrameDecoder = {
      decode: d.decoder.decode,
      attach: (c) => {
        attached.push(c)
        return { paint: (jpeg) => new Promise((ok, fail) => paints.push({ jpeg, ok, fail })), close: closeTarget }
      },
    }
    const host = document.createElement('div')
    const canvas = document.createElement('canvas')
    canvas.setAttribute('data-testid', 'frame-demo')
    canvas.width = 640
    host.appendChild(canvas)
    const painter = new CanvasPainter({ canvas, decoder, sink, now: () => 5000, nextFrame: (fn) => fn() })
    expect(attached).toEqual([canvas])
    painter.offer(frame(1))
    expect(d.waiting).toHaveLength(0) // the target decodes, not the page
    paints.shift()!.ok({ at: 4000, width: 480, height: 270 })
    await new Promise((r) => setTimeout(r, 0))
    expect(log).toEqual(['painted 1 at 4000'])
    expect(canvas.dataset.frameAgeMs).toBe(String(4000 - 1001))
    expect(painter.shown).toEqual({ rendition: 'grid', width: 480 })

    painter.offer(frame(2))
    paints.shift()!.fail(new TargetLost())
    await new Promise((r) => setTimeout(r, 0))
    expect(log).toEqual(['painted 1 at 4000', 'done 2'])
    const fresh = painter.canvas
    expect(fresh).not.toBe(canvas)
    expect(fresh.parentNode).toBe(host)
    expect(canvas.parentNode).toBeNull()
    expect(fresh.getAttribute('data-testid')).toBe('frame-demo')
    expect(fresh.width).toBe(300) // a new canvas's default size: the old one's picture is gone

    painter.offer(frame(3))
    expect(d.waiting).toHaveLength(1) // decoded for the page now
    await d.finish(320)
    expect(log).toEqual(['painted 1 at 4000', 'done 2', 'painted 3 at 5000'])
    expect(fresh.dataset.seq).toBe('3')
    painter.dispose()
    expect(closeTarget).not.toHaveBeenCalled() // the lost target is not the one in use
  })
})

describe('CanvasPool', () => {
  function pool() {
    const d = manualDecoder()
    const { sink } = recordingSink()
    const timers: { fn: () => void; ms: number; cleared: boolean }[] = []
    let made = 0
    const p = new CanvasPool({
      decoder: d.decoder,
      sink,
      keepMs: 30_000,
      nextFrame: (fn) => fn(),
      createCanvas: () => {
        made++
        return document.createElement('canvas')
      },
      setTimeout: (fn, ms) => {
        const t = { fn, ms, cleared: false }
        timers.push(t)
        return t
      },
      clearTimeout: (h) => {
        ;(h as { cleared: boolean }).cleared = true
      },
    })
    const expire = () => timers.filter((t) => !t.cleared).forEach((t) => t.fn())
    return { pool: p, ...d, expire, made: () => made }
  }

  it("gives a camera's next tile the canvas (and picture) its last tile had", async () => {
    const { pool: p, finish } = pool()
    const grid = p.acquire('demo')
    grid.offer(frame(1))
    await finish(480)
    p.release('demo', grid)
    const focused = p.acquire('demo')
    expect(focused).toBe(grid)
    expect(focused.canvas.dataset.seq).toBe('1')
    expect(p.shown('demo')).toEqual({ rendition: 'grid', width: 480 })
  })

  it('drops a released canvas after keepMs; the next tile starts a new one', () => {
    const { pool: p, expire, made } = pool()
    const first = p.acquire('demo')
    p.release('demo', first)
    expire()
    const next = p.acquire('demo')
    expect(next).not.toBe(first)
    expect(made()).toBe(2)
    // a dropped painter gives up whatever it is offered
    first.offer(frame(9))
  })

  it('a second tile of a camera whose canvas is in use gets its own', () => {
    const { pool: p } = pool()
    const a = p.acquire('demo')
    const b = p.acquire('demo')
    expect(b).not.toBe(a)
    expect(b.canvas).not.toBe(a.canvas)
    expect(p.acquire('other')).not.toBe(a)
  })

  it("tells subscribers when a camera's latest canvas shows something else", async () => {
    const { pool: p, finish } = pool()
    const changed = vi.fn()
    const stop = p.subscribe(changed)
    const painter = p.acquire('demo')
    expect(changed).toHaveBeenCalledTimes(1) // a new latest canvas
    expect(p.shown('demo')).toBeNull()
    painter.offer(frame(1))
    await finish(480)
    expect(changed).toHaveBeenCalledTimes(2)
    expect(p.shown('demo')).toEqual({ rendition: 'grid', width: 480 })
    stop()
    painter.offer(frame(2, { rendition: 'full' }))
    await finish(640)
    expect(changed).toHaveBeenCalledTimes(2)
  })
})
