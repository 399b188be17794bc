// Scenarios 5 and 6: the server restarts or the network drops while the
// page is open; the tile says so and comes back by itself, in the same
// session, with the video where it should be.
import type { WebSocketRoute } from '@playwright/test'
import { expect, test, uniqueId } from '../support/fixtures'
import { VIDEO_LONG, mediaPath } from '../support/media'
import { installPaintRecorder, pageNow, paintedFrames, tileStatus } from '../support/marker'
import { expectContinues, expectLive, firstPaintAfter, sessionId, waitForAdvance, waitForFrame, waitForVideo } from '../support/wait'

const FPS = VIDEO_LONG.fps

test('scenario 5: across a server restart the tile shows Reconnecting, then Live within 5 s, same session, video continuing', async ({
  page,
  ownServer,
}) => {
  test.setTimeout(90_000)
  const srv = await ownServer.launch()
  const id = uniqueId('s5')
  await srv.api.createCamera({ id, name: id })
  await srv.api.upload(id, mediaPath('long.avi'))
  await srv.api.waitRunning(id)

  await installPaintRecorder(page)
  await page.goto(`${srv.url}/cameras/${id}`)
  await expectLive(page, id)
  // Play at least 3 s first, so that a jump back to the start cannot pass for progress.
  await waitForFrame(page, id, VIDEO_LONG.id, 3 * FPS)
  const session = await sessionId(page)
  expect(session).toMatch(/^[0-9a-f]{32}$/)
  await waitForAdvance(page, id, await waitForVideo(page, id, VIDEO_LONG.id))

  const stopAt = await pageNow(page)
  await srv.stop()
  const beforeStop = (await paintedFrames(page, id)).filter((f) => f.t <= stopAt)
  const last = beforeStop[beforeStop.length - 1]!
  await expect(tileStatus(page, id)).toHaveAttribute('data-state', 'reconnecting', { timeout: 5000 })
  await expect(tileStatus(page, id)).toContainText('Reconnecting')

  await srv.start()
  const backAt = await pageNow(page)
  const backWall = Date.now()
  await expect(tileStatus(page, id)).toHaveAttribute('data-state', 'live', { timeout: 5000 })
  const first = await firstPaintAfter(page, id, backAt, 5000)
  expect(Date.now() - backWall, 'Live within 5 s of the server being back').toBeLessThanOrEqual(5500)
  expect(first.t - backAt, 'a new frame within 5 s of the server being back').toBeLessThanOrEqual(5000)

  expect(await sessionId(page), 'same session').toBe(session)
  expectContinues(first, last, VIDEO_LONG.id, FPS)
  expect(first.seq!, 'seq keeps growing across the restart').toBeGreaterThan(last.seq!)
  await waitForAdvance(page, id, await waitForVideo(page, id, VIDEO_LONG.id))
})

test('scenario 6: after the network is cut for 5 s the tile reconnects by itself', async ({ page, cameras }) => {
  const cam = await cameras.create({ prefix: 's6', video: mediaPath('long.avi') })

  // Every page WebSocket goes through this route; "cutting the network"
  // drops the open ones and refuses new ones until it is restored.
  let cut = false
  const open = new Set<{ page: WebSocketRoute; server: WebSocketRoute }>()
  let sockets = 0
  let refused = 0
  await page.routeWebSocket(/\/api\/ws$/, (ws) => {
    sockets++
    if (cut) {
      refused++
      void ws.close({ code: 1011, reason: 'network cut (test)' })
      return
    }
    const conn = { page: ws, server: ws.connectToServer() }
    open.add(conn)
    ws.onClose(() => open.delete(conn))
  })

  await installPaintRecorder(page)
  await page.goto(`/cameras/${cam.id}`)
  await expectLive(page, cam.id)
  await waitForAdvance(page, cam.id, await waitForVideo(page, cam.id, VIDEO_LONG.id))
  const session = await sessionId(page)
  expect(session).toMatch(/^[0-9a-f]{32}$/)

  const cutAt = await pageNow(page)
  const cutWall = Date.now()
  cut = true
  for (const c of [...open]) {
    await c.server.close()
    await c.page.close({ code: 4000, reason: 'network cut (test)' })
  }
  await expect(tileStatus(page, cam.id)).toHaveAttribute('data-state', 'reconnecting', { timeout: 3000 })
  // Keep it cut for 5 s, checking that the tile says so the whole time.
  const states = new Set<string | null>()
  await expect
    .poll(
      async () => {
        states.add(await tileStatus(page, cam.id).getAttribute('data-state'))
        return Date.now() - cutWall
      },
      { timeout: 8000, intervals: [200] },
    )
    .toBeGreaterThanOrEqual(5000)
  expect([...states], 'tile state while the network is cut').toEqual(['reconnecting'])
  const lastBefore = (await paintedFrames(page, cam.id)).filter((f) => f.t <= cutAt).pop()!
  expect(refused, 'the client kept trying while the network was down').toBeGreaterThanOrEqual(1)

  const restoredAt = await pageNow(page)
  cut = false
  // No user action from here on: the client's own backoff brings it back.
  const first = await firstPaintAfter(page, cam.id, restoredAt, 12_000)
  await expectLive(page, cam.id, 2000)
  expect(await sessionId(page), 'same session').toBe(session)
  expect(first.video).toBe(VIDEO_LONG.id)
  expect(first.epoch).toBe(lastBefore.epoch)
  expect(first.seq!).toBeGreaterThan(lastBefore.seq!)
  // The camera kept playing while this viewer was cut off.
  const away = (first.t - lastBefore.t) / 1000
  expect(
    Math.abs(first.frame - (lastBefore.frame + away * FPS)),
    `frame ${first.frame} vs ${lastBefore.frame} after ${away.toFixed(1)} s`,
  ).toBeLessThanOrEqual(FPS)
  await waitForAdvance(page, cam.id, await waitForVideo(page, cam.id, VIDEO_LONG.id))
  expect(sockets, 'a new socket was opened after the cut').toBeGreaterThanOrEqual(2 + refused)
})
