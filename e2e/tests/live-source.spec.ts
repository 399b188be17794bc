// Issue 14, first slice: a live HTTP MJPEG camera (`livemon fake-camera`)
// added by URL on the Cameras page plays the camera's own frames; when the
// camera stops answering the tile says Offline and keeps its last frame;
// when it answers again the tile is Live by itself.
import type { Page } from '@playwright/test'
import { expect, test, uniqueId } from '../support/fixtures'
import { readTile, tile, tileFrame, tileStatus } from '../support/marker'
import { expectLive, waitForFrame } from '../support/wait'

/** Marker video id of the fake camera's frames (the test videos use 1-4 and 11-18). */
const CAMERA_VIDEO = 42

/** A tile frame of the fake camera newer than frame `after` (it counts up from its start; no loop). */
const waitForCameraFrame = (page: Page, camera: string, after: number) =>
  waitForFrame(page, camera, CAMERA_VIDEO, after + 1, 10_000)

test('live source: an MJPEG camera added by URL is Live, Offline with its last frame when it stops answering, Live again by itself', async ({
  page,
  cameras,
  fakeCameras,
}) => {
  test.setTimeout(90_000)
  const credentials = { user: 'viewer', password: 's3cret-e2e' }
  const cam = await fakeCameras.start({ videoId: CAMERA_VIDEO, fps: 10, width: 320, height: 180, ...credentials })
  const id = uniqueId('live')
  cameras.track(id)

  // Add it by URL in the UI, with a user and password in the URL.
  await page.goto('/cameras')
  const form = page.getByRole('form', { name: 'Add a camera' })
  await form.getByLabel('Name', { exact: true }).fill(`Gate ${id}`)
  await form.getByLabel('ID (optional)').fill(id)
  await form.getByLabel('Connect to a camera by URL').check()
  await expect(form.getByLabel('Loop')).toHaveCount(0)
  await form.getByLabel('Camera URL').fill(cam.mjpegUrl(credentials))
  await form.getByRole('button', { name: 'Create camera' }).click()

  const row = page.locator(`[data-camera-row="${id}"]`)
  // The kind is found from what the camera answered; the password is never shown.
  await expect(row.locator('[data-source-kind]')).toHaveText('MJPEG stream')
  await expect(row.locator('[data-source-url]')).toHaveText(`http://viewer:xxxxx@${new URL(cam.url).host}/mjpeg`)
  await expect(row.getByLabel(`Loop ${id}`)).toHaveCount(0)
  await expect(row.getByLabel(`Speed of ${id}`)).toHaveCount(0)
  await expect(row.locator('[data-frame-age]')).toHaveText(/^Last frame (just now|\d+ s ago)$/)
  await expect(page.locator('body')).not.toContainText(credentials.password)

  // Its tile plays the camera's own frames.
  await page.goto(`/cameras/${id}`)
  await expectLive(page, id)
  const first = await waitForCameraFrame(page, id, -1)
  const before = await waitForCameraFrame(page, id, first.frame)

  // The camera stops answering: Offline within 10 s, the last frame stays with its age.
  await cam.setMode('down')
  await expect(tileStatus(page, id)).toHaveAttribute('data-state', 'offline', { timeout: 10_000 })
  await expect(tileStatus(page, id)).toHaveText('Offline')
  await expect(tile(page, id).locator('[data-frame-age]')).toHaveText(/^Last frame \d+ s ago$/)
  await expect(tileFrame(page, id)).toHaveAttribute('data-painted', 'true')
  const kept = await readTile(page, id)
  expect(kept?.video, 'the last frame stays on the tile').toBe(CAMERA_VIDEO)
  expect(kept!.frame).toBeGreaterThanOrEqual(before.frame)

  // It answers again: Live without any user action, with newer frames.
  await cam.setMode('up')
  await expect(tileStatus(page, id)).toHaveAttribute('data-state', 'live', { timeout: 10_000 })
  await expect(tile(page, id).locator('[data-frame-age]')).toHaveCount(0)
  const again = await waitForCameraFrame(page, id, kept!.frame)
  await waitForCameraFrame(page, id, again.frame)
  await expect(page.locator('body')).not.toContainText(credentials.password)
})

test('live source: a camera that keeps the connection open but stalls is Offline ("no frames for 5 s") on the Live page, then Live again', async ({
  page,
  api,
  cameras,
  fakeCameras,
}) => {
  test.setTimeout(60_000)
  const cam = await fakeCameras.start({ videoId: CAMERA_VIDEO, fps: 10, width: 320, height: 180 })
  const id = uniqueId('stall')
  cameras.track(id)
  await api.createCamera({ id, name: id, source: { url: cam.mjpegUrl() } })

  await page.goto('/')
  await expectLive(page, id)
  const before = await waitForCameraFrame(page, id, -1)

  await cam.setMode('stall')
  await expect(tileStatus(page, id)).toHaveAttribute('data-state', 'offline', { timeout: 10_000 })
  await expect(tile(page, id)).toContainText('no frames for 5 s')

  await cam.setMode('up')
  await expect(tileStatus(page, id)).toHaveAttribute('data-state', 'live', { timeout: 15_000 })
  await waitForCameraFrame(page, id, before.frame)
})
