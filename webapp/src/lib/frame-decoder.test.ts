import { describe, expect, it, vi } from 'vitest'
import { WorkerDecoder, type FrameDecoder, type WorkerLike } from '@/lib/frame-decoder'
import { TargetLost } from '@/lib/paint-target'

function fakeWorker() {
  const posted: { type: string; id: number; jpeg: Uint8Array; canvas?: number; offscreen?: unknown }[] = []
  const transfers: unknown[][] = []
  const w = {
    onmessage: null,
    onerror: null,
    postMessage: vi.fn((m: (typeof posted)[number], t: unknown[] = []) => {
      posted.push(m)
      transfers.push(t)
    }),
    terminate: vi.fn(),
  } as unknown as WorkerLike & { onmessage: (ev: { data: unknown }) => void; onerror: () => void }
  return { w, posted, transfers, reply: (data: unknown) => w.onmessage({ data }) }
}

const bitmap = (width: number) => ({ width, height: 1, close() {} }) as unknown as ImageBitmap

describe('WorkerDecoder', () => {
  it('posts the bytes and answers each request with its own bitmap', async () => {
    const { w, posted, reply } = fakeWorker()
    const d = new WorkerDecoder(w)
    const a = d.decode(new Uint8Array([1]))
    const b = d.decode(new Uint8Array([2]))
    expect(posted.map((p) => [...p.jpeg])).toEqual([[1], [2]])
    reply({ id: posted[1]!.id, bitmap: bitmap(2) })
    reply({ id: posted[0]!.id, error: 'bad jpeg' })
    await expect(b).resolves.toMatchObject({ width: 2 })
    await expect(a).rejects.toThrow('bad jpeg')
  })

  it('hands what the worker held, and everything after, to the fallback when the worker fails', async () => {
    const { w, reply } = fakeWorker()
    const fallback: FrameDecoder = { decode: vi.fn(async (jpeg: Uint8Array) => bitmap(jpeg[0]!)) }
    const d = new WorkerDecoder(w, fallback)
    const held = d.decode(new Uint8Array([5]))
    ;(w as unknown as { onerror: () => void }).onerror()
    expect(w.terminate).toHaveBeenCalled()
    await expect(held).resolves.toMatchObject({ width: 5 })
    await expect(d.decode(new Uint8Array([6]))).resolves.toMatchObject({ width: 6 })
    expect(w.postMessage).toHaveBeenCalledTimes(1)
    reply({ id: 1, bitmap: bitmap(1) }) // a late answer is ignored
  })

  it('hands an attached canvas to the worker and answers its paints when on screen', async () => {
    const { w, posted, transfers, reply } = fakeWorker()
    const d = new WorkerDecoder(w)
    const offscreen = { offscreen: true }
    const canvas = { transferControlToOffscreen: vi.fn(() => offscreen) } as unknown as HTMLCanvasElement
    const target = d.attach(canvas)!
    expect(posted[0]).toEqual({ type: 'attach', canvas: 1, offscreen })
    expect(transfers[0]).toEqual([offscreen]) // moved, not copied
    const painted = target.paint(new Uint8Array([9]))
    expect(posted[1]).toMatchObject({ type: 'paint', canvas: 1 })
    expect([...posted[1]!.jpeg]).toEqual([9])
    reply({ id: posted[1]!.id, painted: { at: 123, width: 480, height: 270 } })
    await expect(painted).resolves.toEqual({ at: 123, width: 480, height: 270 })
    const bad = target.paint(new Uint8Array([8]))
    reply({ id: posted[2]!.id, error: 'bad jpeg' })
    await expect(bad).rejects.toThrow('bad jpeg')
    target.close()
    expect(posted[3]).toEqual({ type: 'detach', canvas: 1 })
  })

  it('loses the attached canvases with the worker: their paints reject with TargetLost, and no canvas is attached after', async () => {
    const { w } = fakeWorker()
    const d = new WorkerDecoder(w)
    const canvas = () => ({ transferControlToOffscreen: vi.fn(() => ({})) }) as unknown as HTMLCanvasElement
    const target = d.attach(canvas())!
    const held = target.paint(new Uint8Array([1]))
    ;(w as unknown as { onerror: () => void }).onerror()
    await expect(held).rejects.toBeInstanceOf(TargetLost)
    await expect(target.paint(new Uint8Array([2]))).rejects.toBeInstanceOf(TargetLost)
    const later = canvas()
    expect(d.attach(later)).toBeNull()
    expect(later.transferControlToOffscreen).not.toHaveBeenCalled()
  })

  it('attaches nothing when told to paint on the page, or when the canvas cannot be handed over', () => {
    const canvas = { transferControlToOffscreen: vi.fn(() => ({})) } as unknown as HTMLCanvasElement
    expect(new WorkerDecoder(fakeWorker().w, undefined, false).attach(canvas)).toBeNull()
    expect(canvas.transferControlToOffscreen).not.toHaveBeenCalled()
    const drawn = {
      transferControlToOffscreen: () => {
        throw new DOMException('has a context', 'InvalidStateError')
      },
    } as unknown as HTMLCanvasElement
    expect(new WorkerDecoder(fakeWorker().w).attach(drawn)).toBeNull()
    expect(new WorkerDecoder(fakeWorker().w).attach({} as HTMLCanvasElement)).toBeNull()
  })
})
