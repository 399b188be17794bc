import { screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import { LANG_KEY } from '@/lib/i18n'
import { connectedTestSocket, renderWithProviders } from '@/test/render'
import { CameraSocket } from '@/lib/camera-socket'
import { fakeSocketFactory, memoryStorage } from '@/test/fake-websocket'
import { AppHeader } from '@/components/app-header'

describe('AppHeader', () => {
  it('switches every string to Korean and remembers the choice', async () => {
    const user = userEvent.setup()
    renderWithProviders(<AppHeader />, { lang: 'en' })
    const nav = screen.getByRole('navigation', { name: 'Main' })
    expect(nav).toHaveTextContent('Live')
    expect(screen.getByRole('link', { name: 'Cameras' })).toHaveAttribute('href', '/cameras')
    expect(screen.getByRole('link', { name: 'Upload' })).toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'Status' })).toBeInTheDocument()
    expect(screen.getByLabelText('Force MJPEG')).not.toBeChecked()

    await user.selectOptions(screen.getByLabelText('Language'), 'ko')

    expect(screen.getByRole('navigation', { name: '주 메뉴' })).toBeInTheDocument()
    expect(screen.getByRole('link', { name: '카메라' })).toBeInTheDocument()
    expect(screen.getByRole('link', { name: '업로드' })).toBeInTheDocument()
    expect(screen.getByRole('link', { name: '상태' })).toBeInTheDocument()
    expect(screen.getByLabelText('언어')).toHaveValue('ko')
    expect(screen.queryByText('Cameras')).not.toBeInTheDocument()
    expect(localStorage.getItem(LANG_KEY)).toBe('ko')
    expect(document.documentElement.lang).toBe('ko')
  })

  it('persists the force-MJPEG setting', async () => {
    const user = userEvent.setup()
    renderWithProviders(<AppHeader />)
    await user.click(screen.getByLabelText('Force MJPEG'))
    expect(screen.getByLabelText('Force MJPEG')).toBeChecked()
    expect(localStorage.getItem('livemon.forceMjpeg')).toBe('1')
  })

  it('says which edge the socket is on when it is not the page’s own server (en, ko)', () => {
    const { socket } = connectedTestSocket() // ws://test: another host than the page's
    const { unmount } = renderWithProviders(<AppHeader />, { socket })
    expect(screen.getByText('via test')).toHaveAttribute('data-endpoint', 'test')
    unmount()
    renderWithProviders(<AppHeader />, { socket, lang: 'ko' })
    expect(screen.getByText('test 경유')).toBeInTheDocument()
  })

  it('shows no edge while the socket is on the page’s own server', () => {
    const factory = fakeSocketFactory()
    const socket = new CameraSocket({
      url: `ws://${location.host}/api/ws`,
      createWebSocket: factory.create,
      storage: memoryStorage(),
      windowTarget: null,
      documentTarget: null,
    })
    socket.connect()
    factory.last.open()
    factory.last.receive({ type: 'welcome', session: '0123456789abcdef0123456789abcdef', resumed: false, subscriptions: [] })
    renderWithProviders(<AppHeader />, { socket })
    expect(screen.getByText('Connected')).toBeInTheDocument()
    expect(document.querySelector('.conn-via')).toBeNull()
  })
})
