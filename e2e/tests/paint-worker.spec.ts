// The app's default paint path (issue 15): each tile's canvas is handed to
// the paint worker (transferControlToOffscreen), which decodes and draws
// the frames, so the picture reaches the screen without the page's main
// thread. Most specs run with the page drawing (e2e/support/fixtures.ts,
// PaintPath); this one proves the worker path shows the right, moving,
// newest picture. Read-back pixels of a worker's canvas may trail its
// data-seq by a frame, so it checks pictures by polling, not paint by paint.
import { expect, test } from '../support/fixtures'
import { VIDEO_A, VIDEO_B, mediaPath } from '../support/media'
import { tileFrame } from '../support/marker'
import { expectLive, waitForAdvance, waitForVideo } from '../support/wait'

test.use({ paint: 'worker' })

test('the paint worker owns the tile canvas and paints the running video, and then the newest upload', async ({ page, api, cameras }) => {
  const cam = await cameras.create({ prefix: 'pw', video: mediaPath('a.avi') })
  await page.goto('/')
  await expectLive(page, cam.id)

  // The canvas belongs to the worker: the page cannot get a context on it.
  const owner = await tileFrame(page, cam.id).evaluate((c) => {
    try {
      return (c as HTMLCanvasElement).getContext('2d') ? 'page (2d)' : 'page'
    } catch (err) {
      return err instanceof DOMException && err.name === 'InvalidStateError' ? 'worker' : String(err)
    }
  })
  expect(owner).toBe('worker')

  const a = await waitForVideo(page, cam.id, VIDEO_A.id)
  await waitForAdvance(page, cam.id, a)
  await expect
    .poll(async () => Number(await tileFrame(page, cam.id).getAttribute('data-seq')), { message: 'data-seq follows the worker paints' })
    .toBeGreaterThan(a.seq!)
  // The paint's age, from the moment the worker reported: a fresh frame's, not unset or a clock.
  const age = await tileFrame(page, cam.id).getAttribute('data-frame-age-ms')
  expect(age, 'data-frame-age-ms is set from the worker paint').toMatch(/^\d+$/)
  expect(Number(age)).toBeLessThan(5000)

  // The newest upload is what plays, through the worker too.
  await api.upload(cam.id, mediaPath('b.avi'))
  const b = await waitForVideo(page, cam.id, VIDEO_B.id, 15_000)
  await waitForAdvance(page, cam.id, b)
  await expectLive(page, cam.id)
})
