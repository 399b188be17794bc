// Scenarios 3 and 4: leaving the Live page or reloading it resumes the same
// session and shows the camera where it is now, at once, not from the start.
import { expect, test } from '../support/fixtures'
import { VIDEO_LONG, mediaPath } from '../support/media'
import { installPaintRecorder, pageNow, tileFrame } from '../support/marker'
import { expectLive, firstPaintAfter, sessionId, waitForAdvance, waitForFrame, waitForVideo } from '../support/wait'

const FPS = VIDEO_LONG.fps
/** The first frame must be on screen this soon after coming back. */
const FIRST_FRAME_MS = 1000
/** Allowed difference between the frame shown and where the camera should be: 1 s. */
const TOLERANCE_FRAMES = FPS

test('scenario 3: back on the Live page after 5 s elsewhere, the same session shows the camera where it is now', async ({
  page,
  api,
  cameras,
}) => {
  const cam = await cameras.create({ prefix: 's3', video: mediaPath('long.avi') })
  await page.goto('/')
  await installPaintRecorder(page)
  await expectLive(page, cam.id)
  // Play at least 3 s first, so that a jump back to the start cannot pass for progress.
  await waitForFrame(page, cam.id, VIDEO_LONG.id, 3 * FPS)
  const session = await sessionId(page)
  expect(session).toMatch(/^[0-9a-f]{32}$/)
  const left = await waitForAdvance(page, cam.id, await waitForVideo(page, cam.id, VIDEO_LONG.id))
  const leftWall = Date.now()
  const serverAtLeave = await api.camera(cam.id)

  await page.getByRole('navigation').getByRole('link', { name: 'Status' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Status' })).toBeVisible()
  await expect(tileFrame(page, cam.id)).toHaveCount(0)
  // Away until the camera itself has moved on 5 s.
  await expect
    .poll(async () => (await api.camera(cam.id)).seq, { timeout: 10_000, intervals: [250] })
    .toBeGreaterThanOrEqual(serverAtLeave.seq + 5 * FPS)
  expect(Date.now() - leftWall).toBeGreaterThanOrEqual(4500)

  const backAt = await pageNow(page)
  await page.getByRole('navigation').getByRole('link', { name: 'Live' }).click()
  const first = await firstPaintAfter(page, cam.id, backAt, FIRST_FRAME_MS + 2000)
  const backWall = Date.now()
  expect(first.t - backAt, 'first frame within 1 s of coming back').toBeLessThanOrEqual(FIRST_FRAME_MS)

  expect(await sessionId(page), 'same session').toBe(session)
  expect(first.video).toBe(VIDEO_LONG.id)
  expect(first.epoch, 'same run of the video').toBe(left.epoch)
  expect(first.seq!).toBeGreaterThan(left.seq!)
  // About 5 s of frames later than when we left: not the old frame, not the start.
  const away = (first.t - left.t) / 1000
  const moved = `frame ${first.frame} vs ${left.frame} after ${away.toFixed(1)} s`
  expect(first.frame - left.frame, moved).toBeGreaterThanOrEqual(5 * FPS - TOLERANCE_FRAMES / 2)
  expect(Math.abs(first.frame - (left.frame + away * FPS)), moved).toBeLessThanOrEqual(TOLERANCE_FRAMES)
  // And where the server says the camera is now.
  const server = await api.camera(cam.id)
  const serverFrame = server.position * FPS - ((Date.now() - backWall) / 1000) * FPS
  expect(Math.abs(first.frame - serverFrame), `server position ${server.position}`).toBeLessThanOrEqual(TOLERANCE_FRAMES * 1.5)

  await expectLive(page, cam.id)
  await waitForAdvance(page, cam.id, await waitForVideo(page, cam.id, VIDEO_LONG.id))
})

test('scenario 4: after a reload the same session shows the camera where it is now within 1 s', async ({
  page,
  cameras,
}) => {
  const cam = await cameras.create({ prefix: 's4', video: mediaPath('long.avi') })
  await installPaintRecorder(page)
  await page.goto('/')
  await expectLive(page, cam.id)
  // Play at least 3 s first, so that a jump back to the start cannot pass for progress.
  await waitForFrame(page, cam.id, VIDEO_LONG.id, 3 * FPS)
  const session = await sessionId(page)
  expect(session).toMatch(/^[0-9a-f]{32}$/)
  const before = await waitForAdvance(page, cam.id, await waitForVideo(page, cam.id, VIDEO_LONG.id))
  const beforeWall = await page.evaluate((t) => performance.timeOrigin + t, before.t)

  await page.reload()
  // The recorder runs in the new document from its start; its clock starts at the reload.
  const first = await firstPaintAfter(page, cam.id, 0, FIRST_FRAME_MS + 4000)
  const firstWall = await page.evaluate((t) => performance.timeOrigin + t, first.t)
  expect(first.t, 'first frame within 1 s of the reload').toBeLessThanOrEqual(FIRST_FRAME_MS)

  expect(await sessionId(page), 'same session').toBe(session)
  expect(first.video).toBe(VIDEO_LONG.id)
  expect(first.epoch, 'same run of the video').toBe(before.epoch)
  expect(first.seq!).toBeGreaterThan(before.seq!)
  const away = (firstWall - beforeWall) / 1000
  expect(
    Math.abs(first.frame - (before.frame + away * FPS)),
    `frame ${first.frame} vs ${before.frame} after ${away.toFixed(2)} s`,
  ).toBeLessThanOrEqual(TOLERANCE_FRAMES)
  expect(first.frame, 'not back at the start').toBeGreaterThan(before.frame)

  await expectLive(page, cam.id)
  await waitForAdvance(page, cam.id, await waitForVideo(page, cam.id, VIDEO_LONG.id))
})
