// Scenarios 1, 2 and 9: uploading through the Upload page. The newest
// upload plays at once, the old video never comes back, and a rejected
// upload explains itself while the camera keeps playing.
import type { Page } from '@playwright/test'
import { expect, test, uniqueId } from '../support/fixtures'
import { BAD_FILE, VIDEO_A, VIDEO_B, VIDEO_B_LARGE, mediaPath } from '../support/media'
import { installPaintRecorder, loopDistance, pageNow, tileStatus } from '../support/marker'
import { describeFrames, expectLive, firstPaintOf, recordFor, videoFrames, waitForAdvance, waitForVideo } from '../support/wait'

/** How soon a new upload must be on screen once the server accepted it. */
const SHOW_WITHIN_MS = 3000
/** How long the old video must stay away. */
const NEVER_AGAIN_MS = 5000

/** Picks the file, presses Upload and returns the server's answer. */
async function uploadThroughPage(page: Page, camera: string, file: string) {
  await page.getByLabel('Video file').setInputFiles(file)
  const answer = page.waitForResponse(
    (r) => r.request().method() === 'POST' && r.url().endsWith(`/api/cameras/${camera}/video`),
    { timeout: 60_000 },
  )
  await page.getByRole('button', { name: 'Upload', exact: true }).click()
  return answer
}

test('scenario 1: a video uploaded to a new camera on the Upload page plays within 3 s', async ({ page, cameras }) => {
  const id = uniqueId('s1')
  cameras.track(id)
  await page.goto('/upload')
  await page.getByLabel('Target camera').selectOption({ label: 'New camera…' })
  await page.getByLabel('New camera ID').fill(id)

  const res = await uploadThroughPage(page, id, mediaPath('a.avi'))
  const acceptedAt = Date.now()
  expect(res.status(), await res.text()).toBe(201)
  await expect(page.getByRole('status').filter({ hasText: 'Upload complete' })).toContainText(`Upload complete: camera ${id} now plays a.avi`)

  await page.getByRole('link', { name: `Watch ${id} live` }).click()
  await expect(page).toHaveURL(new RegExp(`/cameras/${id}$`))
  const first = await waitForVideo(page, id, VIDEO_A.id, Math.max(SHOW_WITHIN_MS - (Date.now() - acceptedAt), 1))
  expect(Date.now() - acceptedAt, 'video A on screen within 3 s of the upload').toBeLessThanOrEqual(SHOW_WITHIN_MS)
  await expectLive(page, id, 2000)

  // The frame index advances: two later frames, each ahead of the one before.
  const second = await waitForAdvance(page, id, first)
  await waitForAdvance(page, id, second)
})

test('scenario 2: a new upload replaces the old video within 3 s and the old one never comes back', async ({
  page,
  cameras,
  viewers,
}) => {
  test.setTimeout(90_000)
  const cam = await cameras.create({ prefix: 's2', video: mediaPath('a.avi') })
  // Someone watches the camera the whole time, in another browser.
  const viewer = await viewers.open(`/cameras/${cam.id}`)
  await installPaintRecorder(viewer)
  await waitForVideo(viewer, cam.id, VIDEO_A.id)
  await expectLive(viewer, cam.id)

  await page.goto(`/upload?camera=${cam.id}`)
  await expect(page.getByLabel('Target camera')).toHaveValue(cam.id)

  const steps = [
    { file: 'b.avi', video: VIDEO_B.id, old: [VIDEO_A.id] },
    { file: 'b-large.avi', video: VIDEO_B_LARGE.id, old: [VIDEO_A.id, VIDEO_B.id] },
  ]
  for (const step of steps) {
    await test.step(`upload ${step.file}`, async () => {
      const res = await uploadThroughPage(page, cam.id, mediaPath(step.file))
      const acceptedAt = await pageNow(viewer)
      expect(res.status(), await res.text()).toBe(201)
      await expect(page.getByRole('status').filter({ hasText: 'Upload complete' })).toContainText(`now plays ${step.file}`)

      // The viewer paints the new video within 3 s of the server's answer.
      const firstNew = await firstPaintOf(viewer, cam.id, step.video, acceptedAt, SHOW_WITHIN_MS + 2000)
      expect(firstNew.t - acceptedAt, `video ${step.video} painted within 3 s`).toBeLessThanOrEqual(SHOW_WITHIN_MS)

      // From then on, for 5 s, every painted frame is the new video.
      const after = await recordFor(viewer, cam.id, firstNew.t, NEVER_AGAIN_MS)
      const wrong = after.filter((f) => f.video !== step.video)
      expect(wrong, `frames not of video ${step.video}: ${describeFrames(wrong)}`).toEqual([])
      expect(after.filter((f) => step.old.includes(f.video))).toHaveLength(0)
      // It really was sampled: 5 s at 30 fps is 150 frames; a busy 2-core
      // machine paints fewer, but never so few that a stray frame could hide.
      expect(after.length, 'frames painted in 5 s').toBeGreaterThanOrEqual(15)
      const gaps = after.slice(1).map((f, i) => f.t - after[i]!.t)
      expect(Math.max(...gaps), 'longest time without a painted frame (ms)').toBeLessThan(3000)
      // And it moved on during those 5 s.
      const advanced = loopDistance(after[0]!.frame, after[after.length - 1]!.frame, videoFrames(step.video))
      expect(advanced, 'frames the video advanced in 5 s').toBeGreaterThan(60)
      await expect(tileStatus(viewer, cam.id)).toHaveAttribute('data-state', 'live')
    })
  }
})

test('scenario 9: rejected uploads show readable errors and the camera keeps playing', async ({
  page,
  ownServer,
  viewers,
}) => {
  test.setTimeout(90_000)
  // A server with a small upload limit: video A (about 8 MB) fits, B' (tens of MB) does not.
  const srv = await ownServer.launch(['--max-upload', '10MiB'])
  const id = uniqueId('s9')
  await srv.api.createCamera({ id, name: id })
  await srv.api.upload(id, mediaPath('a.avi'))
  const before = await srv.api.waitRunning(id)

  const viewer = await viewers.open(`${srv.url}/cameras/${id}`)
  await waitForVideo(viewer, id, VIDEO_A.id)

  await page.goto(`${srv.url}/upload?camera=${id}`)
  await expect(page.getByLabel('Target camera')).toHaveValue(id)

  const cases = [
    { file: 'b-large.avi', status: 413, code: 'too_large', text: 'The file is too large for the server.' },
    { file: BAD_FILE, status: 415, code: 'unsupported_media', text: 'This file is not a video the server can read.' },
  ]
  for (const c of cases) {
    await test.step(`upload ${c.file}`, async () => {
      await page.getByLabel('Video file').setInputFiles(mediaPath(c.file))
      await page.getByRole('button', { name: 'Upload', exact: true }).click()
      const alert = page.getByRole('alert')
      await expect(alert).toContainText(c.text, { timeout: 30_000 })
      await expect(alert).toContainText('The camera keeps playing its previous video.')
      await expect(alert).toHaveAttribute('data-code', c.code)
      // Readable means no server internals.
      await expect(alert).not.toContainText(/\/tmp|\/data|\.go:|goroutine|panic|opencv|cv::/i)

      // The server said the same, in its documented error shape.
      const body = c.code === 'too_large' ? Buffer.alloc(11 << 20) : Buffer.from('not a video\n')
      const direct = await page.request.post(`${srv.url}/api/cameras/${id}/video`, {
        multipart: { video: { name: c.file, mimeType: 'video/mp4', buffer: body } },
      })
      expect(direct.status()).toBe(c.status)
      expect((await direct.json()).error.code).toBe(c.code)

      // The camera still plays video A, moving on, in the same run.
      await waitForAdvance(viewer, id, await waitForVideo(viewer, id, VIDEO_A.id))
      const now = await srv.api.camera(id)
      expect(now.state).toBe('running')
      expect(now.epoch, 'no new run was started').toBe(before.epoch)
      expect(now.video?.name).toBe('a.avi')
    })
  }
})
