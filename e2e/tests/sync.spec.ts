// Scenario 11: two people watching one camera see the same moment.
import { expect, test } from '../support/fixtures'
import { VIDEO_A, mediaPath } from '../support/media'
import { installPaintRecorder, paintedFramesWall, type Painted } from '../support/marker'
import { expectLive, recordFor, sessionId, waitForVideo } from '../support/wait'

/** One second of video. */
const TOLERANCE_FRAMES = VIDEO_A.fps
/** Never more than this apart, not even for a moment. */
const HARD_LIMIT_FRAMES = 3 * VIDEO_A.fps
/**
 * Share of moments allowed over one second apart: on a loaded 2-core machine
 * one tab can fall behind briefly while it works through frames its socket
 * already holds; a viewer that is persistently behind fails.
 */
const TRANSIENT_SHARE = 0.1
const SAMPLE_MS = 5000

test('scenario 11: two browser contexts watching one camera see the same position', async ({ page, cameras, viewers }) => {
  const cam = await cameras.create({ prefix: 's11', video: mediaPath('a.avi') })
  await page.goto(`/cameras/${cam.id}`)
  const other = await viewers.open(`/cameras/${cam.id}`)
  for (const p of [page, other]) {
    await installPaintRecorder(p)
    await expectLive(p, cam.id)
    await waitForVideo(p, cam.id, VIDEO_A.id)
  }
  expect(await sessionId(page), 'two contexts, two sessions').not.toBe(await sessionId(other))

  // Both pages record every frame they paint, with its wall-clock time.
  const starts = await Promise.all([page, other].map((p) => p.evaluate(() => performance.now())))
  await recordFor(page, cam.id, starts[0]!, SAMPLE_MS)
  await recordFor(other, cam.id, starts[1]!, SAMPLE_MS)
  const [a, b] = await Promise.all([paintedFramesWall(page, cam.id), paintedFramesWall(other, cam.id)])

  // Where each viewer's video was at the same instants, every 250 ms over the
  // window: the frame it showed last, moved on by the time since it painted
  // it (a tab that paints less often is not behind; one that shows old
  // frames is).
  const fps = VIDEO_A.fps / 1000
  const shownAt = (frames: Painted[], t: number) => frames.filter((f) => f.t <= t).pop()
  const from = Math.max(a.find((f) => f.video === VIDEO_A.id)!.t, b.find((f) => f.video === VIDEO_A.id)!.t)
  const to = Math.min(a[a.length - 1]!.t, b[b.length - 1]!.t)
  expect(to - from, 'overlapping recording').toBeGreaterThanOrEqual(SAMPLE_MS - 500)
  const diffs: string[] = []
  let worst = 0
  let samples = 0
  for (let t = from; t <= to && samples < 100; t += 250, samples++) {
    const fa = shownAt(a, t)!
    const fb = shownAt(b, t)!
    expect(fa.video).toBe(VIDEO_A.id)
    expect(fb.video).toBe(VIDEO_A.id)
    expect(fa.epoch).toBe(fb.epoch)
    const pa = fa.frame + (t - fa.t) * fps
    const pb = fb.frame + (t - fb.t) * fps
    const d = Math.abs(pa - pb) % VIDEO_A.frames
    const diff = Math.min(d, VIDEO_A.frames - d) // distance on the 300-frame loop
    worst = Math.max(worst, diff)
    if (diff > TOLERANCE_FRAMES) {
      const ages = `${(t - fa.t).toFixed(0)} / ${(t - fb.t).toFixed(0)} ms`
      diffs.push(`+${(t - from).toFixed(0)} ms: ${fa.frame} vs ${fb.frame} (painted ${ages} before, seq ${fa.seq} / ${fb.seq})`)
    }
  }
  test.info().annotations.push({ type: 'sync', description: `${samples} moments, ${diffs.length} over 1 s apart, worst ${worst.toFixed(0)} frames` })
  expect(samples).toBeGreaterThanOrEqual(SAMPLE_MS / 250 - 2)
  const summary = `moments more than 1 s apart: ${diffs.join('; ')}`
  expect(diffs.length, summary).toBeLessThanOrEqual(Math.floor(samples * TRANSIENT_SHARE))
  expect(worst, summary).toBeLessThanOrEqual(HARD_LIMIT_FRAMES)
})
