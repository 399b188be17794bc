// The throttled wall, side by side: a 16-tile grid in Chromium with its CPU
// throttled 6x through CDP, the painted frame's age with ack pacing on and
// off (docs/architecture.md, "Flow control"), alternating in one run so both
// see the same machine. node scripts/wall-lag.mjs [rounds] [seconds]
// (after make build; defaults 3 rounds of 20 s per mode). Loopback only.
// Prints one line per measurement and a summary; docs/performance.md
// ("Flow control") records the figures.
import { chromium } from '@playwright/test'
import { chromiumOptions, startServer } from './lib/server.mjs'

const rounds = Math.min(20, Math.max(1, Number(process.argv[2] ?? 3)))
const seconds = Math.min(120, Math.max(5, Number(process.argv[3] ?? 20)))
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

async function measure(browser, base, pace) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  try {
    await context.addInitScript((p) => localStorage.setItem('livemon.pace', p), pace)
    const page = await context.newPage()
    await page.goto(base + '/')
    const painted = () => page.locator('canvas[data-frame-age-ms]').count()
    for (let i = 0; i < 300 && (await painted()) < TILES; i++) await page.waitForTimeout(100)
    const lagBefore = quantile(await timerLag(page, 20), 0.5)
    const cdp = await context.newCDPSession(page)
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: THROTTLE })
    await page.waitForTimeout(5000) // settle under throttling
    const ages = []
    const lagsPromise = timerLag(page, seconds * 10)
    for (let i = 0; i < seconds; i++) {
      await page.waitForTimeout(1000)
      ages.push(...(await page.evaluate(() => [...document.querySelectorAll('canvas[data-frame-age-ms]')].map((el) => Number(el.dataset.frameAgeMs)))))
    }
    const lags = await lagsPromise
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 })
    return {
      pace,
      tiles: await painted(),
      lagBefore: Math.round(lagBefore),
      ageP50: quantile(ages, 0.5),
      ageP99: quantile(ages, 0.99),
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
    for (const pace of r % 2 === 0 ? ['off', 'on'] : ['on', 'off']) {
      const m = await measure(browser, server.base, pace)
      results.push(m)
      console.log(JSON.stringify({ round: r + 1, ...m }))
    }
  }
  for (const pace of ['off', 'on']) {
    const rs = results.filter((m) => m.pace === pace)
    const range = (k) => `${Math.min(...rs.map((m) => m[k]))}-${Math.max(...rs.map((m) => m[k]))}`
    console.log(`pacing ${pace}: painted age p50 ${range('ageP50')} ms, p99 ${range('ageP99')} ms; throttled timer lag p50 ${range('lagP50')} ms (${rs.length} runs)`)
  }
} finally {
  await browser.close()
  server.stop()
}
