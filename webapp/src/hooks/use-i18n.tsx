import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react'
import { detectLang, LANG_KEY, translate, type Lang, type Translate } from '@/lib/i18n'
import { readSetting, writeSetting } from '@/lib/storage'

interface I18n {
  lang: Lang
  setLang: (lang: Lang) => void
  t: Translate
}

const I18nContext = createContext<I18n | null>(null)

function initialLang(): Lang {
  const nav = globalThis.navigator
  const langs = nav?.languages?.length ? nav.languages : [nav?.language ?? 'en']
  return detectLang(readSetting(LANG_KEY), langs)
}

export function I18nProvider({ lang: forced, children }: { lang?: Lang; children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(() => forced ?? initialLang())
  const setLang = useCallback((next: Lang) => {
    setLangState(next)
    writeSetting(LANG_KEY, next)
  }, [])
  useEffect(() => {
    document.documentElement.lang = lang
  }, [lang])
  const value = useMemo<I18n>(
    () => ({ lang, setLang, t: (key, vars) => translate(lang, key, vars) }),
    [lang, setLang],
  )
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>
}

export function useI18n(): I18n {
  const ctx = useContext(I18nContext)
  if (!ctx) throw new Error('useI18n needs an <I18nProvider>')
  return ctx
}
