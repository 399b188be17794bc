// Issue 14: an RTSP camera (H.264, decoded in the server's isolated
// decoder) and an MJPEG camera, both from `livemon fake-camera`, added by
// URL on the Cameras page, play side by side on the Live page; when the
// camera process stops both tiles say Offline and keep their last frame;
// when it is started again on the same ports both are Live by themselves.
import type { Page } from '@playwright/test'
import { RTSP_VIDEO_IDS } from '../support/fake-camera'
import { expect, test, uniqueId } from '../support/fixtures'
import { readTile, tileFrame, tileStatus, type TileSample } from '../support/marker'
import { expectLive, waitForVideo } from '../support/wait'

/** Marker video id of the fake camera's MJPEG frames (the test videos use 1-4 and 11-18, RTSP 20-21). */
const MJPEG_VIDEO = 43

/** Waits until the tile paints a frame of `video` with a seq above `after`. */
async function waitForNewer(page: Page, camera: string, video: number, after: number, timeout = 15_000): Promise<TileSample> {
  let got: TileSample | null = null
  await expect
    .poll(
      async () => {
        got = await readTile(page, camera)
        return got?.video === video ? (got.seq ?? -1) : -1
      },
      { timeout, intervals: [100, 250], message: `tile ${camera} shows video ${video} with seq above ${after}` },
    )
    .toBeGreaterThan(after)
  return got!
}

async function addByUrl(page: Page, id: string, url: string) {
  await page.goto('/cameras')
  const form = page.getByRole('form', { name: 'Add a camera' })
  await form.getByLabel('Name', { exact: true }).fill(`Cam ${id}`)
  await form.getByLabel('ID (optional)').fill(id)
  await form.getByLabel('Connect to a camera by URL').check()
  await form.getByLabel('Camera URL').fill(url)
  await form.getByRole('button', { name: 'Create camera' }).click()
  await expect(page.locator(`[data-camera-row="${id}"]`)).toBeVisible()
}

test('live sources: an RTSP and an MJPEG camera added by URL are Live, Offline when the camera stops, Live again when it starts', async ({
  page,
  cameras,
  fakeCameras,
}) => {
  test.setTimeout(120_000)
  const credentials = { user: 'admin', password: 'rtsp-e2e-pw' }
  const cam = await fakeCameras.start({ videoId: MJPEG_VIDEO, fps: 10, width: 320, height: 180, rtsp: true, ...credentials })
  const rtspId = uniqueId('rtsp')
  const mjpegId = uniqueId('mjpeg')
  cameras.track(rtspId)
  cameras.track(mjpegId)

  await addByUrl(page, rtspId, cam.rtspUrl('h264', credentials))
  const row = page.locator(`[data-camera-row="${rtspId}"]`)
  await expect(row.locator('[data-source-kind]')).toHaveText('RTSP stream · TCP')
  await expect(row.locator('[data-source-url]')).toHaveText(`rtsp://admin:xxxxx@${cam.rtspAddr}/h264`)
  await addByUrl(page, mjpegId, cam.mjpegUrl(credentials))
  await expect(page.locator('body')).not.toContainText(credentials.password)

  // Both tiles play their camera's own frames on the Live page.
  await page.goto('/')
  await expectLive(page, rtspId, 20_000)
  await expectLive(page, mjpegId)
  const rtsp = await waitForVideo(page, rtspId, RTSP_VIDEO_IDS.h264, 15_000)
  const mjpeg = await waitForVideo(page, mjpegId, MJPEG_VIDEO)
  const rtspBefore = await waitForNewer(page, rtspId, RTSP_VIDEO_IDS.h264, rtsp.seq ?? -1)
  await waitForNewer(page, mjpegId, MJPEG_VIDEO, mjpeg.seq ?? -1)

  // The camera process stops: both Offline, each keeping its last frame.
  const { addr, rtspAddr } = cam
  await cam.stop()
  for (const id of [rtspId, mjpegId]) {
    await expect(tileStatus(page, id)).toHaveAttribute('data-state', 'offline', { timeout: 10_000 })
    await expect(tileFrame(page, id)).toHaveAttribute('data-painted', 'true')
  }
  const kept = await readTile(page, rtspId)
  expect(kept?.video, 'the RTSP tile keeps its last frame').toBe(RTSP_VIDEO_IDS.h264)
  expect(kept!.seq ?? -1).toBeGreaterThanOrEqual(rtspBefore.seq ?? 0)

  // Started again on the same ports: both Live by themselves, with newer frames.
  await fakeCameras.start({ videoId: MJPEG_VIDEO, fps: 10, width: 320, height: 180, rtsp: true, addr, rtspAddr, ...credentials })
  for (const id of [rtspId, mjpegId]) {
    await expect(tileStatus(page, id)).toHaveAttribute('data-state', 'live', { timeout: 20_000 })
  }
  await waitForNewer(page, rtspId, RTSP_VIDEO_IDS.h264, kept!.seq ?? -1)
  await waitForNewer(page, mjpegId, MJPEG_VIDEO, mjpeg.seq ?? -1)
  await expect(page.locator('body')).not.toContainText(credentials.password)
})
