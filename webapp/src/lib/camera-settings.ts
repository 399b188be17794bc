// Camera id rules, speed choices and source facts shared by the forms.
import type { Camera } from '@/types/api'

/** docs/api.md: ^[A-Za-z0-9_-]{1,64}$ */
export const CAMERA_ID_RE = /^[A-Za-z0-9_-]{1,64}$/
/** The same rule for the HTML pattern attribute (v flag: "-" escaped). */
export const CAMERA_ID_PATTERN = '[A-Za-z0-9_\\-]{1,64}'

export const SPEEDS: readonly number[] = [0.1, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 4, 8]

/** The preset speeds plus the current one when it is not a preset. */
export function speedOptions(current: number): number[] {
  return SPEEDS.includes(current) ? [...SPEEDS] : [...SPEEDS, current].sort((a, b) => a - b)
}

export function formatSpeed(speed: number, locale?: string): string {
  return `${speed.toLocaleString(locale, { maximumFractionDigits: 2 })}×`
}

/**
 * A camera fed by a URL (MJPEG stream, snapshots) rather than an uploaded
 * file: no loop, no speed, no seeking. A server without live sources sends
 * no `source`: a file camera.
 */
export function isLiveCamera(camera: Pick<Camera, 'source'>): boolean {
  const kind = camera.source?.kind
  return kind !== undefined && kind !== 'file'
}
