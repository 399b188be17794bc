import { NavLink } from 'react-router'
import { useI18n } from '@/hooks/use-i18n'
import { useSettings } from '@/hooks/use-settings'
import { useSocketStatus } from '@/hooks/use-camera-socket'
import { LanguageSelect } from '@/components/language-select'

export function AppHeader() {
  const { t } = useI18n()
  const { forceMjpeg, setForceMjpeg, forceFull, setForceFull } = useSettings()
  const socket = useSocketStatus()
  const connText = t(`conn.${socket.state}`, { n: socket.attempt })
  // In a cluster the socket may be on another edge than the page's own.
  const via = socket.endpoint && socket.endpoint !== globalThis.location?.host ? socket.endpoint : null

  return (
    <header className="app-header">
      <a className="skip-link" href="#main">
        {t('skip.main')}
      </a>
      <NavLink to="/" className="brand">
        <span className="brand-mark" aria-hidden="true" />
        {t('app.name')}
      </NavLink>
      <nav aria-label={t('nav.label')} className="app-nav">
        <NavLink to="/" end>
          {t('nav.live')}
        </NavLink>
        <NavLink to="/cameras" end>
          {t('nav.cameras')}
        </NavLink>
        <NavLink to="/upload">{t('nav.upload')}</NavLink>
        <NavLink to="/status">{t('nav.status')}</NavLink>
      </nav>
      <div className="header-tools">
        <span
          className={`conn conn-${socket.state}`}
          data-connection={socket.state}
          title={t('header.connection', { state: connText })}
          aria-live="polite"
        >
          <span className="conn-dot" aria-hidden="true" />
          <span className="conn-text">{connText}</span>
          {via && (
            <span className="conn-via" data-endpoint={via} title={t('conn.viaHelp', { host: via })}>
              {t('conn.via', { host: via })}
            </span>
          )}
        </span>
        <label className="check">
          <input type="checkbox" checked={forceMjpeg} onChange={(e) => setForceMjpeg(e.target.checked)} />
          {t('header.forceMjpeg')}
        </label>
        <label className="check" title={t('header.forceFullHelp')}>
          <input type="checkbox" checked={forceFull} onChange={(e) => setForceFull(e.target.checked)} />
          {t('header.forceFull')}
        </label>
        <LanguageSelect />
      </div>
    </header>
  )
}
