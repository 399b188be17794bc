import { LANGS, type Lang } from '@/lib/i18n'
import { useI18n } from '@/hooks/use-i18n'

const langNames: Record<Lang, string> = { en: 'English', ko: '한국어' }

/** The UI language picker (header and sign-in page). */
export function LanguageSelect() {
  const { t, lang, setLang } = useI18n()
  return (
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
  )
}
