// Takes the README's screenshots in headless Chromium against a fresh
// server: node scripts/screenshots.mjs (after make build). Loopback only.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chromium } from '@playwright/test'
import { chromiumOptions, root, startServer } from './lib/server.mjs'

const out = join(root, 'docs/screenshots')
const server = await startServer()
const { base, dir } = server
try {
  await server.addCamera('lobby', 'Lobby', 2)
  await server.addCamera('parking', 'Parking lot', 3)
  await server.addCamera('warehouse', 'Warehouse', 4)
  const big = server.video('big.avi', ['--video-id', '9', '--frames', '120', '--width', '1280', '--height', '720', '--noise'])
  const bad = join(dir, 'notes.mp4')
  writeFileSync(bad, 'these are my notes, not a video\n')

  const browser = await chromium.launch(chromiumOptions)
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, locale: 'en-US' })
  await page.goto(base + '/')
  await page.locator('[data-state="live"]').nth(3).waitFor({ timeout: 15000 })
  await page.waitForFunction(() => [...document.querySelectorAll('canvas[data-painted="true"]')].length >= 4)
  // Until the live figures have a second of data to show.
  await page.waitForFunction(() => [...document.querySelectorAll('[data-stat="fps"]')].every((e) => Number(e.textContent) > 0))
  await page.screenshot({ path: join(out, 'live-grid.png') })

  await page.goto(base + '/cameras/lobby')
  await page.locator('[data-state="live"]').first().waitFor({ timeout: 15000 })
  await page.waitForFunction(() => document.querySelector('canvas[data-painted="true"]'))
  await page.waitForFunction(() => Number(document.querySelector('[data-stat="fps"]')?.textContent) > 0)
  await page.screenshot({ path: join(out, 'focused.png') })

  await page.goto(base + '/upload?camera=lobby')
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Network.enable')
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 1024 * 1024 })
  await page.getByLabel('Video file').setInputFiles(big)
  await page.getByRole('button', { name: 'Upload', exact: true }).click()
  await page.waitForFunction(() => Number(document.querySelector('[role="progressbar"]')?.getAttribute('aria-valuenow')) >= 30)
  await page.screenshot({ path: join(out, 'upload-progress.png') })
  await page.getByRole('button', { name: 'Cancel' }).click()
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 })

  await page.goto(base + '/upload?camera=lobby')
  await page.getByLabel('Video file').setInputFiles(bad)
  await page.getByRole('button', { name: 'Upload', exact: true }).click()
  await page.getByRole('alert').waitFor()
  await page.screenshot({ path: join(out, 'upload-error.png') })

  await page.goto(base + '/status')
  await page.getByText('Reachable').waitFor()
  await page.waitForFunction(() => document.body.innerText.includes('parking.avi'))
  // Until a poll has counted this page's own WebSocket.
  await page.waitForFunction(() => /WebSocket connections\s*[1-9]/.test(document.body.innerText), null, { timeout: 10000 })
  await page.screenshot({ path: join(out, 'status.png') })

  await page.goto(base + '/cameras')
  await page.getByRole('heading', { name: 'Cameras' }).first().waitFor()
  await page.screenshot({ path: join(out, 'cameras.png') })
  await browser.close()
  console.log(`screenshots written to ${out}`)
} finally {
  server.stop()
}
