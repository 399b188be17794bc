// Scenario 12: a server started with --token. The web app asks for the
// token, says when it is wrong, and once signed in the HttpOnly cookie
// carries everything: the app, the WebSocket, a reload and MJPEG <img> tags.
// The running app must also cause no Content-Security-Policy violation.
import { randomBytes } from 'node:crypto'
import type { WebSocket } from '@playwright/test'
import { expect, test, uniqueId } from '../support/fixtures'
import { VIDEO_LONG, mediaPath } from '../support/media'
import { readElement, tile } from '../support/marker'
import { expectLive, waitForAdvance, waitForVideo } from '../support/wait'

/** Name of the HttpOnly cookie that holds the token (server/internal/httpapi/auth.go). */
const TOKEN_COOKIE = 'livemon_token'

interface CspWindow {
  __cspViolations?: string[]
}

test('scenario 12: with --token the app asks for it, refuses a wrong one, and the right one plays live over the WebSocket and MJPEG', async ({
  page,
  ownServer,
}) => {
  const token = randomBytes(16).toString('hex')
  const srv = await ownServer.launch([], { token })
  const id = uniqueId('s12')
  await srv.api.createCamera({ id, name: id })
  await srv.api.upload(id, mediaPath('long.avi'))
  await srv.api.waitRunning(id)

  await page.addInitScript(() => {
    const w = window as CspWindow
    w.__cspViolations = []
    document.addEventListener('securitypolicyviolation', (e) => {
      w.__cspViolations!.push(`${e.violatedDirective} ${e.blockedURI}`)
    })
  })
  // Binary messages (frames) received per WebSocket to /api/ws.
  const frames = new Map<WebSocket, number>()
  page.on('websocket', (ws) => {
    if (!ws.url().endsWith('/api/ws')) return
    frames.set(ws, 0)
    ws.on('framereceived', (f) => {
      if (typeof f.payload !== 'string') frames.set(ws, frames.get(ws)! + 1)
    })
  })
  const framesReceived = () => [...frames.values()].reduce((a, b) => a + b, 0)

  // GET /api/auth is public and says what the browser must do.
  const authStatus = async () => {
    const res = await page.request.get(`${srv.url}/api/auth`)
    expect(res.status(), 'GET /api/auth').toBe(200)
    return res.json()
  }
  expect(await authStatus()).toEqual({ required: true, authenticated: false })

  const doc = await page.goto(`${srv.url}/`)
  expect(doc?.headers()['content-security-policy'], 'the app cannot be framed').toContain("frame-ancestors 'none'")
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible()
  const field = page.getByLabel('Access token')
  const submit = page.getByRole('button', { name: 'Sign in' })
  await expect(tile(page, id)).toHaveCount(0)

  await field.fill(`${token}-wrong`)
  await submit.click()
  await expect(page.getByRole('alert')).toHaveText(/wrong token/i)
  await expect(field).toHaveAttribute('aria-invalid', 'true')
  await expect(tile(page, id)).toHaveCount(0)

  await field.fill(token)
  await submit.click()
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toHaveCount(0)
  await expectLive(page, id)
  await waitForAdvance(page, id, await waitForVideo(page, id, VIDEO_LONG.id))
  await expect.poll(framesReceived, { message: 'frames arrive over the WebSocket' }).toBeGreaterThan(0)

  expect(await authStatus()).toEqual({ required: true, authenticated: true })
  // The token lives in an HttpOnly cookie, out of reach of page scripts.
  const cookie = (await page.context().cookies(srv.url)).find((c) => c.name === TOKEN_COOKIE)
  expect(cookie?.httpOnly, 'HttpOnly token cookie').toBe(true)
  expect(await page.evaluate(() => document.cookie)).not.toContain(token)

  await page.reload()
  await expectLive(page, id)
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toHaveCount(0)
  const afterReload = framesReceived()
  await waitForAdvance(page, id, await waitForVideo(page, id, VIDEO_LONG.id))
  await expect.poll(framesReceived, { message: 'frames over the new WebSocket' }).toBeGreaterThan(afterReload)

  // A plain <img> without ?token= streams MJPEG with the cookie alone.
  await page.evaluate((cam) => {
    const img = document.createElement('img')
    img.id = 'mjpeg-probe'
    img.alt = 'mjpeg'
    img.src = `/api/cameras/${cam}/mjpeg`
    document.body.append(img)
  }, id)
  const img = page.getByRole('img', { name: 'mjpeg' })
  await expect
    .poll(async () => (await readElement(img).catch(() => null))?.video, { timeout: 10_000, message: 'MJPEG <img> shows the video' })
    .toBe(VIDEO_LONG.id)
  const first = (await readElement(img))!
  await expect
    .poll(async () => (await readElement(img).catch(() => null))?.frame ?? -1, { timeout: 5000, message: 'MJPEG advances' })
    .not.toBe(first.frame)

  // Every page of the signed-in app works under the CSP.
  for (const [link, heading] of [['Cameras', 'Cameras'], ['Upload', 'Upload a video'], ['Status', 'Status']]) {
    await page.getByRole('navigation').getByRole('link', { name: link }).click()
    await expect(page.getByRole('heading', { level: 1, name: heading })).toBeVisible()
  }
  await expect(page.getByRole('rowheader', { name: id })).toBeVisible()
  expect(await page.evaluate(() => (window as CspWindow).__cspViolations), 'no CSP violations').toEqual([])
})
