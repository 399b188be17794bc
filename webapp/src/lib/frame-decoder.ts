// The tab's paint worker, seen from the page (paint-worker.ts is the
// worker). Where the browser can hand a canvas to a worker
// (transferControlToOffscreen), `attach` makes the worker decode and draw
// that canvas's frames: the main thread only posts the bytes and hears
// when the picture is on screen. Otherwise `decode` turns the bytes into a
// bitmap in the worker for the page to draw. Without workers (or if the
// worker fails) it decodes on the main thread with createImageBitmap.
import type { PaintWorkerRequest, PaintWorkerResponse } from '@/lib/paint-worker'
import { TargetLost, decodeJpeg, type PaintTarget, type Painted } from '@/lib/paint-target'
import { readSetting } from '@/lib/storage'

export interface FrameDecoder {
  /** Decodes a JPEG; the caller owns (and closes) the bitmap. Rejects when undecodable. */
  decode(jpeg: Uint8Array): Promise<ImageBitmap>
  /**
   * Hands the canvas (never drawn on by the page) to a worker that paints
   * it from now on; null when this decoder cannot, and the canvas is then
   * untouched.
   */
  attach?(canvas: HTMLCanvasElement): PaintTarget | null
}

/** Decodes on the calling thread. */
export const mainThreadDecoder: FrameDecoder = { decode: decodeJpeg }

/** What the worker decoder needs of a Worker (a fake in tests). */
export type WorkerLike = Pick<Worker, 'postMessage' | 'terminate' | 'onmessage' | 'onerror'>

type Waiting =
  | { kind: 'decode'; jpeg: Uint8Array; resolve: (b: ImageBitmap) => void; reject: (e: Error) => void }
  | { kind: 'paint'; resolve: (p: Painted) => void; reject: (e: Error) => void }

/**
 * Decodes (and, for attached canvases, paints) in a worker. Requests are
 * answered by id; when the worker fails (it could not load, or it
 * crashed), the decodes it holds and every later one go to `fallback`, and
 * the paints it holds reject with TargetLost: their canvases died with it.
 */
export class WorkerDecoder implements FrameDecoder {
  private worker: WorkerLike | null
  private nextId = 1
  private nextCanvas = 1
  private readonly waiting = new Map<number, Waiting>()
  private readonly fallback: FrameDecoder
  private readonly offscreen: boolean

  /** `offscreen` false: never attach canvases (decode only). */
  constructor(worker: WorkerLike, fallback: FrameDecoder = mainThreadDecoder, offscreen = true) {
    this.worker = worker
    this.fallback = fallback
    this.offscreen = offscreen
    worker.onmessage = (ev: MessageEvent<PaintWorkerResponse>) => {
      const res = ev.data
      const w = this.waiting.get(res.id)
      if (!w) return
      this.waiting.delete(res.id)
      if ('error' in res) w.reject(new Error(res.error))
      else if (w.kind === 'decode' && 'bitmap' in res) w.resolve(res.bitmap)
      else if (w.kind === 'paint' && 'painted' in res) w.resolve(res.painted)
      else w.reject(new Error('unexpected answer from the paint worker'))
    }
    worker.onerror = () => this.fail()
  }

  decode(jpeg: Uint8Array): Promise<ImageBitmap> {
    const worker = this.worker
    if (!worker) return this.fallback.decode(jpeg)
    return new Promise((resolve, reject) => {
      const id = this.nextId++
      this.waiting.set(id, { kind: 'decode', jpeg, resolve, reject })
      // Copied, not transferred: other tiles of the camera get the same buffer.
      this.post({ type: 'decode', id, jpeg })
    })
  }

  attach(canvas: HTMLCanvasElement): PaintTarget | null {
    if (!this.worker || !this.offscreen || typeof canvas.transferControlToOffscreen !== 'function') return null
    let offscreen: OffscreenCanvas
    try {
      offscreen = canvas.transferControlToOffscreen()
    } catch {
      return null // the page drew on it already
    }
    const number = this.nextCanvas++
    this.post({ type: 'attach', canvas: number, offscreen }, [offscreen])
    return {
      paint: (jpeg) => {
        if (!this.worker) return Promise.reject(new TargetLost())
        return new Promise<Painted>((resolve, reject) => {
          const id = this.nextId++
          this.waiting.set(id, { kind: 'paint', resolve, reject })
          this.post({ type: 'paint', id, canvas: number, jpeg })
        })
      },
      close: () => {
        if (this.worker) this.post({ type: 'detach', canvas: number })
      },
    }
  }

  private post(msg: PaintWorkerRequest, transfer: Transferable[] = []): void {
    this.worker?.postMessage(msg, transfer)
  }

  private fail(): void {
    const worker = this.worker
    if (!worker) return
    this.worker = null
    worker.terminate()
    const waiting = [...this.waiting.values()]
    this.waiting.clear()
    for (const w of waiting) {
      if (w.kind === 'decode') this.fallback.decode(w.jpeg).then(w.resolve, w.reject)
      else w.reject(new TargetLost())
    }
  }
}

/**
 * `localStorage['livemon.paint'] = 'main'` keeps drawing on the page's main
 * thread (the worker only decodes), for side-by-side measurements
 * (scripts/wall-lag.mjs).
 */
export const PAINT_KEY = 'livemon.paint'

/** The tab's decoder: a worker where the browser has them, else the main thread. */
export function createFrameDecoder(): FrameDecoder {
  if (typeof Worker !== 'function') return mainThreadDecoder
  try {
    const worker = new Worker(new URL('./paint-worker.ts', import.meta.url), { type: 'module' })
    return new WorkerDecoder(worker, mainThreadDecoder, readSetting(PAINT_KEY) !== 'main')
  } catch {
    return mainThreadDecoder
  }
}
