import { useEffect, useId, useState, type FormEvent, type ReactNode } from 'react'
import { ApiError, getAuthStatus, login } from '@/api/client'
import { useI18n } from '@/hooks/use-i18n'

type Phase = 'checking' | 'open' | 'login'

/**
 * Renders its children once the server lets this browser in. When the
 * server runs with --token and the browser has no valid token cookie yet,
 * it shows a sign-in form instead (the server stores the token in an
 * HttpOnly cookie, which also authorises the WebSocket and MJPEG requests).
 */
export function AuthGate({ children }: { children: ReactNode }) {
  const { t } = useI18n()
  const [phase, setPhase] = useState<Phase>('checking')
  const [token, setToken] = useState('')
  const [wrong, setWrong] = useState(false)
  const [busy, setBusy] = useState(false)
  const tokenId = useId()

  useEffect(() => {
    const ctrl = new AbortController()
    getAuthStatus({ signal: ctrl.signal })
      .then((s) => setPhase(s.required && !s.authenticated ? 'login' : 'open'))
      // An unreachable server or an old server without /api/auth: let the
      // app show its own connection state.
      .catch((err: unknown) => {
        if (!(err instanceof ApiError && err.code === 'aborted')) setPhase('open')
      })
    return () => ctrl.abort()
  }, [])

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setWrong(false)
    try {
      await login(token)
      setPhase('open')
    } catch {
      setWrong(true)
    } finally {
      setBusy(false)
    }
  }

  if (phase === 'open') return children
  if (phase === 'checking') {
    return (
      <p className="empty" role="status">
        {t('login.checking')}
      </p>
    )
  }
  return (
    <main className="page narrow" id="main">
      <h1>{t('login.title')}</h1>
      <p>{t('login.help')}</p>
      <form className="fields" onSubmit={submit}>
        <label htmlFor={tokenId}>
          {t('login.token')}
          <input
            id={tokenId}
            type="password"
            autoComplete="current-password"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            required
          />
        </label>
        <button className="button primary" type="submit" disabled={busy || token === ''}>
          {t('login.submit')}
        </button>
      </form>
      {wrong && (
        <p className="error" role="alert">
          {t('login.wrong')}
        </p>
      )}
    </main>
  )
}
