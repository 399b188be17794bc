// Reads the frame marker (server/internal/marker) from what the page shows:
// which test video and which frame index. The decoding runs inside the
// page on the element's pixels (a tile's <canvas> or an <img>), so it sees
// exactly what a user sees.
import type { Locator, Page } from '@playwright/test'

export interface Marker {
  video: number
  frame: number
}

/** A marker read from a tile, with the canvas attributes of the same paint. */
export interface TileSample extends Marker {
  /** data-seq / data-epoch of the painted frame (null for an <img>). */
  seq: number | null
  epoch: number | null
  /** performance.now() in the page when it was read. */
  t: number
}

/**
 * Decodes the marker of a canvas or image element; null when the element
 * has no picture yet or the picture carries no valid marker. Self-contained:
 * Playwright serialises it into the page.
 *
 * Layout: 24 cells across the width; row 1 is y in [0, H/8), row 2 is
 * [H/8, 2H/8). Row 1 = 8 bits video id + 16 bits frame index, MSB first,
 * white = 1; row 2 is its complement. A cell's bit is the mean luminance of
 * its central 30 % x 30 %, threshold 128.
 */
export function readMarkerInPage(el: Element): { video: number; frame: number } | null {
  let w = 0
  let h = 0
  let source: CanvasImageSource
  if (el instanceof HTMLCanvasElement) {
    w = el.width
    h = el.height
    source = el
  } else if (el instanceof HTMLImageElement) {
    if (!el.complete && el.naturalWidth === 0) return null
    w = el.naturalWidth
    h = el.naturalHeight
    source = el
  } else {
    return null
  }
  const CELLS = 24
  const ROWS = 8
  if (w < CELLS || h < ROWS) return null
  // Only the two marker rows are read.
  const rowsH = Math.min(h, Math.ceil((2 * h) / ROWS) + 1)
  let data: Uint8ClampedArray
  // A painted canvas (data-seq set) with a 2d context is read directly; the
  // app's canvases are painted by its worker (getContext throws on a canvas
  // handed to one) or with a bitmaprenderer context (getContext('2d') is
  // null then), and are drawn into a scratch canvas below. Never create a
  // context on a canvas the app has not drawn on.
  let own: CanvasRenderingContext2D | null = null
  if (el instanceof HTMLCanvasElement && el.hasAttribute('data-seq')) {
    try {
      own = el.getContext('2d')
    } catch {
      own = null // its control went to the app's paint worker
    }
  }
  if (own) {
    data = own.getImageData(0, 0, w, rowsH).data
  } else {
    const off = document.createElement('canvas')
    off.width = w
    off.height = rowsH
    const ctx = off.getContext('2d', { willReadFrequently: true })
    if (!ctx) return null
    try {
      ctx.drawImage(source, 0, 0, w, rowsH, 0, 0, w, rowsH)
    } catch {
      return null // broken image
    }
    data = ctx.getImageData(0, 0, w, rowsH).data
  }
  const cw = w / CELLS
  const rh = h / ROWS
  const luma = (i: number, r: number): number => {
    const cx = (i + 0.5) * cw
    const cy = (r + 0.5) * rh
    const hw = Math.max((0.3 * cw) / 2, 0.5)
    const hh = Math.max((0.3 * rh) / 2, 0.5)
    const x0 = Math.floor(cx - hw + 0.5)
    let x1 = Math.floor(cx + hw + 0.5)
    const y0 = Math.floor(cy - hh + 0.5)
    let y1 = Math.floor(cy + hh + 0.5)
    if (x1 <= x0) x1 = x0 + 1
    if (y1 <= y0) y1 = y0 + 1
    x1 = Math.min(x1, w)
    y1 = Math.min(y1, rowsH)
    let sum = 0
    let n = 0
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const p = (y * w + x) * 4
        sum += (299 * data[p]! + 587 * data[p + 1]! + 114 * data[p + 2]!) / 1000
        n++
      }
    }
    return n ? sum / n : 0
  }
  let bits = 0
  for (let i = 0; i < CELLS; i++) {
    const one = luma(i, 0) >= 128
    const two = luma(i, 1) >= 128
    if (one === two) return null
    bits = bits * 2 + (one ? 1 : 0)
  }
  return { video: Math.floor(bits / 65536), frame: bits % 65536 }
}

type Reader = (e: Element) => { video: number; frame: number } | null
type MarkerWindow = Window & {
  __livemonReadMarker?: Reader
  __livemonPainted?: Painted[]
  __livemonRecorder?: boolean
}

/**
 * Script that defines window.__livemonReadMarker in a document. Installed in
 * every page of the test contexts (fixtures.ts); plain source so that no
 * `eval` happens in the page.
 */
export const MARKER_READER_SCRIPT = `window.__livemonReadMarker = ${readMarkerInPage.toString()};`

/** The tile root of a camera on Live, focused or any page showing tiles. */
export function tile(page: Page, camera: string): Locator {
  return page.locator(`[data-camera="${camera}"]`)
}

/** The element a tile paints frames into. */
export function tileFrame(page: Page, camera: string): Locator {
  return page.getByTestId(`frame-${camera}`)
}

/** The tile's state badge. */
export function tileStatus(page: Page, camera: string): Locator {
  return tile(page, camera).getByRole('status')
}

async function ensureReader(page: Page): Promise<void> {
  const has = await page.evaluate(() => typeof (window as MarkerWindow).__livemonReadMarker === 'function')
  if (!has) await page.evaluate(MARKER_READER_SCRIPT)
}

/** Reads the marker shown by a camera's tile, or null. One round trip to the page. */
export async function readTile(page: Page, camera: string): Promise<TileSample | null> {
  const read = () =>
    page.evaluate((id) => {
      const w = window as MarkerWindow
      if (!w.__livemonReadMarker) return 'no reader' as const
      const node = document.querySelector(`[data-testid="frame-${CSS.escape(id)}"]`)
      if (!node) return null
      const m = w.__livemonReadMarker(node)
      if (!m) return null
      const seq = node.getAttribute('data-seq')
      const epoch = node.getAttribute('data-epoch')
      return {
        ...m,
        seq: seq === null ? null : Number(seq),
        epoch: epoch === null ? null : Number(epoch),
        t: performance.now(),
      }
    }, camera)
  let got = await read()
  if (got === 'no reader') {
    await ensureReader(page)
    got = await read()
  }
  return got === 'no reader' ? null : got
}

/** Reads the marker of any canvas or img element. */
export async function readElement(el: Locator): Promise<Marker | null> {
  await ensureReader(el.page())
  return el.evaluate((node) => (window as MarkerWindow).__livemonReadMarker!(node), undefined, { timeout: 5000 })
}

/** A painted frame seen by the in-page recorder. */
export interface Painted extends Marker {
  camera: string
  seq: number | null
  epoch: number | null
  /** performance.now() of the paint (ms since this document's navigation start). */
  t: number
}

/**
 * Records, in the document, every frame a tile paints: a MutationObserver on
 * data-seq of `[data-testid^="frame-"]` decodes the marker right after the
 * paint (video -1 if unreadable). Lets tests say "no painted frame showed A",
 * not just "no frame a poll happened to catch".
 */
function paintRecorder(): void {
  const w = window as MarkerWindow
  if (w.__livemonRecorder) return
  w.__livemonRecorder = true
  w.__livemonPainted = []
  const start = () => {
    const obs = new MutationObserver((records) => {
      for (const r of records) {
        const el = r.target as Element
        const id = el.getAttribute('data-testid') ?? ''
        if (!id.startsWith('frame-')) continue
        const m = w.__livemonReadMarker ? w.__livemonReadMarker(el) : null
        const seq = el.getAttribute('data-seq')
        const epoch = el.getAttribute('data-epoch')
        const list = w.__livemonPainted!
        list.push({
          camera: id.slice('frame-'.length),
          video: m ? m.video : -1,
          frame: m ? m.frame : -1,
          seq: seq === null ? null : Number(seq),
          epoch: epoch === null ? null : Number(epoch),
          t: performance.now(),
        })
        if (list.length > 20_000) list.splice(0, 10_000)
      }
    })
    obs.observe(document, { subtree: true, attributes: true, attributeFilter: ['data-seq'] })
  }
  if (document.documentElement) start()
  else document.addEventListener('DOMContentLoaded', start, { once: true })
}

const RECORDER_SCRIPT = `${MARKER_READER_SCRIPT}\n(${paintRecorder.toString()})();`

/**
 * Starts the paint recorder in the page's current document and in every
 * document it loads from now on (reloads included).
 */
export async function installPaintRecorder(page: Page): Promise<void> {
  await page.addInitScript({ content: RECORDER_SCRIPT })
  await page.evaluate(RECORDER_SCRIPT)
}

/** Frames painted for `camera` in the current document at or after page time `sinceT`. */
export async function paintedFrames(page: Page, camera: string, sinceT = 0): Promise<Painted[]> {
  return page.evaluate(
    ([cam, since]) => ((window as MarkerWindow).__livemonPainted ?? []).filter((p) => p.camera === cam && p.t >= since),
    [camera, sinceT] as const,
  )
}

/** Like paintedFrames, with `t` converted to wall-clock milliseconds (comparable across pages). */
export async function paintedFramesWall(page: Page, camera: string): Promise<Painted[]> {
  const { origin, frames } = await page.evaluate(
    (cam) => ({
      origin: performance.timeOrigin,
      frames: ((window as MarkerWindow).__livemonPainted ?? []).filter((p) => p.camera === cam),
    }),
    camera,
  )
  return frames.map((f) => ({ ...f, t: origin + f.t }))
}

/** performance.now() in the page. */
export async function pageNow(page: Page): Promise<number> {
  return page.evaluate(() => performance.now())
}

/** Forward distance from frame a to frame b in a video of `frames` frames that loops. */
export function loopDistance(a: number, b: number, frames: number): number {
  return (((b - a) % frames) + frames) % frames
}
