import { describe, expect, it } from 'vitest'
import type { SocketSnapshot } from '@/lib/camera-socket'
import { deriveTileState, shouldUseMjpeg, type TileInputs } from '@/lib/tile-state'

const live: SocketSnapshot = { state: 'live', attempt: 0, sessionId: 'x' }
const base: TileInputs = { socket: live, cameraState: 'running', receiving: true, mjpeg: false, mjpegFailed: false, socketError: false }

describe('deriveTileState', () => {
  it.each<[string, Partial<TileInputs>, string]>([
    ['frames arriving', {}, 'live'],
    ['running but no frames yet', { receiving: false }, 'connecting'],
    ['camera starting', { cameraState: 'starting', receiving: false }, 'connecting'],
    ['socket connecting', { socket: { state: 'connecting', attempt: 0, sessionId: null }, receiving: false }, 'connecting'],
    ['socket reconnecting', { socket: { state: 'reconnecting', attempt: 2, sessionId: 'x' } }, 'reconnecting'],
    ['camera stopped', { cameraState: 'stopped', receiving: false }, 'stopped'],
    ['camera ended', { cameraState: 'ended' }, 'ended'],
    ['camera error', { cameraState: 'error' }, 'error'],
    ['live source offline', { cameraState: 'offline', receiving: false }, 'offline'],
    ['live source offline, last frames still counted as recent', { cameraState: 'offline' }, 'offline'],
    ['live source offline in MJPEG mode', { cameraState: 'offline', mjpeg: true, receiving: false }, 'offline'],
    ['live source offline while the socket is down', { cameraState: 'offline', socket: { state: 'reconnecting', attempt: 1, sessionId: 'x' } }, 'reconnecting'],
    ['the server refused the camera over the socket', { socketError: true, receiving: false }, 'error'],
    ['socket error while the socket is down', { socketError: true, socket: { state: 'reconnecting', attempt: 1, sessionId: 'x' } }, 'reconnecting'],
    ['mjpeg running', { mjpeg: true, receiving: false, socket: { state: 'reconnecting', attempt: 6, sessionId: null } }, 'live'],
    [
      'mjpeg failing while the socket is down',
      { mjpeg: true, mjpegFailed: true, socket: { state: 'reconnecting', attempt: 6, sessionId: null } },
      'reconnecting',
    ],
  ])('%s', (_name, patch, want) => {
    expect(deriveTileState({ ...base, ...patch })).toBe(want)
  })
})

describe('shouldUseMjpeg', () => {
  it('falls back after 5 failed attempts, returns to the socket once live, and honours the setting', () => {
    expect(shouldUseMjpeg({ state: 'reconnecting', attempt: 4, sessionId: null }, false)).toBe(false)
    expect(shouldUseMjpeg({ state: 'reconnecting', attempt: 5, sessionId: null }, false)).toBe(true)
    expect(shouldUseMjpeg(live, false)).toBe(false)
    expect(shouldUseMjpeg(live, true)).toBe(true)
  })
})
