// Scenario 10: speed 2 set on the Cameras page doubles how fast the frame
// index advances, live, without restarting the video.
import { expect, test } from '../support/fixtures'
import { VIDEO_LONG, mediaPath } from '../support/media'
import { installPaintRecorder, pageNow, paintedFrames } from '../support/marker'
import { describeFrames, expectLive, frameRate, recordFor, waitForVideo } from '../support/wait'

const FPS = VIDEO_LONG.fps
const WINDOW_MS = 3000

test('scenario 10: speed 2 on the Cameras page makes the video advance about twice as fast without a reset', async ({
  page,
  api,
  cameras,
  viewers,
}) => {
  const cam = await cameras.create({ prefix: 's10', video: mediaPath('long.avi') })
  // One browser watches the camera throughout; the operator uses another.
  const viewer = await viewers.open(`/cameras/${cam.id}`)
  await installPaintRecorder(viewer)
  await expectLive(viewer, cam.id)
  await waitForVideo(viewer, cam.id, VIDEO_LONG.id)

  const slowFrom = await pageNow(viewer)
  await page.goto('/cameras')
  const speed = page.getByLabel(`Speed of ${cam.id}`)
  await expect(speed).toHaveValue('1')
  const slow = await recordFor(viewer, cam.id, slowFrom, WINDOW_MS)

  const changeFrom = await pageNow(viewer)
  await speed.selectOption('2')
  await expect(speed).toHaveValue('2')
  await expect.poll(async () => (await api.camera(cam.id)).speed, { timeout: 5000 }).toBe(2)
  // Skip the moment of the change itself.
  const fastFrom = (await pageNow(viewer)) + 500
  const fast = await recordFor(viewer, cam.id, fastFrom, WINDOW_MS)

  const slowRate = frameRate(slow.filter((f) => f.t < changeFrom))
  const fastRate = frameRate(fast)
  const rates = `speed 1: ${slowRate.toFixed(1)} frames/s, speed 2: ${fastRate.toFixed(1)} frames/s`
  test.info().annotations.push({ type: 'rates', description: rates })
  expect(slowRate, 'speed 1 plays at the file rate').toBeGreaterThan(FPS * 0.85)
  expect(slowRate).toBeLessThan(FPS * 1.15)
  expect(fastRate / slowRate, rates).toBeGreaterThan(1.7)
  expect(fastRate / slowRate, rates).toBeLessThan(2.3)

  // No reset: one run, the frame index and seq only ever grow, all video 4.
  const all = await paintedFrames(viewer, cam.id, slowFrom)
  expect(new Set(all.map((f) => f.video)), describeFrames(all)).toEqual(new Set([VIDEO_LONG.id]))
  expect(new Set(all.map((f) => f.epoch)), 'one epoch throughout').toEqual(new Set([slow[0]!.epoch]))
  const backwards = all.filter((f, i) => i > 0 && (f.frame < all[i - 1]!.frame || f.seq! <= all[i - 1]!.seq!))
  expect(backwards, `frames going back: ${describeFrames(backwards)}`).toEqual([])
  const camNow = await api.camera(cam.id)
  expect(camNow.epoch).toBe(slow[0]!.epoch)
})
