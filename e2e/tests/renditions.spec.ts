// Renditions (docs/protocol.md): a 16-tile grid receives every camera's
// small grid rendition; the focused view receives the full one.
import type { Page } from '@playwright/test'
import { expect, test } from '../support/fixtures'
import type { CameraView } from '../support/api'
import { VIDEO_A, mediaPath } from '../support/media'
import { readTile, tile, tileFrame } from '../support/marker'

const TILES = 16
/** The server's default --grid-width; VIDEO_A is 640 x 360. */
const GRID_WIDTH = 480
const GRID_HEIGHT = Math.round((VIDEO_A.height * GRID_WIDTH) / VIDEO_A.width)

/** Frame sizes (from the binary frame header) per channel, as the page receives them. */
type Sizes = Map<number, { width: number; height: number; count: number }>

function recordFrameSizes(page: Page): Sizes {
  const sizes: Sizes = new Map()
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => {
      if (typeof payload === 'string' || payload.length < 40 || payload[0] !== 1) return
      const channel = payload.readUInt32BE(4)
      const s = sizes.get(channel) ?? { width: 0, height: 0, count: 0 }
      s.width = Math.max(s.width, payload.readUInt16BE(36))
      s.height = Math.max(s.height, payload.readUInt16BE(38))
      s.count++
      sizes.set(channel, s)
    })
  })
  return sizes
}

/** Each tile's canvas width and rendition badge, read in one go. */
function paintedWidths(page: Page, ids: string[]) {
  return page.evaluate(
    (list) =>
      list.map((id) => {
        const canvas = document.querySelector<HTMLCanvasElement>(`[data-testid="frame-${CSS.escape(id)}"]`)
        const badge = document.querySelector(`[data-testid="rendition-${CSS.escape(id)}"]`)
        return `${canvas?.dataset.painted ? canvas.width : 0}:${badge?.getAttribute('data-rendition') ?? ''}`
      }),
    ids,
  )
}

test('a 16-tile grid gets the grid rendition and the focused view gets full', async ({ page, cameras }) => {
  test.setTimeout(150_000)
  const cams: CameraView[] = []
  for (let i = 0; i < TILES; i++) {
    cams.push(await cameras.create({ prefix: `rend-${i}`, video: mediaPath('a.avi') }))
  }
  const ids = cams.map((c) => c.id)
  const sizes = recordFrameSizes(page)
  await page.goto('/')
  for (const id of ids) await expect(tile(page, id)).toHaveAttribute('data-rendition', 'grid')

  // Every tile paints grid frames: 480 px wide (the video is 640), badge "grid".
  await expect
    .poll(() => paintedWidths(page, ids), { timeout: 60_000, message: 'all 16 tiles paint the grid rendition' })
    .toEqual(ids.map(() => `${GRID_WIDTH}:grid`))
  const badge = tile(page, ids[0]!).getByTestId(`rendition-${ids[0]}`)
  await expect(badge).toHaveText(`grid ${GRID_WIDTH} px`)
  await expect(badge).toHaveAttribute('data-width', String(GRID_WIDTH))
  // The tile still shows the right picture.
  await expect.poll(async () => (await readTile(page, ids[0]!))?.video, { timeout: 10_000 }).toBe(VIDEO_A.id)
  // Nothing larger than the grid rendition reached the page.
  expect([...sizes.values()].every((s) => s.width <= GRID_WIDTH && s.height <= GRID_HEIGHT)).toBe(true)
  expect([...sizes.values()].filter((s) => s.width === GRID_WIDTH).length).toBeGreaterThanOrEqual(TILES)

  // The focused view of one camera: full, 640 px.
  const focused = ids[0]!
  sizes.clear()
  await tile(page, focused).getByRole('link', { name: `Open ${cams[0]!.name}` }).click()
  await expect(page).toHaveURL(new RegExp(`/cameras/${focused}$`))
  await expect(tile(page, focused)).toHaveAttribute('data-rendition', 'full')
  await expect(tile(page, focused).getByTestId(`rendition-${focused}`)).toHaveAttribute('data-rendition', 'full', {
    timeout: 15_000,
  })
  await expect(tile(page, focused).getByTestId(`rendition-${focused}`)).toHaveText('full')
  await expect.poll(() => tileFrame(page, focused).evaluate((c) => (c as HTMLCanvasElement).width)).toBe(VIDEO_A.width)
  await expect
    .poll(() => [...sizes.values()].some((s) => s.width === VIDEO_A.width && s.height === VIDEO_A.height), {
      message: 'full-size frames reach the focused view',
    })
    .toBe(true)
})

/** One look at the camera's tile, taken in an animation frame. */
interface SwitchSample {
  path: string
  /** The canvas is in the document. */
  present: boolean
  width: number
  /** Marker video id on the canvas; -1: blank or unreadable. */
  video: number
  /** The tile badge's data-state. */
  state: string
}

// Both paint paths: the page drawing, and the paint worker owning the canvas
// (the canvas a tile keeps across views is then a placeholder of the
// worker's; e2e/support/fixtures.ts, PaintPath).
for (const paint of ['main', 'worker'] as const) {
  test.describe(`painted by ${paint === 'main' ? 'the page' : 'the paint worker'}`, () => {
    test.use({ paint })
    test('opening the focused view from the grid and going back never shows an empty frame', async ({ page, cameras }) => {
      test.setTimeout(90_000)
      const cam = await cameras.create({ prefix: 'switch', video: mediaPath('a.avi') })
      const id = cam.id
      // A window narrow enough that the lone tile is no wider than the grid
      // rendition (a wider tile asks for full: the next test).
      await page.setViewportSize({ width: 520, height: 720 })
      await page.goto('/')
      const badge = () => tile(page, id).getByTestId(`rendition-${id}`)
      await expect(badge()).toHaveText(`grid ${GRID_WIDTH} px`, { timeout: 20_000 })
      await expect.poll(async () => (await readTile(page, id))?.video, { timeout: 10_000 }).toBe(VIDEO_A.id)

      // From now on, every animation frame: is the canvas there, and does it
      // show the video (its marker), and is the tile live?
      await page.evaluate((camera) => {
        type W = Window & {
          __livemonReadMarker?: (e: Element) => { video: number } | null
          __switch?: { samples: SwitchSample[]; stop: () => void }
        }
        const w = window as W
        const samples: SwitchSample[] = []
        let on = true
        const look = () => {
          if (!on) return
          const el = document.querySelector(`[data-testid="frame-${CSS.escape(camera)}"]`) as HTMLCanvasElement | null
          const present = !!el?.isConnected
          const marker = present && w.__livemonReadMarker ? w.__livemonReadMarker(el!) : null
          const status = document.querySelector(`[data-camera="${CSS.escape(camera)}"] [role="status"]`)
          samples.push({
            path: location.pathname,
            present,
            width: el?.width ?? 0,
            video: marker ? marker.video : -1,
            state: status?.getAttribute('data-state') ?? '',
          })
          if (samples.length < 20_000) requestAnimationFrame(look)
        }
        requestAnimationFrame(look)
        w.__switch = { samples, stop: () => (on = false) }
      }, id)

      // Grid -> focused view: the full rendition's frames arrive (640 px, "full").
      await tile(page, id).getByRole('link', { name: `Open ${cam.name}` }).click()
      await expect(page).toHaveURL(new RegExp(`/cameras/${id}$`))
      await expect(badge()).toHaveText('full', { timeout: 15_000 })
      await expect.poll(() => tileFrame(page, id).evaluate((c) => (c as HTMLCanvasElement).width)).toBe(VIDEO_A.width)
      // Focused view -> grid again: back to 480 px grid frames.
      await page.getByRole('link', { name: 'All cameras' }).click()
      await expect(page).toHaveURL(/\/$/)
      await expect(badge()).toHaveText(`grid ${GRID_WIDTH} px`, { timeout: 15_000 })
      await expect.poll(() => tileFrame(page, id).evaluate((c) => (c as HTMLCanvasElement).width)).toBe(GRID_WIDTH)

      const samples = await page.evaluate(() => {
        const w = window as Window & { __switch?: { samples: SwitchSample[]; stop: () => void } }
        w.__switch!.stop()
        return w.__switch!.samples
      })
      const focusedPath = `/cameras/${id}`
      expect(samples.filter((s) => s.path === focusedPath).length, 'animation frames sampled in the focused view').toBeGreaterThan(5)
      expect(samples.at(-1)?.path).toBe('/')
      // Never an empty frame: in every animation frame the canvas was there and showed the video.
      const gaps = samples.filter((s) => !s.present || s.video !== VIDEO_A.id)
      expect(gaps.slice(0, 5), `${gaps.length} of ${samples.length} animation frames without a picture`).toEqual([])
      // And the tile never fell back to "Connecting" during the switches.
      expect(samples.filter((s) => s.state !== 'live').slice(0, 5)).toEqual([])
      // The canvas went from grid to full size and back.
      expect(samples[0]?.width).toBe(GRID_WIDTH)
      expect(samples.some((s) => s.path === focusedPath && s.width === VIDEO_A.width)).toBe(true)
      expect(samples.at(-1)?.width).toBe(GRID_WIDTH)
    })
  })
}

test('a grid tile shown much wider than the grid rendition asks for full, and for grid again when narrowed', async ({ page, cameras }) => {
  test.setTimeout(60_000)
  const cam = await cameras.create({ prefix: 'wide', video: mediaPath('a.avi') })
  const id = cam.id
  const badge = () => tile(page, id).getByTestId(`rendition-${id}`)
  const canvasWidth = () => tileFrame(page, id).evaluate((c) => (c as HTMLCanvasElement).width)
  // One camera in a 1280 px window: its tile is about 1100 px wide, more
  // than twice the 480 px grid rendition, so it paints the full 640 px one.
  await page.setViewportSize({ width: 1280, height: 800 })
  await page.goto('/')
  await expect(tile(page, id)).toHaveAttribute('data-rendition', 'full', { timeout: 20_000 })
  await expect(badge()).toHaveText('full', { timeout: 20_000 })
  await expect.poll(canvasWidth, { timeout: 10_000 }).toBe(VIDEO_A.width)
  // Narrowed until the tile is no wider than the grid rendition: grid again, without a reload.
  await page.setViewportSize({ width: 520, height: 800 })
  await expect(tile(page, id)).toHaveAttribute('data-rendition', 'grid', { timeout: 10_000 })
  await expect(badge()).toHaveText(`grid ${GRID_WIDTH} px`, { timeout: 15_000 })
  await expect.poll(canvasWidth, { timeout: 10_000 }).toBe(GRID_WIDTH)
})
