// Scenario 8: MJPEG in a plain <img>, and the earlier prototype's stream
// route, which attaches to the running video without restarting it.
import { expect, test } from '../support/fixtures'
import { VIDEO_LONG, mediaPath } from '../support/media'
import { readElement, type Marker } from '../support/marker'

const FPS = VIDEO_LONG.fps

test('scenario 8: MJPEG and the legacy stream route show advancing frames without restarting the video', async ({
  page,
  api,
  cameras,
}) => {
  const cam = await cameras.create({ prefix: 's8', video: mediaPath('long.avi') })
  // A page on the server's origin with nothing but the tags under test.
  await page.goto('/healthz')
  await page.setContent(`<!doctype html><title>mjpeg</title>
    <img id="mjpeg" alt="mjpeg" src="/api/cameras/${cam.id}/mjpeg">`)
  const img = page.locator('#mjpeg')

  const readImg = async (sel: string): Promise<Marker | null> => readElement(page.locator(sel)).catch(() => null)
  await expect.poll(async () => (await readImg('#mjpeg'))?.video, { timeout: 10_000 }).toBe(VIDEO_LONG.id)
  const a = (await readImg('#mjpeg'))!
  await expect.poll(async () => (await readImg('#mjpeg'))?.frame ?? -1, { timeout: 5000 }).toBeGreaterThan(a.frame)
  // Let it play past the first seconds, so a restart would be visible.
  await expect.poll(async () => (await readImg('#mjpeg'))?.frame ?? -1, { timeout: 10_000 }).toBeGreaterThanOrEqual(2 * FPS)
  await expect(img).toBeVisible()

  const runBefore = await api.camera(cam.id)
  const beforeLegacy = (await readImg('#mjpeg'))!

  // The legacy client's URL, with its (ignored) loop, speed and start-time parameters.
  await page.evaluate((id) => {
    const el = document.createElement('img')
    el.id = 'legacy'
    el.alt = 'legacy'
    el.src = `/api/live-monitoring/stream/${id}?loop=true&speed=1&t=123`
    document.body.append(el)
  }, cam.id)
  await expect.poll(async () => (await readImg('#legacy'))?.video, { timeout: 10_000 }).toBe(VIDEO_LONG.id)
  const legacy1 = (await readImg('#legacy'))!
  // It joins the running video where it is, not at t=123 or the start.
  expect(legacy1.frame, 'legacy stream joins at the current frame').toBeGreaterThanOrEqual(beforeLegacy.frame)
  await expect.poll(async () => (await readImg('#legacy'))?.frame ?? -1, { timeout: 5000 }).toBeGreaterThan(legacy1.frame)

  // Both tags keep moving forward together; the first did not jump back.
  const [m, l] = await Promise.all([readImg('#mjpeg'), readImg('#legacy')])
  expect(m!.frame).toBeGreaterThan(beforeLegacy.frame)
  expect(Math.abs(m!.frame - l!.frame), 'both streams show the same moment').toBeLessThanOrEqual(FPS)

  const runAfter = await api.camera(cam.id)
  expect(runAfter.epoch, 'the legacy route did not restart the video').toBe(runBefore.epoch)
  expect(runAfter.seq).toBeGreaterThan(runBefore.seq)
  expect(runAfter.speed, 'speed=1 in the URL changes nothing').toBe(1)
})
