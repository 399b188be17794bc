import { NavLink } from 'react-router'
import { LANGS, type Lang } from '@/lib/i18n'
import { useI18n } from '@/hooks/use-i18n'
import { useSettings } from '@/hooks/use-settings'
import { useSocketStatus } from '@/hooks/use-camera-socket'

const langNames: Record<Lang, string> = { en: 'English', ko: '한국어' }

export function AppHeader() {
  const { t, lang, setLang } = useI18n()
  const { forceMjpeg, setForceMjpeg } = useSettings()
  const socket = useSocketStatus()
  const connText = t(`conn.${socket.state}`, { n: socket.attempt })

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
        </span>
        <label className="check">
          <input type="checkbox" checked={forceMjpeg} onChange={(e) => setForceMjpeg(e.target.checked)} />
          {t('header.forceMjpeg')}
        </label>
        <label className="lang">
          <span className="visually-hidden">{t('header.language')}</span>
          <select value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
            {LANGS.map((l) => (
              <option key={l} value={l} lang={l}>
                {langNames[l]}
              </option>
            ))}
          </select>
        </label>
      </div>
    </header>
  )
}
