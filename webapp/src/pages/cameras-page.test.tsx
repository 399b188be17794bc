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
  grid: { width: 480, fps: 10, own: { width: 0, fps: 0 } },
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

describe('CamerasPage live cameras', () => {
  const gate: Camera = {
    ...demo,
    id: 'gate',
    name: 'Gate',
    state: 'offline',
    error: 'connection refused',
    last_frame_age_ms: 3000,
    source: { kind: 'mjpeg', url: 'http://admin:xxxxx@cam.local/stream', transport: '' },
  }

  function serve(cameras: Camera[], answer?: () => Response) {
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit) => {
        const method = init.method ?? 'GET'
        calls.push({ method, url, body: init.body ? JSON.parse(String(init.body)) : undefined })
        if (method === 'GET') return new Response(JSON.stringify({ cameras }), { status: 200 })
        return answer ? answer() : new Response(JSON.stringify(cameras[0]), { status: 200 })
      }),
    )
  }

  it('creates a camera by URL: the body has the source and no loop or speed', async () => {
    const user = userEvent.setup()
    renderWithProviders(<CamerasPage />)
    const form = screen.getByRole('form', { name: 'Add a camera' })
    expect(within(form).getByLabelText('Upload a video later')).toBeChecked()
    expect(within(form).getByLabelText('Loop')).toBeInTheDocument()
    await user.click(within(form).getByLabelText('Connect to a camera by URL'))
    expect(within(form).queryByLabelText('Loop')).toBeNull()
    expect(within(form).queryByLabelText('Speed')).toBeNull()
    const urlInput = screen.getByLabelText('Camera URL')
    expect(urlInput).toHaveAccessibleDescription(/rtsp:\/\/ or rtsps:\/\/.*MJPEG stream or a JPEG snapshot/)
    await user.type(screen.getByLabelText('Name'), 'Gate')
    expect(screen.getByRole('button', { name: 'Create camera' })).toBeDisabled()
    await user.type(urlInput, 'http://admin:pw@cam.local/stream')
    await user.click(screen.getByRole('button', { name: 'Create camera' }))
    await waitFor(() =>
      expect(calls).toContainEqual({
        method: 'POST',
        url: '/api/cameras',
        body: { name: 'Gate', source: { url: 'http://admin:pw@cam.local/stream' } },
      }),
    )
    expect(await screen.findByText('Camera demo created.')).toBeInTheDocument()
  })

  it('offers the RTSP transport for rtsp:// URLs only and sends it', async () => {
    const user = userEvent.setup()
    renderWithProviders(<CamerasPage />)
    const form = screen.getByRole('form', { name: 'Add a camera' })
    await user.click(within(form).getByLabelText('Connect to a camera by URL'))
    await user.type(screen.getByLabelText('Name'), 'Yard')
    const urlInput = screen.getByLabelText('Camera URL')
    await user.type(urlInput, 'http://cam.local/mjpeg')
    expect(within(form).queryByLabelText('RTSP transport')).toBeNull()
    await user.clear(urlInput)
    await user.type(urlInput, 'rtsp://cam.local:554/stream1')
    await user.selectOptions(within(form).getByLabelText('RTSP transport'), 'udp')
    await user.click(screen.getByRole('button', { name: 'Create camera' }))
    await waitFor(() =>
      expect(calls).toContainEqual({
        method: 'POST',
        url: '/api/cameras',
        body: { name: 'Yard', source: { url: 'rtsp://cam.local:554/stream1', transport: 'udp' } },
      }),
    )
  })

  it.each([
    ['en', 'The request was not valid: source url scheme "ftp" is not accepted'],
    ['ko', '잘못된 요청입니다: source url scheme "ftp" is not accepted'],
  ] as const)("shows the server's refusal of a URL through the error texts (%s)", async (lang, text) => {
    serve([demo], () =>
      new Response(JSON.stringify({ error: { code: 'invalid_argument', message: 'source url scheme "ftp" is not accepted' } }), {
        status: 400,
      }),
    )
    const user = userEvent.setup()
    renderWithProviders(<CamerasPage />, { lang })
    await user.click(screen.getByLabelText(lang === 'en' ? 'Connect to a camera by URL' : 'URL로 카메라 연결'))
    await user.type(screen.getByLabelText(lang === 'en' ? 'Name' : '이름'), 'Gate')
    await user.type(screen.getByLabelText(lang === 'en' ? 'Camera URL' : '카메라 URL'), 'ftp://cam.local/live')
    await user.click(screen.getByRole('button', { name: lang === 'en' ? 'Create camera' : '카메라 만들기' }))
    expect(await screen.findByRole('alert')).toHaveTextContent(text)
  })

  it.each([
    ['en', 'MJPEG stream', 'Offline', 'Last frame 3 s ago'],
    ['ko', 'MJPEG 스트림', '오프라인', '마지막 프레임 3초 전'],
  ] as const)(
    'a live camera hides loop and speed and shows its kind, redacted URL, state and last frame (%s)',
    async (lang, kind, state, age) => {
      serve([demo, gate])
      renderWithProviders(<CamerasPage />, { lang })
      const row = await screen.findByRole('listitem', { name: 'Gate' })
      const file = screen.getByRole('listitem', { name: 'Demo' })
      expect(within(file).getByLabelText(lang === 'en' ? 'Loop demo' : 'demo 반복')).toBeInTheDocument()
      expect(within(row).queryByLabelText(lang === 'en' ? 'Loop gate' : 'gate 반복')).toBeNull()
      expect(within(row).queryByLabelText(lang === 'en' ? 'Speed of gate' : 'gate 속도')).toBeNull()
      expect(row.querySelector('[data-source-kind="mjpeg"]')).toHaveTextContent(kind)
      expect(row.querySelector('[data-source-url]')).toHaveTextContent('http://admin:xxxxx@cam.local/stream')
      expect(row.querySelector('[data-run-state="offline"]')).toHaveTextContent(state)
      expect(row.querySelector('[data-frame-age]')).toHaveTextContent(age)
      expect(row.querySelector('[data-camera-error]')).toHaveTextContent('connection refused')
    },
  )

  it('says "Detecting…" until the camera answered', async () => {
    serve([{ ...gate, state: 'starting', error: '', last_frame_age_ms: null, source: { ...gate.source, kind: 'http' } }])
    renderWithProviders(<CamerasPage />)
    const row = await screen.findByRole('listitem', { name: 'Gate' })
    expect(row.querySelector('[data-source-kind]')).toHaveTextContent('Detecting…')
    expect(row.querySelector('[data-frame-age]')).toHaveTextContent('No frame yet')
  })

  it("changes a live camera's URL, and switches a file camera to a URL, with PATCH", async () => {
    serve([demo, gate])
    const user = userEvent.setup()
    renderWithProviders(<CamerasPage />)
    const row = await screen.findByRole('listitem', { name: 'Gate' })
    const input = within(row).getByLabelText('New camera URL for gate')
    // Never prefilled with the masked URL: saving it would store "xxxxx" as the password.
    expect(input).toHaveValue('')
    await user.type(input, 'http://cam.local/snapshot.jpg')
    await user.click(within(row).getByRole('button', { name: 'Change URL' }))
    expect(await within(row).findByText('The camera now plays this URL.')).toBeInTheDocument()

    const file = screen.getByRole('listitem', { name: 'Demo' })
    await user.click(within(file).getByText('Play a camera URL instead'))
    await user.type(within(file).getByLabelText('New camera URL for demo'), 'https://cam2.local/mjpeg')
    await user.click(within(file).getByRole('button', { name: 'Use this URL' }))
    await waitFor(() =>
      expect(calls.filter((c) => c.method === 'PATCH')).toEqual([
        { method: 'PATCH', url: '/api/cameras/gate', body: { source: { url: 'http://cam.local/snapshot.jpg' } } },
        { method: 'PATCH', url: '/api/cameras/demo', body: { source: { url: 'https://cam2.local/mjpeg' } } },
      ]),
    )
  })
})
