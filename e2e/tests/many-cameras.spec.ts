// Scenario 7: eight cameras on one page, all live and moving, over one
// WebSocket.
import type { Page } from '@playwright/test'
import { expect, test } from '../support/fixtures'
import type { CameraView } from '../support/api'
import { VIDEO_TILES, mediaPath, tileVideoFile, type VideoSpec } from '../support/media'
import { installPaintRecorder, loopDistance, pageNow, paintedFrames, tile } from '../support/marker'
import { describeFrames } from '../support/wait'

/** The data-state of each camera's badge, read in one go (one moment). */
function badgeStates(page: Page, ids: string[]): Promise<(string | null | undefined)[]> {
  return page.evaluate(
    (list) => list.map((id) => document.querySelector(`[data-camera="${id}"] [role="status"]`)?.getAttribute('data-state')),
    ids,
  )
}

test('scenario 7: eight cameras are live at the same time on one page over a single WebSocket', async ({
  page,
  cameras,
}) => {
  test.setTimeout(90_000)
  // Each camera plays its own video (marker ids 11-18), so a tile showing
  // another camera's picture is caught too.
  const cams: { video: VideoSpec; cam: CameraView }[] = []
  for (const v of VIDEO_TILES) {
    cams.push({ video: v, cam: await cameras.create({ prefix: `s7-${v.id}`, video: mediaPath(tileVideoFile(v)) }) })
  }

  const sockets: string[] = []
  page.on('websocket', (ws) => sockets.push(ws.url()))
  await installPaintRecorder(page)
  await page.goto('/')
  for (const { cam } of cams) await expect(tile(page, cam.id)).toBeVisible()

  // All eight badges say Live at one moment.
  const ids = cams.map((c) => c.cam.id)
  await expect
    .poll(() => badgeStates(page, ids), { timeout: 15_000, message: 'all eight tiles live' })
    .toEqual(ids.map(() => 'live'))

  // Then every tile paints its own video, moving on: at least 5 paints and
  // 1 s of video (30 frames) each. Checked together, so they all move at once.
  const from = await pageNow(page)
  const progress = async () => {
    const out: Record<string, { paints: number; advanced: number }> = {}
    for (const { video, cam } of cams) {
      const frames = await paintedFrames(page, cam.id, from)
      let advanced = 0
      for (let i = 1; i < frames.length; i++) {
        const d = loopDistance(frames[i - 1]!.frame, frames[i]!.frame, video.frames)
        if (d < video.frames / 2) advanced += d
      }
      out[cam.id] = { paints: frames.length, advanced }
    }
    return out
  }
  const lagging = async () =>
    Object.entries(await progress())
      .filter(([, p]) => p.paints < 5 || p.advanced < VIDEO_TILES[0]!.fps)
      .map(([id, p]) => `${id}: ${p.paints} paints, ${p.advanced} frames`)
  await expect
    .poll(lagging, {
      timeout: 15_000,
      intervals: [250, 500],
      message: 'tiles that have not yet painted 5 frames and advanced 1 s',
    })
    .toEqual([])
  test.info().annotations.push({ type: 'paints', description: JSON.stringify(await progress()) })

  for (const { video, cam } of cams) {
    const frames = await paintedFrames(page, cam.id, from)
    const foreign = frames.filter((f) => f.video !== video.id)
    expect(foreign, `tile ${cam.id} painted other pictures: ${describeFrames(foreign)}`).toEqual([])
    // One run, seq strictly growing, and the picture moving forward on the
    // loop (unless the tab skipped more than half a loop in between).
    expect(new Set(frames.map((f) => f.epoch)).size, `one epoch on ${cam.id}`).toBe(1)
    const wrong = frames.filter((f, i) => {
      if (i === 0) return false
      const prev = frames[i - 1]!
      const ds = f.seq! - prev.seq!
      if (ds <= 0) return true
      return ds < video.frames / 2 && loopDistance(prev.frame, f.frame, video.frames) >= video.frames / 2
    })
    expect(wrong, `frames on ${cam.id} that do not follow from the one before: ${describeFrames(wrong)}`).toEqual([])
  }
  // Still all live together at the end.
  expect(await badgeStates(page, ids)).toEqual(ids.map(() => 'live'))

  // All of it over one WebSocket, the only one the page opened.
  expect(sockets, 'WebSockets opened by the page').toHaveLength(1)
  expect(new URL(sockets[0]!).pathname).toBe('/api/ws')
})
