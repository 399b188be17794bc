// Where a canvas painter's frames are decoded and drawn: on the page's main
// thread (localPaintTarget), or in the paint worker that owns the canvas
// (frame-decoder.ts, WorkerDecoder.attach). No DOM access at import: the
// paint worker imports drawBitmap from here.
import type { FrameDecoder } from '@/lib/frame-decoder'
import { nextAnimationFrame, type NextFrame } from '@/lib/next-frame'

/** A picture on screen: since when (wall clock, ms) and its size. */
export interface Painted {
  at: number
  width: number
  height: number
}

/** Decodes a JPEG and puts it on one canvas. */
export interface PaintTarget {
  /**
   * Decodes and draws the picture; resolves when the animation frame that
   * puts it on screen starts. Rejects when the JPEG is undecodable, or with
   * TargetLost when the canvas can no longer be painted (its worker died).
   */
  paint(jpeg: Uint8Array): Promise<Painted>
  /** No more paints; the canvas keeps its picture. */
  close(): void
}

/** The target's canvas is gone for good (the worker that owned it failed). */
export class TargetLost extends Error {
  constructor() {
    super('the paint worker that owned the canvas failed')
    this.name = 'TargetLost'
  }
}

/**
 * Puts a bitmap on a canvas (resized to the picture), handing it over with
 * `bitmaprenderer` (no copy, no 2D draw) where there is one. The bitmap is
 * consumed either way; the caller still closes it.
 */
export function drawBitmap(canvas: HTMLCanvasElement | OffscreenCanvas, bitmap: ImageBitmap): void {
  if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
    canvas.width = bitmap.width
    canvas.height = bitmap.height
  }
  // Opaque: the compositor need not draw what lies under a JPEG.
  const renderer = canvas.getContext('bitmaprenderer', { alpha: false }) as ImageBitmapRenderingContext | null
  if (renderer && typeof renderer.transferFromImageBitmap === 'function') {
    renderer.transferFromImageBitmap(bitmap)
    return
  }
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null
  ctx?.drawImage(bitmap, 0, 0)
}

/** Decodes a JPEG on the calling thread (the page or a worker). Rejects when undecodable. */
export function decodeJpeg(jpeg: Uint8Array): Promise<ImageBitmap> {
  return createImageBitmap(new Blob([jpeg as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }))
}

/**
 * Decodes `jpeg` with `decode`, puts it on `canvas` and resolves when the
 * animation frame that shows it starts: the one paint, on the page
 * (localPaintTarget) and in the paint worker.
 */
export async function paintJpeg(
  canvas: HTMLCanvasElement | OffscreenCanvas,
  jpeg: Uint8Array,
  decode: (jpeg: Uint8Array) => Promise<ImageBitmap>,
  nextFrame: NextFrame = nextAnimationFrame,
  now: () => number = Date.now,
): Promise<Painted> {
  const bitmap = await decode(jpeg)
  const { width, height } = bitmap
  try {
    drawBitmap(canvas, bitmap)
  } finally {
    bitmap.close()
  }
  return new Promise<Painted>((resolve) => nextFrame(() => resolve({ at: now(), width, height })))
}

/** Paints on the calling thread: `decoder` decodes (in a worker where it can), the page draws. */
export function localPaintTarget(
  canvas: HTMLCanvasElement,
  decoder: FrameDecoder,
  nextFrame: NextFrame = nextAnimationFrame,
  now: () => number = Date.now,
): PaintTarget {
  return {
    paint: (jpeg) => paintJpeg(canvas, jpeg, (j) => decoder.decode(j), nextFrame, now),
    close() {},
  }
}
