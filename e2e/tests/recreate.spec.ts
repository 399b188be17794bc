// A camera deleted and created again with the same id while the Live page
// shows it: its tile goes, comes back, and plays the new camera's video at
// an epoch above every epoch the old camera had (docs/protocol.md, "Delete
// and re-create").
import { expect, test } from '../support/fixtures'
import { VIDEO_A, VIDEO_B, mediaPath } from '../support/media'
import { tile } from '../support/marker'
import { expectLive, waitForVideo } from '../support/wait'

test('a camera deleted and created again plays its new video on the Live page, at a higher epoch', async ({
  page,
  api,
  cameras,
}) => {
  const cam = await cameras.create({ prefix: 'recreate', video: mediaPath('a.avi') })
  await api.control(cam.id, 'restart') // a second run: the old camera reaches epoch 2
  const oldEpoch = (await api.camera(cam.id)).epoch
  expect(oldEpoch).toBeGreaterThan(1)

  await page.goto('/')
  await expect.poll(async () => (await waitForVideo(page, cam.id, VIDEO_A.id)).epoch).toBe(oldEpoch)
  await expectLive(page, cam.id)

  await api.deleteCamera(cam.id)
  await expect(tile(page, cam.id)).toHaveCount(0)

  const again = await api.createCamera({ id: cam.id, name: cam.id })
  expect(again.epoch, 'a re-created camera starts at the old one’s epoch').toBeGreaterThanOrEqual(oldEpoch)
  await api.upload(cam.id, mediaPath('b.avi'))

  const shown = await waitForVideo(page, cam.id, VIDEO_B.id, 15_000)
  expect(shown.epoch, 'the painted frame’s epoch').toBeGreaterThan(oldEpoch)
  await expectLive(page, cam.id)
})
