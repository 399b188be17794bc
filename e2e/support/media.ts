// The generated test videos. Each frame carries a marker (video id, frame
// index; see server/internal/marker) that tests read back from the page.
import { join } from 'node:path'

export interface VideoSpec {
  /** Marker video id, 0-255. */
  id: number
  frames: number
  width: number
  height: number
  fps: number
  noise?: boolean
}

/** Video A: the first upload. 10 s at 30 fps, loops. */
export const VIDEO_A = { id: 1, frames: 300, width: 640, height: 360, fps: 30 } satisfies VideoSpec
/** Video B: replaces A. */
export const VIDEO_B = { id: 2, frames: 300, width: 640, height: 360, fps: 30 } satisfies VideoSpec
/** Video B': a much larger file (tens of MB: 720p with noise). */
export const VIDEO_B_LARGE = { id: 3, frames: 300, width: 1280, height: 720, fps: 30, noise: true } satisfies VideoSpec
/**
 * A 60 s video for resume, restart and speed tests: long enough that the
 * frame index never wraps during one test, so "later" and "back at the
 * start" cannot be confused.
 */
export const VIDEO_LONG = { id: 4, frames: 1800, width: 320, height: 180, fps: 30 } satisfies VideoSpec
/** Eight small, distinct videos for the eight-camera grid (ids 11-18). */
export const VIDEO_TILES: VideoSpec[] = Array.from({ length: 8 }, (_, i) => ({
  id: 11 + i,
  frames: 150,
  width: 320,
  height: 180,
  fps: 30,
}))

export const ALL_VIDEOS: Record<string, VideoSpec> = {
  'a.avi': VIDEO_A,
  'b.avi': VIDEO_B,
  'b-large.avi': VIDEO_B_LARGE,
  'long.avi': VIDEO_LONG,
  ...Object.fromEntries(VIDEO_TILES.map((v) => [`tile-${v.id}.avi`, v])),
}

/** A text file with a video extension. */
export const BAD_FILE = 'bad.mp4'

/** Directory the global setup generated the media into. */
export function mediaDir(): string {
  const dir = process.env.LIVEMON_E2E_MEDIA
  if (!dir) throw new Error('LIVEMON_E2E_MEDIA is not set: the global setup did not run')
  return dir
}

export function mediaPath(name: string): string {
  return join(mediaDir(), name)
}

export function tileVideoFile(v: VideoSpec): string {
  return `tile-${v.id}.avi`
}
