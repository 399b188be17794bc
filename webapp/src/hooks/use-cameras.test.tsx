import { act, renderHook, waitFor } from '@testing-library/react'
import type { ReactNode } from 'react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CameraSocketProvider } from '@/hooks/use-camera-socket'
import { useCameras } from '@/hooks/use-cameras'
import { testSocket } from '@/test/render'

afterEach(() => vi.unstubAllGlobals())

describe('useCameras', () => {
  it('applies camera events from the socket at once, then refetches', async () => {
    let state = 'running'
    const fetchMock = vi.fn(async () =>
      new Response(JSON.stringify({ cameras: [{ id: 'a', name: 'A', state }] }), { status: 200 }),
    )
    vi.stubGlobal('fetch', fetchMock)
    const { socket, factory } = testSocket()
    socket.connect()
    factory.last.open()
    factory.last.receive({ type: 'welcome', session: '0123456789abcdef0123456789abcdef', resumed: false, subscriptions: [] })
    const wrapper = ({ children }: { children: ReactNode }) => (
      <CameraSocketProvider socket={socket}>{children}</CameraSocketProvider>
    )
    const { result, unmount } = renderHook(() => useCameras(60_000), { wrapper })
    await waitFor(() => expect(result.current.cameras?.[0]?.state).toBe('running'))
    expect(fetchMock).toHaveBeenCalledTimes(1)

    // The refetch after the event answers slowly; the event shows at once.
    let release: () => void = () => {}
    fetchMock.mockImplementationOnce(
      () =>
        new Promise<Response>((resolve) => {
          release = () =>
            resolve(new Response(JSON.stringify({ cameras: [{ id: 'a', name: 'A', state: 'stopped' }] }), { status: 200 }))
        }),
    )
    state = 'stopped'
    act(() => {
      factory.last.receive({ type: 'event', event: 'state', camera: 'a', camera_state: { id: 'a', name: 'A', state: 'stopped' } })
    })
    expect(result.current.cameras?.[0]?.state).toBe('stopped')
    await waitFor(() => expect(fetchMock).toHaveBeenCalledTimes(2))
    await act(async () => release())
    expect(result.current.cameras?.[0]?.state).toBe('stopped')

    act(() => {
      factory.last.receive({ type: 'event', event: 'deleted', camera: 'a' })
    })
    expect(result.current.cameras).toEqual([])
    unmount()
  })
})
