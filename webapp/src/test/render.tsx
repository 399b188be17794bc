import { render } from '@testing-library/react'
import type { ReactElement } from 'react'
import { MemoryRouter } from 'react-router'
import { CameraSocket } from '@/lib/camera-socket'
import type { Lang } from '@/lib/i18n'
import { I18nProvider } from '@/hooks/use-i18n'
import { SettingsProvider } from '@/hooks/use-settings'
import { CameraSocketProvider } from '@/hooks/use-camera-socket'
import { fakeSocketFactory, memoryStorage } from '@/test/fake-websocket'

/** A CameraSocket on a fake WebSocket, not yet connected. */
export function testSocket() {
  const factory = fakeSocketFactory()
  const socket = new CameraSocket({
    url: 'ws://test/api/ws',
    createWebSocket: factory.create,
    storage: memoryStorage(),
    windowTarget: null,
    documentTarget: null,
    random: () => 0.5,
  })
  return { socket, factory }
}

/** A test socket that is open and welcomed; `ws()` is its current fake WebSocket. */
export function connectedTestSocket() {
  const { socket, factory } = testSocket()
  socket.connect()
  factory.last.open()
  factory.last.receive({ type: 'welcome', session: '0123456789abcdef0123456789abcdef', resumed: false, subscriptions: [] })
  return { socket, ws: () => factory.last, factory }
}

export function renderWithProviders(
  ui: ReactElement,
  { route = '/', lang = 'en', socket }: { route?: string; lang?: Lang; socket?: CameraSocket } = {},
) {
  const s = socket ?? testSocket().socket
  return {
    socket: s,
    ...render(
      <I18nProvider lang={lang}>
        <SettingsProvider>
          <CameraSocketProvider socket={s}>
            <MemoryRouter initialEntries={[route]}>{ui}</MemoryRouter>
          </CameraSocketProvider>
        </SettingsProvider>
      </I18nProvider>,
    ),
  }
}
