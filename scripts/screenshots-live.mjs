// Screenshots of live cameras, in English and Korean: the Cameras page with
// an RTSP, an MJPEG and a snapshot camera, the live grid with one camera offline,
// and the Status page. node scripts/screenshots-live.mjs [out dir]
// (after make build; default out dir $TMPDIR/livemon-live-shots). Loopback only.
import { spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from '@playwright/test'
import { bin, chromiumOptions, startServer } from './lib/server.mjs'

const out = process.argv[2] ?? join(tmpdir(), 'livemon-live-shots')
mkdirSync(out, { recursive: true })

/** Starts `livemon fake-camera` on a free loopback port; resolves with its URL. */
function fakeCamera(args) {
  const proc = spawn(bin, ['fake-camera', '--addr', '127.0.0.1:0', '--rtsp-addr', '127.0.0.1:0', '--rtsp-size', '640x360', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('fake-camera did not start within 10 s')), 10_000)
    let text = ''
    proc.stdout.setEncoding('utf8').on('data', (chunk) => {
      text += chunk
      const m = /fake-camera listening on (http:\/\/\S+)/.exec(text)
      const r = /(rtsp:\/\/\S+)\/h264/.exec(text)
      if (m && r) {
        clearTimeout(timer)
        resolve({ url: m[1], rtsp: r[1], proc, mode: (mode) => fetch(`${m[1]}/control?mode=${mode}`, { method: 'POST' }) })
      }
    })
    proc.on('exit', () => reject(new Error('fake-camera exited')))
  })
}

async function api(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
  return res.json()
}

const server = await startServer(['--demo=false'])
const cams = []
try {
  const { base } = server
  const gate = await fakeCamera(['--video-id', '21', '--width', '640', '--height', '360', '--user', 'admin', '--password', 'hunter2'])
  const yard = await fakeCamera(['--video-id', '22', '--width', '640', '--height', '360'])
  cams.push(gate, yard)
  await server.addCamera('lobby', 'Lobby', 2)
  const gateUrl = new URL('/mjpeg', gate.url)
  gateUrl.username = 'admin'
  gateUrl.password = 'hunter2'
  await api(base, 'POST', '/api/cameras', { id: 'gate', name: 'Front gate', source: { url: gateUrl.toString() } })
  await api(base, 'POST', '/api/cameras', { id: 'yard', name: 'Yard', source: { url: `${yard.url}/snapshot.jpg` } })
  const doorUrl = new URL('/h264', gate.rtsp)
  doorUrl.username = 'admin'
  doorUrl.password = 'hunter2'
  await api(base, 'POST', '/api/cameras', { id: 'door', name: 'Back door', source: { url: doorUrl.toString(), transport: 'udp' } })

  const browser = await chromium.launch(chromiumOptions)
  for (const lang of ['en', 'ko']) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: lang === 'ko' ? 'ko-KR' : 'en-US' })
    await ctx.addInitScript((l) => localStorage.setItem('livemon.lang', l), lang)
    const page = await ctx.newPage()
    await yard.mode('up')
    await page.goto(base + '/')
    await page.locator('[data-state="live"]').nth(3).waitFor({ timeout: 20000 })
    await yard.mode('down')
    await page.locator('[data-camera="yard"] [data-state="offline"]').waitFor({ timeout: 15000 })
    await page.waitForFunction(() => /\d/.test(document.querySelector('[data-camera="yard"] [data-frame-age]')?.textContent ?? ''))
    await page.screenshot({ path: join(out, `live-offline-${lang}.png`) })

    await page.goto(base + '/cameras')
    await page.locator('[data-camera-row="yard"] [data-run-state="offline"]').waitFor({ timeout: 15000 })
    await page.locator('[data-camera-row="gate"] [data-source-kind="mjpeg"]').waitFor({ timeout: 15000 })
    await page.locator('[data-camera-row="door"] [data-source-kind="rtsp"]').waitFor({ timeout: 15000 })
    await page.getByRole('radio').nth(1).check()
    await page.locator('input[type="url"]').first().fill('rtsp://192.168.1.20:554/stream1')
    await page.screenshot({ path: join(out, `cameras-live-${lang}.png`), fullPage: true })

    await page.goto(base + '/status')
    await page.locator('[data-camera-stats="yard"] [data-camera-error]').waitFor({ timeout: 15000 })
    await page.screenshot({ path: join(out, `status-live-${lang}.png`), fullPage: true })
    await ctx.close()
  }
  await browser.close()
  console.log(`screenshots written to ${out}`)
} finally {
  for (const c of cams) c.proc.kill('SIGTERM')
  server.stop()
}
