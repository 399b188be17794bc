import { afterEach, describe, expect, it, vi } from 'vitest'
import { render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { listCameras } from '@/api/client'
import type { Lang } from '@/lib/i18n'
import { I18nProvider } from '@/hooks/use-i18n'
import { AuthGate } from '@/components/auth-gate'

function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  })
}

const unauthorized = () => json(401, { error: { code: 'unauthorized', message: 'a valid access token is required' } })

/** A stand-in for the app that makes one API call on demand. */
function FakeApp() {
  return (
    <>
      <p>the app</p>
      <button type="button" onClick={() => void listCameras().catch(() => {})}>
        load cameras
      </button>
    </>
  )
}

function renderGate(lang: Lang = 'en') {
  return render(
    <I18nProvider lang={lang}>
      <AuthGate>
        <FakeApp />
      </AuthGate>
    </I18nProvider>,
  )
}

/** fetch for a server with --token "right": /api/auth and /api/login behave like the real ones. */
function tokenServer(opts: { auth?: () => Response; cameras?: () => Response } = {}) {
  let signedIn = false
  return vi.fn(async (url: string, init?: RequestInit) => {
    if (url === '/api/auth') return opts.auth?.() ?? json(200, { required: true, authenticated: signedIn })
    if (url === '/api/login') {
      const { token } = JSON.parse(String(init?.body)) as { token: string }
      if (token !== 'right') return unauthorized()
      signedIn = true
      return json(200, { ok: true, required: true })
    }
    if (url === '/api/cameras') return opts.cameras?.() ?? json(200, { cameras: [] })
    return json(404, { error: { code: 'not_found', message: 'not found' } })
  })
}

async function signIn(token: string) {
  const input = await screen.findByLabelText(/Access token|접근 토큰/)
  await userEvent.clear(input)
  await userEvent.type(input, token)
  await userEvent.click(screen.getByRole('button', { name: /Sign in|로그인/ }))
}

describe('AuthGate', () => {
  afterEach(() => vi.unstubAllGlobals())

  it('shows the app when no token is required', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => json(200, { required: false, authenticated: true })))
    renderGate()
    expect(await screen.findByText('the app')).toBeInTheDocument()
  })

  it('shows the app at once when the cookie is already valid (a reload stays signed in)', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => json(200, { required: true, authenticated: true })))
    renderGate()
    expect(await screen.findByText('the app')).toBeInTheDocument()
    expect(screen.queryByLabelText('Access token')).not.toBeInTheDocument()
  })

  it('asks for the token, says a wrong one is wrong and lets the right one in', async () => {
    vi.stubGlobal('fetch', tokenServer())
    renderGate()
    await signIn('wrong')
    expect(await screen.findByRole('alert')).toHaveTextContent('Wrong token. Check it and try again.')
    expect(screen.queryByText('the app')).not.toBeInTheDocument()
    await signIn('right')
    expect(await screen.findByText('the app')).toBeInTheDocument()
  })

  it('says "wrong token" in Korean', async () => {
    vi.stubGlobal('fetch', tokenServer())
    renderGate('ko')
    expect(await screen.findByRole('heading', { name: '로그인' })).toBeInTheDocument()
    await signIn('wrong')
    expect(await screen.findByRole('alert')).toHaveTextContent('토큰이 틀렸습니다.')
  })

  it('shows the form when /api/auth itself answers 401 (a server where it is not public)', async () => {
    vi.stubGlobal('fetch', tokenServer({ auth: unauthorized }))
    renderGate()
    expect(await screen.findByLabelText('Access token')).toBeInTheDocument()
    expect(screen.queryByText('the app')).not.toBeInTheDocument()
    await signIn('right')
    expect(await screen.findByText('the app')).toBeInTheDocument()
  })

  it.each([
    ['a network error', () => Promise.reject(new TypeError('Failed to fetch')), 'The server cannot be reached.'],
    ['a server error', async () => json(500, { error: { code: 'internal', message: 'x' } }), 'internal error'],
    ['an answer that is not JSON', async () => new Response('<!doctype html>', { status: 200 }), 'an answer this app does not understand'],
    ['JSON that is not the auth status', async () => json(200, {}), 'an answer this app does not understand'],
  ])('shows a retry, not the app, on %s', async (_name, failing, text) => {
    let fail = true
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => (fail ? failing() : json(200, { required: false, authenticated: true }))),
    )
    renderGate()
    const alert = await screen.findByRole('alert')
    expect(alert).toHaveTextContent('Could not check whether this server needs sign-in.')
    expect(alert).toHaveTextContent(text)
    expect(screen.queryByText('the app')).not.toBeInTheDocument()
    expect(screen.queryByLabelText('Access token')).not.toBeInTheDocument()
    fail = false
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }))
    expect(await screen.findByText('the app')).toBeInTheDocument()
  })

  it('shows the wait from Retry-After when sign-in is rate limited, and blocks the button', async () => {
    const server = tokenServer()
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init?: RequestInit) =>
        url === '/api/login'
          ? json(429, { error: { code: 'rate_limited', message: 'too many' } }, { 'Retry-After': '42' })
          : server(url, init),
      ),
    )
    renderGate()
    await signIn('guess')
    expect(await screen.findByRole('alert')).toHaveTextContent('Try again in 42 s.')
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeDisabled()
  })

  it('brings the form back when a later API call answers 401 (token changed on the server)', async () => {
    let tokenChanged = false
    vi.stubGlobal('fetch', tokenServer({ cameras: () => (tokenChanged ? unauthorized() : json(200, { cameras: [] })) }))
    renderGate()
    await signIn('right')
    await userEvent.click(await screen.findByRole('button', { name: 'load cameras' }))
    expect(screen.getByText('the app')).toBeInTheDocument()
    tokenChanged = true
    await userEvent.click(screen.getByRole('button', { name: 'load cameras' }))
    expect(await screen.findByLabelText('Access token')).toBeInTheDocument()
    expect(screen.getByText(/You were signed out/)).toBeInTheDocument()
    expect(screen.queryByText('the app')).not.toBeInTheDocument()
  })
})
