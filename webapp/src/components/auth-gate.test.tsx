import { afterEach, describe, expect, it, vi } from 'vitest'
import { render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { I18nProvider } from '@/hooks/use-i18n'
import { AuthGate } from '@/components/auth-gate'

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

function renderGate() {
  return render(
    <I18nProvider lang="en">
      <AuthGate>
        <p>the app</p>
      </AuthGate>
    </I18nProvider>,
  )
}

describe('AuthGate', () => {
  afterEach(() => vi.unstubAllGlobals())

  it('shows the app when no token is required', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => json(200, { required: false, authenticated: true })))
    renderGate()
    expect(await screen.findByText('the app')).toBeInTheDocument()
  })

  it('asks for the token, rejects a wrong one and lets a right one in', async () => {
    const fetchMock = vi.fn(async (url: string, init?: RequestInit) => {
      if (url === '/api/auth') return json(200, { required: true, authenticated: false })
      const { token } = JSON.parse(String(init?.body)) as { token: string }
      return token === 'right'
        ? json(200, { ok: true })
        : json(401, { error: { code: 'unauthorized', message: 'a valid access token is required' } })
    })
    vi.stubGlobal('fetch', fetchMock)
    renderGate()
    const input = await screen.findByLabelText('Access token')
    expect(screen.queryByText('the app')).not.toBeInTheDocument()
    await userEvent.type(input, 'wrong')
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }))
    expect(await screen.findByRole('alert')).toHaveTextContent('That token is not valid.')
    await userEvent.clear(input)
    await userEvent.type(input, 'right')
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }))
    expect(await screen.findByText('the app')).toBeInTheDocument()
  })
})
