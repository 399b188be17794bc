// Waiting and measuring helpers built on web-first assertions and
// expect.poll: every wait has an explicit bound, none sleeps blindly.
import { expect, type Page } from '@playwright/test'
import { SESSION_KEY } from './fixtures'
import { ALL_VIDEOS } from './media'
import { loopDistance, paintedFrames, readTile, tileStatus, type Painted, type TileSample } from './marker'

/** Frames in the test video with this marker id (they loop). */
export function videoFrames(video: number): number {
  const spec = Object.values(ALL_VIDEOS).find((v) => v.id === video)
  if (!spec) throw new Error(`no test video has marker id ${video}`)
  return spec.frames
}

/** The session id the web app keeps in localStorage. */
export async function sessionId(page: Page): Promise<string | null> {
  return page.evaluate((key) => localStorage.getItem(key), SESSION_KEY)
}

/** Waits until the tile paints a frame of `video` and returns that sample. */
export async function waitForVideo(page: Page, camera: string, video: number, timeout = 10_000): Promise<TileSample> {
  let got: TileSample | null = null
  await expect
    .poll(
      async () => {
        got = await readTile(page, camera)
        return got?.video
      },
      { timeout, intervals: [50, 100, 100, 200], message: `tile ${camera} shows video ${video}` },
    )
    .toBe(video)
  return got!
}

/**
 * Waits until the tile paints a frame of the same video whose index is
 * ahead of `from` by 1 to `maxAhead` frames, counting across the end of the
 * looping video (so a jump back to the start does not count as advancing),
 * and returns it.
 */
export async function waitForAdvance(
  page: Page,
  camera: string,
  from: TileSample,
  opts: { timeout?: number; maxAhead?: number } = {},
): Promise<TileSample> {
  const maxAhead = opts.maxAhead ?? Math.min(120, Math.floor(videoFrames(from.video) / 2))
  const start = Date.now()
  const seen: string[] = []
  let got: TileSample | null = null
  await expect
    .poll(
      async () => {
        got = await readTile(page, camera)
        const d = got?.video === from.video ? loopDistance(from.frame, got.frame, videoFrames(from.video)) : -1
        const what = got ? `v${got.video} f${got.frame} s${got.seq}` : 'none'
        if (seen.length < 40) seen.push(`+${Date.now() - start}ms: ${what}`)
        return d >= 1 && d <= maxAhead ? 'advanced' : `not advanced; seen ${seen.join(', ')}`
      },
      {
        timeout: opts.timeout ?? 5000,
        intervals: [50, 100, 100, 200],
        message: `tile ${camera} advances from frame ${from.frame} (seq ${from.seq})`,
      },
    )
    .toBe('advanced')
  return got!
}

/**
 * Waits until the tile shows `video` at frame `minFrame` or later (so that a
 * later jump back to the start is unmistakable) and returns that sample.
 */
export async function waitForFrame(
  page: Page,
  camera: string,
  video: number,
  minFrame: number,
  timeout = 15_000,
): Promise<TileSample> {
  let got: TileSample | null = null
  await expect
    .poll(
      async () => {
        got = await readTile(page, camera)
        return got?.video === video ? got.frame : -1
      },
      { timeout, intervals: [100, 250], message: `tile ${camera} shows video ${video} at frame ${minFrame} or later` },
    )
    .toBeGreaterThanOrEqual(minFrame)
  return got!
}

/** Waits until the tile's badge says live. */
export async function expectLive(page: Page, camera: string, timeout = 10_000): Promise<void> {
  await expect(tileStatus(page, camera)).toHaveAttribute('data-state', 'live', { timeout })
}

/**
 * Waits until the paint recorder has seen frames of `camera` covering
 * `spanMs` of page time from `sinceT` on, and returns them.
 */
export async function recordFor(page: Page, camera: string, sinceT: number, spanMs: number): Promise<Painted[]> {
  await expect
    .poll(
      async () => {
        const frames = await paintedFrames(page, camera, sinceT)
        return frames.length ? frames[frames.length - 1]!.t - sinceT : 0
      },
      { timeout: spanMs + 5000, intervals: [250, 500], message: `frames of ${camera} painted over ${spanMs} ms` },
    )
    .toBeGreaterThanOrEqual(spanMs)
  return paintedFrames(page, camera, sinceT)
}

/**
 * The first frame painted after a reconnect (`first`) continues the run
 * the tile showed before (`last`): the same video and epoch, the frame not
 * more than 2 s earlier (the server checkpoints positions) and not ahead
 * of real time. Never back at the start. The seq is the caller's to check
 * (a resume may repeat the last frame; a restart skips ahead).
 */
export function expectContinues(first: Painted, last: Painted, video: number, fps: number): void {
  expect(first.video).toBe(video)
  expect(first.epoch, 'same run of the video').toBe(last.epoch)
  const elapsed = (first.t - last.t) / 1000
  expect(first.frame, `frame ${first.frame} after ${last.frame}`).toBeGreaterThanOrEqual(last.frame - 2 * fps)
  expect(first.frame).toBeLessThanOrEqual(last.frame + elapsed * fps + fps)
}

/** Waits for the first frame of `camera` painted at or after page time `sinceT`. */
export async function firstPaintAfter(page: Page, camera: string, sinceT: number, timeout: number): Promise<Painted> {
  let first: Painted | undefined
  await expect
    .poll(
      async () => {
        first = (await paintedFrames(page, camera, sinceT))[0]
        return first !== undefined
      },
      { timeout, intervals: [50, 100, 100, 200], message: `a frame of ${camera} is painted` },
    )
    .toBe(true)
  return first!
}

/** Waits for the first frame of `video` painted at or after page time `sinceT`. */
export async function firstPaintOf(
  page: Page,
  camera: string,
  video: number,
  sinceT: number,
  timeout: number,
): Promise<Painted> {
  let first: Painted | undefined
  await expect
    .poll(
      async () => {
        first = (await paintedFrames(page, camera, sinceT)).find((f) => f.video === video)
        return first !== undefined
      },
      { timeout, intervals: [50, 100, 100, 200], message: `a frame of video ${video} is painted on ${camera}` },
    )
    .toBe(true)
  return first!
}

/** Least-squares slope of frame index over time, in frames per second. */
export function frameRate(frames: Painted[]): number {
  const n = frames.length
  if (n < 2) return NaN
  const mt = frames.reduce((a, f) => a + f.t, 0) / n
  const mf = frames.reduce((a, f) => a + f.frame, 0) / n
  let num = 0
  let den = 0
  for (const f of frames) {
    num += (f.t - mt) * (f.frame - mf)
    den += (f.t - mt) ** 2
  }
  return (num / den) * 1000
}

/** A short description of recorded frames for failure messages. */
export function describeFrames(frames: Painted[], max = 12): string {
  const pick = frames.length <= max ? frames : [...frames.slice(0, max / 2), ...frames.slice(-max / 2)]
  return pick.map((f) => `t=${f.t.toFixed(0)} v=${f.video} f=${f.frame} e=${f.epoch} s=${f.seq}`).join('; ')
}
