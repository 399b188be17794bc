import { act, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { fileCamera, liveCamera } from '@/test/cameras'
import { buildFrame } from '@/test/fake-websocket'
import { connectedTestSocket, renderWithProviders } from '@/test/render'
import { CameraTile } from '@/components/camera-tile'
import { AppHeader } from '@/components/app-header'

const camera = fileCamera

const bitmapClose = vi.fn()

beforeEach(() => {
  bitmapClose.mockClear()
  // A picture counts as painted at the next animation frame; jsdom's are
  // timers these tests do not run, so the next frame is now (lib/next-frame.ts).
  vi.stubGlobal('requestAnimationFrame', undefined)
  vi.stubGlobal(
    'createImageBitmap',
    vi.fn(async () => ({ width: 320, height: 180, close: bitmapClose })),
  )
})
afterEach(() => {
  vi.unstubAllGlobals()
})

const liveSocket = connectedTestSocket

const frame = (seq: number, epoch = 3) =>
  buildFrame({ channel: 1, epoch, seq, serverTime: Date.now(), positionMs: 65_000, width: 320, height: 180 })

describe('CameraTile with a fake socket', () => {
  it.each([
    ['en', 'subscription_limit', 'This tab already shows as many cameras as the server allows.'],
    ['ko', 'subscription_limit', '이 탭은 서버가 허용하는 최대 개수의 카메라를 이미 보여 주고 있습니다.'],
    ['en', 'decoder_limit', 'The server is already playing as many cameras as it can.'],
    ['ko', 'decoder_limit', '서버가 이미 재생할 수 있는 최대 개수의 카메라를 재생하고 있습니다.'],
  ] as const)('shows a socket error for the camera (%s %s) and clears it when frames come', async (lang, code, text) => {
    const { socket, ws } = liveSocket()
    renderWithProviders(<CameraTile camera={camera} />, { socket, lang })
    const tile = document.querySelector('[data-camera="demo"]')!
    act(() => ws().receive({ type: 'subscribed', camera: 'demo', channel: 1, epoch: 3, seq: 100 }))
    act(() => ws().receive({ type: 'error', code, message: 'limit reached', camera: 'demo' }))
    expect(screen.getByRole('status')).toHaveAttribute('data-state', 'error')
    expect(tile.querySelector(`[data-error-code="${code}"]`)).toHaveTextContent(text)

    // Another camera's messages do not touch this tile.
    act(() => ws().receive({ type: 'subscribed', camera: 'other', channel: 2, epoch: 1, seq: 1 }))
    expect(screen.getByRole('status')).toHaveAttribute('data-state', 'error')

    await act(async () => {
      ws().receiveBinary(frame(100))
    })
    expect(screen.getByRole('status')).toHaveAttribute('data-state', 'live')
    expect(tile.querySelector('[data-error-code]')).toBeNull()
    expect(socket.getCameraError('demo')).toBeNull()

    // A later successful subscribe clears it too.
    act(() => ws().receive({ type: 'error', code, message: 'limit reached', camera: 'demo' }))
    expect(socket.getCameraError('demo')).toEqual({ code, message: 'limit reached' })
    act(() => ws().receive({ type: 'subscribed', camera: 'demo', channel: 1, epoch: 3, seq: 101 }))
    expect(socket.getCameraError('demo')).toBeNull()
  })

  it("shows the camera's own error text in the error state", () => {
    const { socket } = liveSocket()
    renderWithProviders(<CameraTile camera={{ ...camera, state: 'error', error: 'decoder failed' }} />, { socket })
    expect(screen.getByRole('status')).toHaveAttribute('data-state', 'error')
    expect(screen.getByText('decoder failed')).toBeInTheDocument()
  })

  it('subscribes, paints frames to the canvas through the ref and turns live', async () => {
    const { socket, ws } = liveSocket()
    renderWithProviders(<CameraTile camera={camera} />, { socket })

    const tile = document.querySelector('[data-camera="demo"]')
    expect(tile).not.toBeNull()
    const badge = screen.getByRole('status')
    expect(badge).toHaveAttribute('data-state', 'connecting')
    // A grid tile asks for the grid rendition.
    expect(ws().messages()).toContainEqual({ type: 'subscribe', camera: 'demo', rendition: 'grid' })

    ws().receive({ type: 'subscribed', camera: 'demo', rendition: 'grid', channel: 1, epoch: 3, seq: 100 })
    await act(async () => {
      ws().receiveBinary(frame(100))
    })
    const canvas = screen.getByTestId('frame-demo') as HTMLCanvasElement
    expect(canvas).toHaveAttribute('aria-label', 'Live video of Demo cam')
    expect(canvas).toHaveAttribute('data-seq', '100')
    expect(canvas).toHaveAttribute('data-epoch', '3')
    expect(canvas).toHaveAttribute('data-rendition', 'grid')
    expect(screen.getByTestId('rendition-demo')).toHaveTextContent('grid 320 px')
    expect(canvas.width).toBe(320)
    expect(canvas.height).toBe(180)
    expect(bitmapClose).toHaveBeenCalledTimes(1)
    expect(screen.getByRole('status')).toHaveAttribute('data-state', 'live')
    expect(screen.getByRole('status')).toHaveTextContent('Live')

    await act(async () => {
      ws().receiveBinary(frame(101))
    })
    expect(canvas).toHaveAttribute('data-seq', '101')

    // a new epoch is visible on the canvas too
    await act(async () => {
      ws().receiveBinary(frame(1, 4))
    })
    expect(canvas).toHaveAttribute('data-epoch', '4')
    expect(canvas).toHaveAttribute('data-seq', '1')
  })

  it('keeps only the newest frame while a decode is running', async () => {
    const { socket, ws } = liveSocket()
    let release: () => void = () => {}
    const decode = vi.fn(
      () =>
        new Promise<{ width: number; height: number; close: () => void }>((resolve) => {
          release = () => resolve({ width: 320, height: 180, close: bitmapClose })
        }),
    )
    vi.stubGlobal('createImageBitmap', decode)
    renderWithProviders(<CameraTile camera={camera} />, { socket })
    ws().receive({ type: 'subscribed', camera: 'demo', channel: 1, epoch: 3, seq: 1 })
    act(() => {
      ws().receiveBinary(frame(1))
      ws().receiveBinary(frame(2))
      ws().receiveBinary(frame(3))
    })
    expect(decode).toHaveBeenCalledTimes(1)
    await act(async () => release())
    expect(decode).toHaveBeenCalledTimes(2) // frame 2 skipped, 3 decoding
    await act(async () => release())
    expect(screen.getByTestId('frame-demo')).toHaveAttribute('data-seq', '3')
    expect(bitmapClose).toHaveBeenCalledTimes(2)
  })

  it('unsubscribes when unmounted', async () => {
    const { socket, ws } = liveSocket()
    const view = renderWithProviders(<CameraTile camera={camera} />, { socket })
    view.unmount()
    await act(async () => {})
    expect(ws().messages()).toContainEqual({ type: 'unsubscribe', camera: 'demo' })
  })

  it('shows the camera state when the camera is stopped', () => {
    const { socket } = liveSocket()
    renderWithProviders(<CameraTile camera={{ ...camera, state: 'stopped' }} />, { socket })
    expect(screen.getByRole('status')).toHaveAttribute('data-state', 'stopped')
    expect(screen.getByRole('status')).toHaveTextContent('Stopped')
  })

  it('shows reconnecting with the attempt, then falls back to MJPEG after 5 failures and back when live', async () => {
    vi.useFakeTimers()
    try {
      const { socket, factory } = liveSocket()
      renderWithProviders(<CameraTile camera={camera} />, { socket })
      act(() => factory.last.serverClose())
      expect(screen.getByRole('status')).toHaveAttribute('data-state', 'reconnecting')
      expect(screen.getByRole('status')).toHaveTextContent('Reconnecting (attempt 1)')
      for (let i = 0; i < 4; i++) {
        act(() => {
          vi.runOnlyPendingTimers()
          factory.last.fail()
        })
      }
      expect(socket.getSnapshot().attempt).toBe(5)
      const img = screen.getByTestId('mjpeg-demo')
      expect(img).toHaveAttribute('src', '/api/cameras/demo/mjpeg?rendition=grid')
      expect(screen.queryByTestId('frame-demo')).toBeNull()
      expect(document.querySelector('[data-camera="demo"]')).toHaveAttribute('data-mode', 'mjpeg')

      act(() => {
        vi.runOnlyPendingTimers()
        factory.last.open()
        factory.last.receive({ type: 'welcome', session: '0123456789abcdef0123456789abcdef', resumed: false, subscriptions: [] })
      })
      expect(screen.getByTestId('frame-demo')).toBeInTheDocument()
      expect(screen.queryByTestId('mjpeg-demo')).toBeNull()
    } finally {
      vi.useRealTimers()
    }
  })

  it('uses MJPEG when forced in the header', async () => {
    const user = userEvent.setup()
    const { socket } = liveSocket()
    renderWithProviders(
      <>
        <AppHeader />
        <CameraTile camera={camera} />
      </>,
      { socket },
    )
    expect(screen.getByTestId('frame-demo')).toBeInTheDocument()
    await user.click(screen.getByLabelText('Force MJPEG'))
    expect(screen.getByTestId('mjpeg-demo')).toBeInTheDocument()
  })

  it('links to the focused view and shows the position as mm:ss', async () => {
    vi.useFakeTimers()
    try {
      const { socket, ws } = liveSocket()
      renderWithProviders(<CameraTile camera={camera} />, { socket })
      expect(screen.getByRole('link', { name: 'Open Demo cam' })).toHaveAttribute('href', '/cameras/demo')
      ws().receive({ type: 'subscribed', camera: 'demo', channel: 1, epoch: 3, seq: 1 })
      act(() => {
        vi.advanceTimersByTime(500)
      })
      await act(async () => {
        ws().receiveBinary(frame(1))
      })
      act(() => {
        vi.advanceTimersByTime(500)
      })
      expect(document.querySelector('[data-stat="position"]')).toHaveTextContent('01:05')
      expect(document.querySelector('[data-stat="fps"]')).toHaveTextContent('1')
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('CameraTile of a live camera that goes offline', () => {
  const liveCam = liveCamera

  it('counts the offline age up between two camera list updates', () => {
    vi.useFakeTimers()
    try {
      const { socket } = liveSocket()
      renderWithProviders(<CameraTile camera={{ ...liveCam, state: 'offline', last_frame_age_ms: 7000 }} />, { socket })
      const age = document.querySelector('[data-frame-age]')!
      expect(age).toHaveTextContent('Last frame 7 s ago')
      act(() => {
        vi.advanceTimersByTime(3000)
      })
      expect(age).toHaveTextContent('Last frame 10 s ago')
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('CameraTile renditions', () => {
  afterEach(() => localStorage.clear())

  it('the focused view asks for full and says so', async () => {
    const { socket, ws } = liveSocket()
    renderWithProviders(<CameraTile camera={camera} large />, { socket })
    expect(ws().messages()).toContainEqual({ type: 'subscribe', camera: 'demo' })
    expect(document.querySelector('[data-camera="demo"]')).toHaveAttribute('data-rendition', 'full')
    ws().receive({ type: 'subscribed', camera: 'demo', rendition: 'full', channel: 1, epoch: 3, seq: 1 })
    await act(async () => {
      ws().receiveBinary(frame(1))
    })
    const badge = screen.getByTestId('rendition-demo')
    expect(badge).toHaveAttribute('data-rendition', 'full')
    expect(badge).toHaveTextContent('full')
  })

  it.each([
    ['en', 'Full quality'],
    ['ko', '원본 화질'],
  ] as const)('the full-quality setting (%s) makes a grid tile switch to full and is kept', async (lang, label) => {
    const { socket, ws } = liveSocket()
    renderWithProviders(
      <>
        <AppHeader />
        <CameraTile camera={camera} />
      </>,
      { socket, lang },
    )
    expect(ws().messages()).toContainEqual({ type: 'subscribe', camera: 'demo', rendition: 'grid' })
    ws().receive({ type: 'subscribed', camera: 'demo', rendition: 'grid', channel: 2, epoch: 3, seq: 1 })
    await act(async () => {
      ws().receiveBinary(buildFrame({ channel: 2, epoch: 3, seq: 3, serverTime: Date.now(), positionMs: 0, width: 320, height: 180 }))
    })
    expect(screen.getByTestId('rendition-demo')).toHaveAttribute('data-rendition', 'grid')

    await userEvent.click(screen.getByRole('checkbox', { name: label }))
    expect(localStorage.getItem('livemon.forceFull')).toBe('1')
    await vi.waitFor(() => expect(ws().messages().at(-1)).toEqual({ type: 'subscribe', camera: 'demo' }))
    expect(document.querySelector('[data-camera="demo"]')).toHaveAttribute('data-rendition', 'full')
    // Until full's first frame, grid frames are still painted (no gap).
    ws().receive({ type: 'subscribed', camera: 'demo', rendition: 'full', channel: 1, epoch: 3, seq: 4 })
    await act(async () => {
      ws().receiveBinary(buildFrame({ channel: 2, epoch: 3, seq: 6, serverTime: Date.now(), positionMs: 0, width: 320, height: 180 }))
    })
    const canvas = screen.getByTestId('frame-demo')
    expect(canvas).toHaveAttribute('data-seq', '6')
    expect(canvas).toHaveAttribute('data-rendition', 'grid')
    await act(async () => {
      ws().receiveBinary(frame(7))
    })
    expect(canvas).toHaveAttribute('data-seq', '7')
    expect(canvas).toHaveAttribute('data-rendition', 'full')
    await vi.waitFor(() => expect(screen.getByTestId('rendition-demo')).toHaveAttribute('data-rendition', 'full'))
  })
})

describe('CameraTile flow control', () => {
  const idle = () => new Promise<void>((resolve) => setTimeout(resolve, 0))
  const acks = (msgs: object[]) => msgs.filter((m) => (m as { type: string }).type === 'ack')

  it('acknowledges each frame once it is on screen, a frame it cannot decode too, and shows the painted age', async () => {
    const { socket, ws } = liveSocket()
    act(() =>
      ws().receive({ type: 'welcome', session: '0123456789abcdef0123456789abcdef', resumed: false, server_time: Date.now(), window: 1, subscriptions: [] }),
    )
    let release: (ok: boolean) => void = () => {}
    const decode = vi.fn(
      () =>
        new Promise<ImageBitmap>((resolve, reject) => {
          release = (ok) => (ok ? resolve({ width: 320, height: 180, close: bitmapClose } as unknown as ImageBitmap) : reject(new Error('bad jpeg')))
        }),
    )
    vi.stubGlobal('createImageBitmap', decode)
    renderWithProviders(<CameraTile camera={camera} />, { socket })
    act(() => ws().receive({ type: 'subscribed', camera: 'demo', channel: 1, epoch: 3, seq: 1 }))
    act(() => ws().receiveBinary(buildFrame({ channel: 1, epoch: 3, seq: 7, serverTime: Date.now() - 120, positionMs: 0, width: 320, height: 180 })))
    expect(acks(ws().messages())).toEqual([]) // still decoding
    await act(async () => release(true))
    // Painted (and acknowledged) when the next animation frame starts.
    await vi.waitFor(() => expect(acks(ws().messages())).toEqual([{ type: 'ack', channel: 1, seq: 7 }]))
    const canvas = screen.getByTestId('frame-demo')
    expect(Number(canvas.dataset.frameAgeMs)).toBeGreaterThanOrEqual(120)
    expect(Number(canvas.dataset.frameAgeMs)).toBeLessThan(1000)

    act(() => ws().receiveBinary(frame(8)))
    await act(async () => release(false))
    await act(idle) // given up at once
    expect(acks(ws().messages())).toEqual([
      { type: 'ack', channel: 1, seq: 7 },
      { type: 'ack', channel: 1, seq: 8 },
    ])
    expect(canvas).toHaveAttribute('data-seq', '7')
  })
})
