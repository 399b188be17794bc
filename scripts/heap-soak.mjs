// Watches the live grid with four cameras in headless Chromium for a while
// and reports the page's JS heap (after a forced GC) at the start and the
// end, plus DOM node and canvas counts: node scripts/heap-soak.mjs [minutes]
import { chromium } from '@playwright/test'
import { chromiumOptions, startServer } from './lib/server.mjs'

const minutes = Number(process.argv[2] ?? 10)
const server = await startServer()
try {
  await server.addCamera('lobby', 'Lobby', 2)
  await server.addCamera('parking', 'Parking lot', 3)
  await server.addCamera('warehouse', 'Warehouse', 4)
  const browser = await chromium.launch(chromiumOptions)
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } })
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('HeapProfiler.enable')
  const measure = async () => {
    await cdp.send('HeapProfiler.collectGarbage')
    const { usedSize } = await cdp.send('Runtime.getHeapUsage')
    const { nodes } = await cdp.send('Memory.getDOMCounters')
    const seqs = await page.evaluate(() => [...document.querySelectorAll('canvas')].map((c) => Number(c.dataset.seq)))
    return { heapMB: +(usedSize / 1048576).toFixed(2), domNodes: nodes, seqs }
  }
  await page.goto(server.base + '/')
  await page.waitForFunction(() => document.querySelectorAll('canvas[data-painted="true"]').length >= 4, null, { timeout: 20000 })
  await new Promise((r) => setTimeout(r, 20000)) // warm up
  const start = await measure()
  console.log('start', JSON.stringify(start))
  const end = Date.now() + minutes * 60000
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 60000))
    console.log('t+', Math.round((Date.now() - (end - minutes * 60000)) / 60000), 'min', JSON.stringify(await measure()))
  }
  const last = await measure()
  console.log('end', JSON.stringify(last))
  console.log(`heap ${start.heapMB} MB -> ${last.heapMB} MB over ${minutes} min; DOM nodes ${start.domNodes} -> ${last.domNodes}`)
  await browser.close()
} finally {
  server.stop()
}
