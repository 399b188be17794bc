// Paints a camera's frames into a <canvas> and keeps one canvas per camera
// alive for a while after its tile goes away, so the next tile of the same
// camera (the focused view opened from the grid, or the grid again) takes
// over the canvas with its picture: a view switch never shows an empty
// frame. No React here; hooks/use-camera-frames.ts binds it to tiles.
import type { CameraFrame, Rendition } from '@/lib/camera-protocol'
import type { FrameDecoder } from '@/lib/frame-decoder'
import type { NextFrame } from '@/lib/next-frame'
import { TargetLost, localPaintTarget, type PaintTarget, type Painted } from '@/lib/paint-target'

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
 * One canvas and the frames on their way into it. At most one paint runs at
 * a time; frames that arrive meanwhile replace each other in a one-frame
 * slot (newest wins) and every replaced one is given up at once, so the
 * server may send its channel's next frame. The paint (decode, draw, and
 * the wait for the animation frame that puts the picture on screen) runs
 * in the paint worker, which owns the canvas, where the browser allows it
 * (`decoder.attach`), else on this thread with a `bitmaprenderer` context
 * (lib/paint-target.ts). A frame counts as painted, and is acknowledged,
 * when its animation frame starts, so a tab that shows frames slowly asks
 * for them only as fast as it shows them. If the worker dies, the painter
 * puts a fresh canvas in the old one's place and paints it itself.
 *
 * The canvas carries what tests read, all set when a picture is on
 * screen: data-seq / data-epoch / data-rendition of the picture,
 * data-painted, data-frame-age-ms (the frame's age when its animation frame
 * started, in the server's clock) and data-painted-at (Date.now() then).
 */
export class CanvasPainter {
  private busy = false
  private pending: CameraFrame | null = null
  private disposed = false
  private shownValue: PaintedRendition | null = null
  private canvasValue: HTMLCanvasElement
  private target: PaintTarget
  private readonly decoder: FrameDecoder
  private readonly sink: PaintSink
  private readonly onShownChange: () => void
  private readonly now: () => number
  private readonly nextFrame: NextFrame | undefined

  constructor(opts: PainterOptions) {
    this.canvasValue = opts.canvas
    this.decoder = opts.decoder
    this.sink = opts.sink
    this.onShownChange = opts.onShownChange ?? (() => {})
    this.now = opts.now ?? Date.now
    this.nextFrame = opts.nextFrame
    this.target = this.decoder.attach?.(opts.canvas) ?? this.localTarget(opts.canvas)
  }

  /** The canvas (a new element if the paint worker died: see the class doc). */
  get canvas(): HTMLCanvasElement {
    return this.canvasValue
  }

  /** The rendition and width on the canvas; null before the first paint. The same object until it changes. */
  get shown(): PaintedRendition | null {
    return this.shownValue
  }

  /** Paints `frame` as soon as the paint before it is done; a newer offer replaces it. */
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

  /** Gives up the waiting frame and paints nothing more; a paint still running is acknowledged when it ends. */
  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    if (this.pending) this.sink.frameDone(this.pending)
    this.pending = null
    this.target.close()
  }

  private localTarget(canvas: HTMLCanvasElement): PaintTarget {
    return localPaintTarget(canvas, this.decoder, this.nextFrame, this.now)
  }

  private async paint(frame: CameraFrame): Promise<void> {
    this.busy = true
    let painted = false
    try {
      const shown = await this.target.paint(frame.jpeg)
      if (!this.disposed) {
        this.show(frame, shown)
        painted = true
      }
    } catch (err) {
      if (err instanceof TargetLost) this.replaceCanvas()
      // else an undecodable frame is skipped
    } finally {
      this.busy = false
      if (!painted) this.sink.frameDone(frame)
    }
    const next = this.pending
    this.pending = null
    if (next) this.offer(next)
  }

  /** The worker that owned the canvas died: a fresh canvas, same attributes and place, painted here. */
  private replaceCanvas(): void {
    const old = this.canvasValue
    const fresh = old.ownerDocument.createElement('canvas')
    for (const a of [...old.attributes]) {
      if (a.name !== 'width' && a.name !== 'height') fresh.setAttribute(a.name, a.value)
    }
    old.replaceWith(fresh)
    this.canvasValue = fresh
    this.target = this.localTarget(fresh)
  }

  private show(frame: CameraFrame, shown: Painted): void {
    const d = this.canvasValue.dataset
    d.seq = String(frame.seq)
    d.epoch = String(frame.epoch)
    d.rendition = frame.rendition
    d.painted = 'true'
    d.frameAgeMs = String(Math.round(this.sink.frameAgeMs(frame, shown.at)))
    d.paintedAt = String(shown.at)
    this.sink.markPainted(frame, shown.at)
    if (this.shownValue?.rendition !== frame.rendition || this.shownValue.width !== shown.width) {
      this.shownValue = { rendition: frame.rendition, width: shown.width }
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
