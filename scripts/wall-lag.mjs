// The throttled wall, side by side: a 16-tile grid in Chromium with its CPU
// throttled 6x through CDP, the painted frame's age under different client
// settings, alternating in one run so all see the same machine.
//   node scripts/wall-lag.mjs [rounds] [seconds] [modes]
// (run from e2e/ after make build; defaults 3 rounds of 20 s per mode, modes
// "main,worker"). Modes: worker (the default app: the paint worker owns the
// canvases, acks paced), main (frames drawn on the page's main thread,
// `livemon.paint` = main), pace-off (drawn on the main thread, acks not
// paced: the client before ack pacing). Loopback only. Prints one line per
// measurement and a summary; docs/performance.md ("Flow control") records
// the figures.
import { chromium } from '@playwright/test'
import { chromiumOptions, startServer } from './lib/server.mjs'

const rounds = Math.min(20, Math.max(1, Number(process.argv[2] ?? 3)))
const seconds = Math.min(120, Math.max(5, Number(process.argv[3] ?? 20)))
/** localStorage entries per mode. */
const MODES = {
  worker: {},
  main: { 'livemon.paint': 'main' },
  'pace-off': { 'livemon.paint': 'main', 'livemon.pace': 'off' },
  'worker-pace-off': { 'livemon.pace': 'off' },
}
const modes = (process.argv[4] ?? 'main,worker').split(',')
for (const m of modes) if (!(m in MODES)) throw new Error(`unknown mode ${m}; modes: ${Object.keys(MODES).join(', ')}`)
const TILES = 16
const THROTTLE = 6

function quantile(xs, q) {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.round((s.length - 1) * q)]
}

/** How late a 100 ms timer fires in the page (ms), over `n` ticks. */
function timerLag(page, n) {
  return page.evaluate(
    (count) =>
      new Promise((resolve) => {
        const lags = []
        let last = performance.now()
        const id = setInterval(() => {
          const now = performance.now()
          lags.push(now - last - 100)
          last = now
          if (lags.length >= count) {
            clearInterval(id)
            resolve(lags)
          }
        }, 100)
      }),
    n,
  )
}

async function measure(browser, base, mode) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  try {
    await context.addInitScript((entries) => {
      for (const [k, v] of Object.entries(entries)) localStorage.setItem(k, v)
    }, MODES[mode])
    const page = await context.newPage()
    await page.goto(base + '/')
    const painted = () => page.locator('canvas[data-frame-age-ms]').count()
    for (let i = 0; i < 300 && (await painted()) < TILES; i++) await page.waitForTimeout(100)
    const lagBefore = quantile(await timerLag(page, 20), 0.5)
    const cdp = await context.newCDPSession(page)
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: THROTTLE })
    await page.waitForTimeout(5000) // settle under throttling
    const ages = []
    const shown = [] // how old the picture on a tile is when sampled
    await page.evaluate(() => {
      window.__paints = 0
      new MutationObserver((rs) => (window.__paints += rs.length)).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-seq'] })
    })
    const lagsPromise = timerLag(page, seconds * 10)
    for (let i = 0; i < seconds; i++) {
      await page.waitForTimeout(1000)
      const now = await page.evaluate(() => [...document.querySelectorAll('canvas[data-frame-age-ms]')].map((el) => ({ age: Number(el.dataset.frameAgeMs), at: Number(el.dataset.paintedAt) })))
      const t = Date.now()
      ages.push(...now.map((x) => x.age))
      shown.push(...now.map((x) => x.age + t - x.at))
    }
    const lags = await lagsPromise
    const paints = await page.evaluate(() => window.__paints)
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 })
    return {
      mode,
      tiles: await painted(),
      lagBefore: Math.round(lagBefore),
      ageP50: quantile(ages, 0.5),
      ageP99: quantile(ages, 0.99),
      shownP50: Math.round(quantile(shown, 0.5)),
      shownP99: Math.round(quantile(shown, 0.99)),
      // frames painted per tile per second over the window
      tileFps: Math.round((10 * paints) / TILES / seconds) / 10,
      lagP50: Math.round(quantile(lags, 0.5)),
      lagP99: Math.round(quantile(lags, 0.99)),
    }
  } finally {
    await context.close()
  }
}

const server = await startServer(['--demo=false'])
const browser = await chromium.launch(chromiumOptions)
try {
  for (let i = 0; i < TILES; i++) {
    await server.addCamera(`wall-${i}`, `Wall ${i + 1}`, 11 + (i % 8))
  }
  const results = []
  for (let r = 0; r < rounds; r++) {
    for (const mode of r % 2 === 0 ? modes : [...modes].reverse()) {
      const m = await measure(browser, server.base, mode)
      results.push(m)
      console.log(JSON.stringify({ round: r + 1, ...m }))
    }
  }
  for (const mode of modes) {
    const rs = results.filter((m) => m.mode === mode)
    const range = (k) => `${Math.min(...rs.map((m) => m[k]))}-${Math.max(...rs.map((m) => m[k]))}`
    console.log(
      `${mode}: painted age p50 ${range('ageP50')} ms, p99 ${range('ageP99')} ms; shown age p50 ${range('shownP50')} ms, p99 ${range('shownP99')} ms; ` +
        `${range('tileFps')} paints per tile per second; throttled timer lag p50 ${range('lagP50')} ms, p99 ${range('lagP99')} ms (${rs.length} runs)`,
    )
  }
} finally {
  await browser.close()
  server.stop()
}
