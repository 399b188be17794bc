// Turns a frame's JPEG bytes into an ImageBitmap. In a browser with workers
// the decode runs in one dedicated worker per tab (decode-worker.ts): the
// main thread only posts the bytes and gets the bitmap back, transferred.
// Without workers (or if the worker fails to start) it decodes on the main
// thread with createImageBitmap.
import type { DecodeRequest, DecodeResponse } from '@/lib/decode-worker'

export interface FrameDecoder {
  /** Decodes a JPEG; the caller owns (and closes) the bitmap. Rejects when undecodable. */
  decode(jpeg: Uint8Array): Promise<ImageBitmap>
}

/** Decodes on the calling thread. */
export const mainThreadDecoder: FrameDecoder = {
  decode: (jpeg) => createImageBitmap(new Blob([jpeg as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' })),
}

/** What the worker decoder needs of a Worker (a fake in tests). */
export type WorkerLike = Pick<Worker, 'postMessage' | 'terminate' | 'onmessage' | 'onerror'>

interface Waiting {
  jpeg: Uint8Array
  resolve: (b: ImageBitmap) => void
  reject: (e: Error) => void
}

/**
 * Decodes in a worker. Requests are answered by id; when the worker fails
 * (it could not load, or it crashed), the requests it holds and every later
 * one go to `fallback`.
 */
export class WorkerDecoder implements FrameDecoder {
  private worker: WorkerLike | null
  private nextId = 1
  private readonly waiting = new Map<number, Waiting>()
  private readonly fallback: FrameDecoder

  constructor(worker: WorkerLike, fallback: FrameDecoder = mainThreadDecoder) {
    this.worker = worker
    this.fallback = fallback
    worker.onmessage = (ev: MessageEvent<DecodeResponse>) => {
      const res = ev.data
      const w = this.waiting.get(res.id)
      if (!w) return
      this.waiting.delete(res.id)
      if ('bitmap' in res) w.resolve(res.bitmap)
      else w.reject(new Error(res.error))
    }
    worker.onerror = () => this.fail()
  }

  decode(jpeg: Uint8Array): Promise<ImageBitmap> {
    const worker = this.worker
    if (!worker) return this.fallback.decode(jpeg)
    return new Promise((resolve, reject) => {
      const id = this.nextId++
      this.waiting.set(id, { jpeg, resolve, reject })
      // Copied, not transferred: other tiles of the camera get the same buffer.
      worker.postMessage({ id, jpeg } satisfies DecodeRequest)
    })
  }

  private fail(): void {
    const worker = this.worker
    if (!worker) return
    this.worker = null
    worker.terminate()
    const waiting = [...this.waiting.values()]
    this.waiting.clear()
    for (const w of waiting) this.fallback.decode(w.jpeg).then(w.resolve, w.reject)
  }
}

/** The tab's decoder: a worker where the browser has them, else the main thread. */
export function createFrameDecoder(): FrameDecoder {
  if (typeof Worker !== 'function') return mainThreadDecoder
  try {
    return new WorkerDecoder(new Worker(new URL('./decode-worker.ts', import.meta.url), { type: 'module' }))
  } catch {
    return mainThreadDecoder
  }
}
