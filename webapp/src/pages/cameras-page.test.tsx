import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Camera } from '@/types/api'
import { renderWithProviders } from '@/test/render'
import { CamerasPage } from '@/pages/cameras-page'

const demo: Camera = {
  id: 'demo',
  name: 'Demo',
  loop: true,
  speed: 1,
  state: 'running',
  error: '',
  error_code: '',
  epoch: 1,
  seq: 1,
  position: 0,
  channel: 1,
  viewers: {},
  last_frame_age_ms: null,
  fps: 0,
  video: null,
  source: { kind: 'file', url: '', transport: '' },
}

let calls: { method: string; url: string; body: unknown }[] = []

beforeEach(() => {
  calls = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit) => {
      const method = init.method ?? 'GET'
      calls.push({ method, url, body: init.body ? JSON.parse(String(init.body)) : undefined })
      if (method === 'GET') return new Response(JSON.stringify({ cameras: [demo] }), { status: 200 })
      if (method === 'DELETE') return new Response(null, { status: 204 })
      return new Response(JSON.stringify(demo), { status: 200 })
    }),
  )
})
afterEach(() => vi.unstubAllGlobals())

describe('CamerasPage', () => {
  it('changes speed and loop live with PATCH', async () => {
    const user = userEvent.setup()
    renderWithProviders(<CamerasPage />)
    await user.selectOptions(await screen.findByLabelText('Speed of demo'), '2')
    await user.click(screen.getByLabelText('Loop demo'))
    await waitFor(() =>
      expect(calls.filter((c) => c.method === 'PATCH')).toEqual([
        { method: 'PATCH', url: '/api/cameras/demo', body: { speed: 2 } },
        { method: 'PATCH', url: '/api/cameras/demo', body: { loop: false } },
      ]),
    )
  })

  it('asks before deleting; Escape cancels, Delete deletes', async () => {
    const user = userEvent.setup()
    renderWithProviders(<CamerasPage />)
    const row = await screen.findByRole('listitem', { name: 'Demo' })
    await user.click(within(row).getByRole('button', { name: 'Delete' }))
    let dialog = screen.getByRole('alertdialog', { name: 'Delete camera?' })
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toHaveFocus()
    await user.keyboard('{Escape}')
    expect(screen.queryByRole('alertdialog')).toBeNull()
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false)

    await user.click(within(row).getByRole('button', { name: 'Delete' }))
    dialog = screen.getByRole('alertdialog')
    await user.click(within(dialog).getByRole('button', { name: 'Delete' }))
    await waitFor(() => expect(calls).toContainEqual({ method: 'DELETE', url: '/api/cameras/demo', body: undefined }))
    expect(await screen.findByText('Camera demo deleted.')).toBeInTheDocument()
  })

  it('creates a camera with name and optional id', async () => {
    const user = userEvent.setup()
    renderWithProviders(<CamerasPage />)
    await user.type(screen.getByLabelText('Name'), 'Lobby')
    await user.type(screen.getByLabelText('ID (optional)'), 'lobby')
    await user.click(screen.getByRole('button', { name: 'Create camera' }))
    await waitFor(() =>
      expect(calls).toContainEqual({
        method: 'POST',
        url: '/api/cameras',
        body: { name: 'Lobby', id: 'lobby', loop: true, speed: 1 },
      }),
    )
  })
})

describe('CamerasPage limits', () => {
  it.each([
    ['en', 'The server already has as many cameras as it allows. Delete a camera first.'],
    ['ko', '서버에 허용된 최대 개수의 카메라가 이미 있습니다. 먼저 카메라를 삭제하세요.'],
  ] as const)('says the camera limit is reached (%s)', async (lang, text) => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async (_url: string, init: RequestInit) =>
        (init.method ?? 'GET') === 'GET'
          ? new Response(JSON.stringify({ cameras: [demo] }), { status: 200 })
          : new Response(JSON.stringify({ error: { code: 'camera_limit', message: 'at most 1 camera' } }), { status: 503 }),
      ),
    )
    const user = userEvent.setup()
    renderWithProviders(<CamerasPage />, { lang })
    await user.type(screen.getByLabelText(lang === 'en' ? 'Name' : '이름'), 'Lobby')
    await user.click(screen.getByRole('button', { name: lang === 'en' ? 'Create camera' : '카메라 만들기' }))
    expect(await screen.findByRole('alert')).toHaveTextContent(text)
  })
})
