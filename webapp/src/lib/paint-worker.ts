// The tab's paint worker (frame-decoder.ts starts it). It decodes JPEG
// frames and, for the canvases whose control the page handed over
// (transferControlToOffscreen), draws them too: the picture goes from the
// worker to the compositor without the page's main thread, so a page busy
// with layout, React or a slow CPU does not make the video older. For
// canvases the page draws itself it only decodes, and the bitmap goes back
// transferred (no copy).
import { decodeJpeg, paintJpeg, type Painted } from '@/lib/paint-target'

/** What the page asks of the worker. */
export type PaintWorkerRequest =
  /** Decode only; answered with the bitmap. */
  | { type: 'decode'; id: number; jpeg: Uint8Array }
  /** The worker owns this canvas from now on, under the page's number for it. */
  | { type: 'attach'; canvas: number; offscreen: OffscreenCanvas }
  /** Decode and draw on the canvas; answered when its animation frame starts. */
  | { type: 'paint'; id: number; canvas: number; jpeg: Uint8Array }
  /** The page dropped the canvas. */
  | { type: 'detach'; canvas: number }

/** The answer to a decode or a paint, by id. */
export type PaintWorkerResponse =
  | { id: number; bitmap: ImageBitmap }
  | { id: number; painted: Painted }
  | { id: number; error: string }

interface WorkerScope {
  onmessage: ((ev: MessageEvent<PaintWorkerRequest>) => void) | null
  postMessage(msg: PaintWorkerResponse, transfer?: Transferable[]): void
}

const scope = self as unknown as WorkerScope
const canvases = new Map<number, OffscreenCanvas>()

const fail = (id: number) => (err: unknown) => scope.postMessage({ id, error: String(err) })

scope.onmessage = (ev) => {
  const m = ev.data
  switch (m.type) {
    case 'decode':
      decodeJpeg(m.jpeg).then((bitmap) => scope.postMessage({ id: m.id, bitmap }, [bitmap]), fail(m.id))
      return
    case 'attach':
      canvases.set(m.canvas, m.offscreen)
      return
    case 'detach':
      canvases.delete(m.canvas)
      return
    case 'paint': {
      const canvas = canvases.get(m.canvas)
      if (!canvas) {
        fail(m.id)(new Error(`no canvas ${m.canvas}`))
        return
      }
      paintJpeg(canvas, m.jpeg, decodeJpeg).then((painted) => scope.postMessage({ id: m.id, painted }), fail(m.id))
      return
    }
  }
}
