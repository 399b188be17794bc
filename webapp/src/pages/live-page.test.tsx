import { act, screen } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Camera } from '@/types/api'
import { liveCamera } from '@/test/cameras'
import { buildFrame } from '@/test/fake-websocket'
import { connectedTestSocket, renderWithProviders } from '@/test/render'
import { LivePage } from '@/pages/live-page'

const liveCam: Camera = { ...liveCamera, seq: 1, last_frame_age_ms: 20 }

beforeEach(() => {
  // A picture counts as painted at the next animation frame; jsdom's are
  // timers these tests do not run, so the next frame is now (lib/next-frame.ts).
  vi.stubGlobal('requestAnimationFrame', undefined)
  vi.stubGlobal(
    'createImageBitmap',
    vi.fn(async () => ({ width: 320, height: 180, close: () => {} })),
  )
})
afterEach(() => vi.unstubAllGlobals())

const liveSocket = connectedTestSocket

const frame = (seq: number) =>
  buildFrame({ channel: 1, epoch: 3, seq, serverTime: Date.now(), positionMs: 1000, width: 320, height: 180 })

describe('LivePage with a live camera that goes offline', () => {
  it.each([
    ['en', 'Offline', 'Last frame 7 s ago', 'Live'],
    ['ko', '오프라인', '마지막 프레임 7초 전', '실시간'],
  ] as const)('keeps the last frame with its age, then is Live again by itself (%s)', async (lang, offlineText, ageText, liveText) => {
    let server: Camera = liveCam
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response(JSON.stringify({ cameras: [server] }), { status: 200 })),
    )
    const { socket, ws } = liveSocket()
    renderWithProviders(<LivePage />, { socket, lang })
    const badge = await screen.findByRole('status')
    expect(screen.queryByText(/No video yet|아직 동영상이 없습니다/)).toBeNull()
    // Answer the tile's subscribe only once the client has sent it: a
    // 'subscribed' that arrives first is not the tile's yet.
    await vi.waitFor(() => expect(ws().messages()).toContainEqual({ type: 'subscribe', camera: 'gate', rendition: 'grid' }))
    act(() => ws().receive({ type: 'subscribed', camera: 'gate', rendition: 'grid', channel: 1, epoch: 3, seq: 1 }))
    await act(async () => {
      ws().receiveBinary(frame(1))
    })
    // Painting goes through an (async) createImageBitmap: wait for it.
    await vi.waitFor(() => expect(badge).toHaveAttribute('data-state', 'live'))

    // The camera stops answering: the server says offline (event carries the camera).
    server = { ...liveCam, state: 'offline', error: 'connection refused', last_frame_age_ms: 7000 }
    act(() => ws().receive({ type: 'event', event: 'state', camera: 'gate', camera_state: server }))
    expect(badge).toHaveAttribute('data-state', 'offline')
    expect(badge).toHaveTextContent(offlineText)
    const canvas = screen.getByTestId('frame-gate')
    expect(canvas).toHaveAttribute('data-seq', '1')
    expect(canvas).toHaveAttribute('data-painted', 'true')
    const tileEl = document.querySelector('[data-camera="gate"]')!
    expect(tileEl.querySelector('[data-frame-age]')).toHaveTextContent(ageText)
    expect(tileEl).toHaveTextContent('connection refused')

    // It answers again: running, frames flow; no user action.
    server = { ...liveCam, state: 'running', error: '', last_frame_age_ms: 20 }
    act(() => ws().receive({ type: 'event', event: 'state', camera: 'gate', camera_state: server }))
    await act(async () => {
      ws().receiveBinary(frame(2))
    })
    await vi.waitFor(() => expect(badge).toHaveAttribute('data-state', 'live'))
    expect(badge).toHaveTextContent(liveText)
    expect(tileEl.querySelector('[data-frame-age]')).toBeNull()
    await vi.waitFor(() => expect(canvas).toHaveAttribute('data-seq', '2'))
  })

})
