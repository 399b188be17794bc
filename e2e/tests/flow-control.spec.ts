// Issue 15, flow control: a 16-tile wall in a tab whose CPU is throttled 6x
// stays live. The tab acknowledges each frame once painted and the server
// sends a camera's next frame only then (docs/protocol.md "Flow control"),
// the tab paces its acks when it cannot paint all tiles, and the paint
// worker draws the frames, so what a tile paints is never more than about a
// paint and a round trip old, instead of falling seconds behind through TCP
// and the message queue.
import { setTimeout as sleep } from 'node:timers/promises'
import { expect, test } from '../support/fixtures'
import type { CameraView } from '../support/api'
import { VIDEO_TILES, mediaPath, tileVideoFile } from '../support/media'
import { tile, tileStatus } from '../support/marker'

const TILES = 16
const THROTTLE = 6
const SAMPLE_EVERY_MS = 1000
const SAMPLES = 60
/** The painted frame's age the wall must stay under (issue 15). */
const MAX_AGE_MS = 500
/** Timer lag (median, unthrottled) above which the machine is too busy to measure. */
const BUSY_LAG_MS = 50

interface Sample {
  camera: string
  /**
   * How old the last painted frame was when it was painted (server clock):
   * when the animation frame that puts it on screen started (the canvas's
   * data-frame-age-ms; docs/architecture.md, "Web client paint path").
   */
  ageAtPaint: number | null
  /** How old the picture on the tile is now: ageAtPaint plus the time since that paint. */
  shownAge: number | null
  seq: number | null
}

// The screencast behind failure videos costs the 2-core machine CPU that the
// throttled page needs; traces and screenshots still come with a failure.
// The app's own paint path: the paint worker owns the canvases (CDP throttles
// the page's main thread, which the frames then no longer pass through
// between their arrival and the screen; docs/architecture.md).
test.use({ video: 'off', paint: 'worker' })

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo)
}

test('a 16-tile wall in a 6x CPU-throttled tab paints frames under 500 ms old for a minute', async ({
  page,
  cameras,
}) => {
  test.setTimeout(240_000)
  const cams: CameraView[] = []
  for (let i = 0; i < TILES; i++) {
    const v = VIDEO_TILES[i % VIDEO_TILES.length]!
    cams.push(await cameras.create({ prefix: `flow-${i}`, video: mediaPath(tileVideoFile(v)) }))
  }
  const ids = cams.map((c) => c.id)

  await page.goto('/')
  for (const id of ids) await expect(tile(page, id)).toBeVisible()
  for (const id of ids) await expect(tileStatus(page, id)).toHaveAttribute('data-state', 'live', { timeout: 20_000 })

  // The measurement means something only if the page itself keeps time
  // before throttling: on a machine so loaded that a 100 ms timer usually
  // (median) fires late by more than BUSY_LAG_MS, no protocol can keep a 6x-throttled tab
  // fresh, and the test says so instead of failing on the machine.
  const before = await page.evaluate(
    (ms) =>
      new Promise<number[]>((resolve) => {
        const lags: number[] = []
        let last = performance.now()
        const id = setInterval(() => {
          const now = performance.now()
          lags.push(now - last - 100)
          last = now
          if (lags.length * 100 >= ms) {
            clearInterval(id)
            resolve(lags)
          }
        }, 100)
      }),
    3000,
  )
  const lagBefore = quantile(before, 0.5)
  console.log(`timer lag before throttling: p50 ${Math.round(lagBefore)} ms, p99 ${Math.round(quantile(before, 0.99))} ms`)
  test.info().annotations.push({ type: 'timer lag before throttling (p50 ms)', description: String(Math.round(lagBefore)) })
  test.skip(lagBefore > BUSY_LAG_MS, `machine too loaded: the unthrottled page's 100 ms timer fires ${Math.round(lagBefore)} ms late (median)`)

  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: THROTTLE })
  try {
    // Every tile paints under throttling before sampling starts.
    const painted = () =>
      page.evaluate(
        (list) => list.filter((id) => document.querySelector(`[data-testid="frame-${CSS.escape(id)}"]`)?.getAttribute('data-frame-age-ms')).length,
        ids,
      )
    await expect.poll(painted, { timeout: 20_000, message: 'tiles that painted a frame' }).toBe(TILES)

    // Sample in the page, once a second for a minute: each tile's last
    // painted frame, and how late a 100 ms timer fires (the main thread's
    // own delay, which no protocol can take away: on a loaded machine it
    // widens the budget, on a quiet one it is a few ms).
    await page.evaluate(
      ({ list, every }) => {
        const w = window as unknown as { __flow: { samples: Sample[][]; lags: number[]; stop: () => void } }
        const samples: Sample[][] = []
        const lags: number[] = []
        let last = performance.now()
        const probe = setInterval(() => {
          const now = performance.now()
          lags.push(now - last - 100)
          last = now
        }, 100)
        const sampler = setInterval(() => {
          const now = Date.now()
          samples.push(
            list.map((camera) => {
              const el = document.querySelector(`[data-testid="frame-${CSS.escape(camera)}"]`) as HTMLElement | null
              const age = el?.dataset.frameAgeMs
              const at = el?.dataset.paintedAt
              const seq = el?.dataset.seq
              return {
                camera,
                ageAtPaint: age === undefined ? null : Number(age),
                shownAge: age === undefined || at === undefined ? null : Number(age) + now - Number(at),
                seq: seq === undefined ? null : Number(seq),
              }
            }),
          )
        }, every)
        w.__flow = { samples, lags, stop: () => (clearInterval(probe), clearInterval(sampler)) }
      },
      { list: ids, every: SAMPLE_EVERY_MS },
    )
    await sleep(SAMPLES * SAMPLE_EVERY_MS + 500) // the measurement window
    const { samples, lags } = await page.evaluate(() => {
      const w = window as unknown as { __flow: { samples: Sample[][]; lags: number[]; stop: () => void } }
      w.__flow.stop()
      return { samples: w.__flow.samples, lags: w.__flow.lags }
    })

    const atPaint = samples.flat().map((s) => s.ageAtPaint ?? Infinity)
    const shown = samples.flat().map((s) => s.shownAge ?? Infinity)
    const lagP99 = quantile(lags, 0.99)
    const figures = {
      samples: samples.length,
      paintedAgeP50: Math.round(quantile(atPaint, 0.5)),
      paintedAgeP99: Math.round(quantile(atPaint, 0.99)),
      shownAgeP50: Math.round(quantile(shown, 0.5)),
      shownAgeP99: Math.round(quantile(shown, 0.99)),
      timerLagP50: Math.round(quantile(lags, 0.5)),
      timerLagP99: Math.round(lagP99),
    }
    console.log(`flow control, ${TILES} tiles at ${THROTTLE}x CPU throttling: ${JSON.stringify(figures)}`)
    test.info().annotations.push({ type: 'frame age', description: JSON.stringify(figures) })

    expect(samples.length, 'samples taken in the minute').toBeGreaterThanOrEqual(SAMPLES / 2)
    // Every tile kept painting: its seq moved at least 3 times in the minute.
    const stuck = ids.filter((_, k) => new Set(samples.map((row) => row[k]!.seq)).size < 4)
    expect(stuck, 'tiles that painted fewer than 3 new frames in the minute').toEqual([])
    expect(figures.paintedAgeP99, `p99 of the painted frame age (ms), budget ${MAX_AGE_MS} + the page's timer lag p99`).toBeLessThan(
      MAX_AGE_MS + lagP99,
    )
  } finally {
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 }).catch(() => {})
    await cdp.detach().catch(() => {})
  }
})
