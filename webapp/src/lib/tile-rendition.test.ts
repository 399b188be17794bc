import { describe, expect, it } from 'vitest'
import { gridTileRendition } from '@/lib/tile-rendition'

describe('gridTileRendition', () => {
  it('keeps the grid rendition for a tile about as wide as it or smaller', () => {
    expect(gridTileRendition('grid', 300, 480)).toBe('grid')
    expect(gridTileRendition('grid', 590, 480)).toBe('grid')
  })
  it('asks for full when the tile is shown well wider than the grid rendition', () => {
    expect(gridTileRendition('grid', 610, 480)).toBe('full')
    expect(gridTileRendition('grid', 2400, 480)).toBe('full')
  })
  it('goes back to grid only below a lower threshold', () => {
    expect(gridTileRendition('full', 560, 480)).toBe('full')
    expect(gridTileRendition('full', 520, 480)).toBe('grid')
  })
  it('keeps grid while a size is unknown', () => {
    expect(gridTileRendition('full', 0, 480)).toBe('grid')
    expect(gridTileRendition('grid', 900, 0)).toBe('grid')
  })
})
