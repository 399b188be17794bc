// Which rendition a grid tile asks for. The grid rendition is small (the
// camera's grid width, 480 px by default); a tile shown wider than that on
// screen (a wall of one or two cameras, a big monitor, a high-DPI screen)
// would stretch it, so such a tile asks for full instead. The thresholds
// differ (switch up above 1.25x the grid width, back below 1.1x) so a tile
// whose width sits near the line does not flip with every resize.
import type { Rendition } from '@/lib/camera-protocol'

export const UP_FACTOR = 1.25
export const DOWN_FACTOR = 1.1

/**
 * The rendition for a grid tile `displayPx` device pixels wide, given the
 * camera's grid width and what the tile asked for before (hysteresis).
 * Unknown sizes (0) keep the grid rendition.
 */
export function gridTileRendition(prev: Rendition, displayPx: number, gridWidth: number): Rendition {
  if (!(displayPx > 0) || !(gridWidth > 0)) return 'grid'
  if (prev === 'full') return displayPx < gridWidth * DOWN_FACTOR ? 'grid' : 'full'
  return displayPx > gridWidth * UP_FACTOR ? 'full' : 'grid'
}
