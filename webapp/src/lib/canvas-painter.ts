// Paints a camera's frames into a <canvas> and keeps one canvas per camera
// alive for a while after its tile goes away, so the next tile of the same
// camera (the focused view opened from the grid, or the grid again) takes
// over the canvas with its picture: a view switch never shows an empty
// frame. No React here; hooks/use-camera-frames.ts binds it to tiles.
import type { CameraFrame, Rendition } from '@/lib/camera-protocol'
import type { FrameDecoder } from '@/lib/frame-decoder'

/** What a painter reports about frames: the socket (acks, receive figures, clock). */
export interface PaintSink {
  /** The frame is on screen since `at` (wall clock, ms). */
  markPainted(frame: CameraFrame, at: number): void
  /** The frame will not be painted (undecodable, replaced, painter gone). */
  frameDone(frame: CameraFrame): void
  /** How old the frame was at `at`, in the server's clock. */
  frameAgeMs(frame: CameraFrame, at: number): number
}

/** What a canvas shows: the rendition and width of the last frame painted into it. */
export interface PaintedRendition {
  rendition: Rendition
  width: number
}

/** Runs a callback when the next frame is put on screen. */
export type NextFrame = (fn: () => void) => void

let frameQueue: (() => void)[] = []

/**
 * The default NextFrame: one requestAnimationFrame for every painter with a
 * paint in this frame (the callbacks of a frame run in one task). Without
 * requestAnimationFrame (tests, workers) the callback runs at once.
 */
export const nextAnimationFrame: NextFrame = (fn) => {
  if (typeof globalThis.requestAnimationFrame !== 'function') {
    fn()
    return
  }
  frameQueue.push(fn)
  if (frameQueue.length > 1) return
  globalThis.requestAnimationFrame(() => {
    const queue = frameQueue
    frameQueue = []
    for (const f of queue) {
      try {
        f()
      } catch (err) {
        console.error(err)
      }
    }
  })
}

export interface PainterOptions {
  canvas: HTMLCanvasElement
  decoder: FrameDecoder
  sink: PaintSink
  /** Called when `shown` changes. */
  onShownChange?: () => void
  /** Wall clock (ms). */
  now?: () => number
  /** When a drawn picture reaches the screen (default nextAnimationFrame). */
  nextFrame?: NextFrame
}

/**
 * One canvas and the frames on their way into it. At most one decode runs at
 * a time; frames that arrive meanwhile replace each other in a one-frame slot
 * (newest wins) and every replaced one is given up at once, so the server
 * may send its channel's next frame. A decoded frame is put on the canvas in
 * the task that receives the bitmap (`bitmaprenderer`: the bitmap is handed
 * over, not copied); it counts as painted, and is acknowledged, when the
 * next animation frame starts: the one that puts it on screen. So a tab
 * that renders slowly asks for frames only as fast as it shows them.
 *
 * The canvas carries what tests read: data-seq / data-epoch /
 * data-rendition of the picture on it (set with the picture), data-painted,
 * data-frame-age-ms (the frame's age when its animation frame started, in
 * the server's clock) and data-painted-at (Date.now() then).
 */
export class CanvasPainter {
  private busy = false
  private pending: CameraFrame | null = null
  private disposed = false
  private shownValue: PaintedRendition | null = null
  readonly canvas: HTMLCanvasElement
  private readonly decoder: FrameDecoder
  private readonly sink: PaintSink
  private readonly onShownChange: () => void
  private readonly now: () => number
  private readonly nextFrame: NextFrame

  constructor(opts: PainterOptions) {
    this.canvas = opts.canvas
    this.decoder = opts.decoder
    this.sink = opts.sink
    this.onShownChange = opts.onShownChange ?? (() => {})
    this.now = opts.now ?? Date.now
    this.nextFrame = opts.nextFrame ?? nextAnimationFrame
  }

  /** The rendition and width on the canvas; null before the first paint. The same object until it changes. */
  get shown(): PaintedRendition | null {
    return this.shownValue
  }

  /** Paints `frame` as soon as the decode before it is done; a newer offer replaces it. */
  offer(frame: CameraFrame): void {
    if (this.disposed) {
      this.sink.frameDone(frame)
      return
    }
    if (this.busy) {
      if (this.pending) this.sink.frameDone(this.pending)
      this.pending = frame
      return
    }
    void this.paint(frame)
  }

  /** Gives up the waiting frame and paints nothing more; a decode still running is acknowledged when it ends. */
  dispose(): void {
    this.disposed = true
    if (this.pending) this.sink.frameDone(this.pending)
    this.pending = null
  }

  private async paint(frame: CameraFrame): Promise<void> {
    this.busy = true
    let painted = false
    try {
      const bitmap = await this.decoder.decode(frame.jpeg)
      try {
        if (!this.disposed) {
          this.draw(frame, bitmap)
          painted = true
        }
      } finally {
        bitmap.close()
      }
    } catch {
      // an undecodable frame is skipped
    } finally {
      this.busy = false
      if (!painted) this.sink.frameDone(frame)
    }
    const next = this.pending
    this.pending = null
    if (next) this.offer(next)
  }

  private draw(frame: CameraFrame, bitmap: ImageBitmap): void {
    const canvas = this.canvas
    if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
      canvas.width = bitmap.width
      canvas.height = bitmap.height
    }
    // Opaque: the compositor need not draw what lies under a JPEG.
    const renderer = canvas.getContext('bitmaprenderer', { alpha: false }) as ImageBitmapRenderingContext | null
    if (renderer && typeof renderer.transferFromImageBitmap === 'function') renderer.transferFromImageBitmap(bitmap)
    else canvas.getContext('2d')?.drawImage(bitmap, 0, 0)
    const d = canvas.dataset
    d.seq = String(frame.seq)
    d.epoch = String(frame.epoch)
    d.rendition = frame.rendition
    d.painted = 'true'
    this.nextFrame(() => {
      const at = this.now()
      if (d.seq === String(frame.seq) && d.epoch === String(frame.epoch)) {
        d.frameAgeMs = String(Math.round(this.sink.frameAgeMs(frame, at)))
        d.paintedAt = String(at)
      }
      this.sink.markPainted(frame, at)
    })
    if (this.shownValue?.rendition !== frame.rendition || this.shownValue.width !== canvas.width) {
      this.shownValue = { rendition: frame.rendition, width: canvas.width }
      this.onShownChange()
    }
  }
}

export interface CanvasPoolOptions {
  decoder: FrameDecoder
  sink: PaintSink
  /** How long a camera's canvas outlives its last tile, waiting for the next one. */
  keepMs?: number
  /** Makes a camera's canvas (default: document.createElement). */
  createCanvas?: (camera: string) => HTMLCanvasElement
  nextFrame?: NextFrame
  setTimeout?: (fn: () => void, ms: number) => unknown
  clearTimeout?: (handle: unknown) => void
}

/** How long a released canvas waits for the camera's next tile. */
export const KEEP_CANVAS_MS = 30_000

/**
 * The tab's camera canvases. A tile acquires its camera's canvas on mount
 * and releases it on unmount; a released canvas keeps its picture for
 * `keepMs` and goes to the camera's next tile, so a tile that replaces
 * another (grid to focused view and back) starts with the picture the old
 * one showed. A second tile of a camera whose canvas is in use gets a new
 * one. `shown(camera)` is what the camera's latest acquired canvas shows,
 * for useSyncExternalStore.
 */
export class CanvasPool {
  private readonly decoder: FrameDecoder
  private readonly sink: PaintSink
  private readonly keepMs: number
  private readonly createCanvas: (camera: string) => HTMLCanvasElement
  private readonly nextFrame: NextFrame | undefined
  private readonly setTimer: (fn: () => void, ms: number) => unknown
  private readonly clearTimer: (handle: unknown) => void
  /** Released canvases waiting for their camera's next tile. */
  private readonly kept = new Map<string, { painter: CanvasPainter; timer: unknown }>()
  /** The painter a camera's tiles acquired last (the one whose picture `shown` tells). */
  private readonly latest = new Map<string, CanvasPainter>()
  private readonly listeners = new Set<() => void>()

  constructor(opts: CanvasPoolOptions) {
    this.decoder = opts.decoder
    this.sink = opts.sink
    this.keepMs = opts.keepMs ?? KEEP_CANVAS_MS
    this.createCanvas = opts.createCanvas ?? (() => document.createElement('canvas'))
    this.nextFrame = opts.nextFrame
    this.setTimer = opts.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms))
    this.clearTimer = opts.clearTimeout ?? ((h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>))
  }

  /** The camera's kept canvas (with its picture) if there is one, else a new one. */
  acquire(camera: string): CanvasPainter {
    const kept = this.kept.get(camera)
    let painter: CanvasPainter
    if (kept) {
      this.kept.delete(camera)
      this.clearTimer(kept.timer)
      painter = kept.painter
    } else {
      painter = new CanvasPainter({
        canvas: this.createCanvas(camera),
        decoder: this.decoder,
        sink: this.sink,
        onShownChange: () => {
          if (this.latest.get(camera) === painter) this.notify()
        },
        nextFrame: this.nextFrame,
      })
    }
    if (this.latest.get(camera) !== painter) {
      this.latest.set(camera, painter)
      this.notify()
    }
    return painter
  }

  /** The tile is done with the canvas: keep it for the camera's next tile (one per camera). */
  release(camera: string, painter: CanvasPainter): void {
    const old = this.kept.get(camera)
    if (old) {
      this.clearTimer(old.timer)
      this.drop(camera, old.painter)
    }
    const timer = this.setTimer(() => {
      if (this.kept.get(camera)?.painter !== painter) return
      this.kept.delete(camera)
      this.drop(camera, painter)
    }, this.keepMs)
    this.kept.set(camera, { painter, timer })
  }

  /** What the camera's latest canvas shows, or null. */
  shown(camera: string): PaintedRendition | null {
    return this.latest.get(camera)?.shown ?? null
  }

  /** Called when any camera's `shown` changes (bound: usable as useSyncExternalStore's subscribe). */
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private drop(camera: string, painter: CanvasPainter): void {
    painter.dispose()
    if (this.latest.get(camera) === painter) {
      this.latest.delete(camera)
      this.notify()
    }
  }

  private notify(): void {
    for (const l of [...this.listeners]) l()
  }
}
