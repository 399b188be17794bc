import { describe, expect, it } from 'vitest'
import { render } from '@testing-library/react'
import { CameraSocketProvider } from '@/hooks/use-camera-socket'
import { fakeSocketFactory, memoryStorage } from '@/test/fake-websocket'

describe('CameraSocketProvider with the shared socket', () => {
  it('connects while mounted and closes when unmounted (the sign-in form replaced the app)', () => {
    const factory = fakeSocketFactory()
    const options = {
      url: 'ws://test/api/ws',
      createWebSocket: factory.create,
      storage: memoryStorage(),
      windowTarget: null,
      documentTarget: null,
    }
    const first = render(<CameraSocketProvider options={options}>app</CameraSocketProvider>)
    expect(factory.sockets).toHaveLength(1)
    first.unmount()
    expect(factory.sockets[0]!.closedByClient).not.toBeNull()

    render(<CameraSocketProvider options={options}>app</CameraSocketProvider>)
    expect(factory.sockets).toHaveLength(2)
    expect(factory.sockets[1]!.closedByClient).toBeNull()
  })
})
