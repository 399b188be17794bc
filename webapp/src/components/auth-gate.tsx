import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react'
import { ApiError, getAuthStatus, login, onUnauthorized } from '@/api/client'
import { errorText, type Translate } from '@/lib/i18n'
import { useI18n } from '@/hooks/use-i18n'
import { ErrorMessage } from '@/components/error-message'
import { LanguageSelect } from '@/components/language-select'

type Gate =
  | { phase: 'checking' }
  | { phase: 'open' }
  /** expired: the browser was signed in and an API call then answered 401. */
  | { phase: 'login'; expired: boolean }
  /** /api/auth could not be asked (network, server error): offer a retry. */
  | { phase: 'failed'; error: unknown }

/**
 * Renders its children once the server lets this browser in. GET /api/auth
 * says whether a token is required and whether this browser's cookie holds
 * a valid one; a 401 from it (a server where /api/auth is not public) also
 * means "sign in". Any other failure shows a retry, never the app. The
 * server keeps the token in an HttpOnly cookie, which also authorises the
 * WebSocket and MJPEG requests. A 401 from any later API call (the token
 * changed on the server) brings the form back.
 */
export function AuthGate({ children }: { children: ReactNode }) {
  const { t } = useI18n()
  const [gate, setGate] = useState<Gate>({ phase: 'checking' })
  const [check, setCheck] = useState(0)

  useEffect(() => {
    const ctrl = new AbortController()
    getAuthStatus({ signal: ctrl.signal })
      .then((s) => {
        if (typeof s?.required !== 'boolean' || typeof s.authenticated !== 'boolean') {
          throw new ApiError(200, 'bad_response', 'unexpected answer from /api/auth')
        }
        setGate(s.required && !s.authenticated ? { phase: 'login', expired: false } : { phase: 'open' })
      })
      .catch((err: unknown) => {
        if (ctrl.signal.aborted) return
        if (err instanceof ApiError && err.status === 401) setGate({ phase: 'login', expired: false })
        else setGate({ phase: 'failed', error: err })
      })
    return () => ctrl.abort()
  }, [check])

  useEffect(() => {
    if (gate.phase !== 'open') return
    return onUnauthorized(() => setGate({ phase: 'login', expired: true }))
  }, [gate.phase])

  switch (gate.phase) {
    case 'open':
      return children
    case 'checking':
      return (
        <p className="empty" role="status" data-auth="checking">
          {t('login.checking')}
        </p>
      )
    case 'failed':
      return (
        <AuthPage phase="failed" title={t('app.name')}>
          <ErrorMessage error={gate.error} prefix={(text) => t('login.checkFailed', { message: text })} />
          <p>
            <button
              className="button primary"
              type="button"
              onClick={() => {
                setGate({ phase: 'checking' })
                setCheck((c) => c + 1)
              }}
            >
              {t('login.retry')}
            </button>
          </p>
        </AuthPage>
      )
    case 'login':
      return (
        <AuthPage phase="login" title={t('login.title')}>
          <SignInForm expired={gate.expired} onSignedIn={() => setGate({ phase: 'open' })} />
        </AuthPage>
      )
  }
}

function AuthPage({ phase, title, children }: { phase: string; title: string; children: ReactNode }) {
  const { t } = useI18n()
  return (
    <main className="page narrow auth-page" id="main" data-auth={phase}>
      <div className="auth-top">
        <span className="brand">
          <span className="brand-mark" aria-hidden="true" />
          {t('app.name')}
        </span>
        <LanguageSelect />
      </div>
      <h1>{title}</h1>
      {children}
    </main>
  )
}

/** The sentence shown when POST /api/login failed. */
function signInErrorText(t: Translate, err: unknown): string {
  if (!(err instanceof ApiError)) return errorText(t, 'unknown', String(err))
  if (err.status === 401) return t('login.wrong')
  if (err.status === 429 && err.retryAfterSeconds !== null) {
    return t('login.rateLimited', { n: Math.max(1, err.retryAfterSeconds) })
  }
  return errorText(t, err.code, err.message)
}

function SignInForm({ expired, onSignedIn }: { expired: boolean; onSignedIn: () => void }) {
  const { t } = useI18n()
  const [token, setToken] = useState('')
  const [failure, setFailure] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  // After a 429 the button stays disabled for the Retry-After seconds.
  const [blocked, setBlocked] = useState(false)
  const blockTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  const tokenId = useId()
  useEffect(() => () => clearTimeout(blockTimer.current), [])

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setFailure(null)
    try {
      await login(token)
      onSignedIn()
      return
    } catch (err) {
      setFailure(err)
      if (err instanceof ApiError && err.status === 429 && err.retryAfterSeconds) {
        setBlocked(true)
        clearTimeout(blockTimer.current)
        blockTimer.current = setTimeout(() => setBlocked(false), err.retryAfterSeconds * 1000)
      }
    }
    setBusy(false)
  }

  return (
    <>
      <p>{t('login.help')}</p>
      {expired && (
        <p className="message message-error" role="status">
          {t('login.expired')}
        </p>
      )}
      <form className="fields" onSubmit={submit}>
        <label htmlFor={tokenId}>
          {t('login.token')}
          <input
            id={tokenId}
            type="password"
            autoComplete="current-password"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            aria-invalid={failure ? true : undefined}
            required
          />
        </label>
        <button className="button primary" type="submit" disabled={busy || blocked || token === ''}>
          {t('login.submit')}
        </button>
      </form>
      {failure !== null && (
        <p className="message message-error" role="alert">
          {signInErrorText(t, failure)}
        </p>
      )}
    </>
  )
}
