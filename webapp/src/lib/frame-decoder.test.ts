import { describe, expect, it, vi } from 'vitest'
import { WorkerDecoder, type FrameDecoder, type WorkerLike } from '@/lib/frame-decoder'

function fakeWorker() {
  const posted: { id: number; jpeg: Uint8Array }[] = []
  const w = {
    onmessage: null,
    onerror: null,
    postMessage: vi.fn((m: { id: number; jpeg: Uint8Array }) => posted.push(m)),
    terminate: vi.fn(),
  } as unknown as WorkerLike & { onmessage: (ev: { data: unknown }) => void; onerror: () => void }
  return { w, posted, reply: (data: unknown) => w.onmessage({ data }) }
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
})
