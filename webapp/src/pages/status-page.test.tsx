import { screen } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { CameraStatsEntry, Stats } from '@/types/api'
import { renderWithProviders } from '@/test/render'
import { liveCamera } from '@/test/cameras'
import { StatusPage } from '@/pages/status-page'

const gate: CameraStatsEntry = {
  ...liveCamera,
  state: 'offline',
  error: 'connection refused',
  last_frame_age_ms: 6000,
  drops: {},
  published: 40,
  encoded: 0,
  grabbed: 40,
  restarts: 0,
  errors: null,
}

afterEach(() => vi.unstubAllGlobals())

describe('StatusPage', () => {
  it.each([
    ['en', 'Offline', 'Problem: connection refused', 'MJPEG stream: http://admin:xxxxx@cam.local/stream'],
    ['ko', '오프라인', '문제: connection refused', 'MJPEG 스트림: http://admin:xxxxx@cam.local/stream'],
  ] as const)("shows a live camera's source and its error in plain words (%s)", async (lang, state, problem, source) => {
    const stats: Stats = { server: { version: 'test', uptime_s: 5, sessions: 1, ws_connections: 1 }, cameras: [gate] }
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) =>
        new Response(JSON.stringify(url === '/api/stats' ? stats : { status: 'ok' }), { status: 200 }),
      ),
    )
    renderWithProviders(<StatusPage />, { lang })
    const row = await screen.findByRole('row', { name: /gate/ })
    expect(row).toHaveTextContent(state)
    expect(row.querySelector('[data-camera-error]')).toHaveTextContent(problem)
    expect(row).toHaveTextContent(source)
  })
})
