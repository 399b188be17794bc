// Translation: language choice, placeholders and error texts. The strings
// themselves are in i18n/en.ts and i18n/ko.ts.
import { isKnownErrorCode } from '@/api/client'
import type { SourceKind } from '@/types/api'
import { en, type MessageKey } from '@/lib/i18n/en'
import { ko } from '@/lib/i18n/ko'

export type { MessageKey }

export type Lang = 'en' | 'ko'
export const LANGS: readonly Lang[] = ['en', 'ko']
export const LANG_KEY = 'livemon.lang'

export const messages: Record<Lang, Record<MessageKey, string>> = { en, ko }

export type Vars = Record<string, string | number>
export type Translate = (key: MessageKey, vars?: Vars) => string

export function translate(lang: Lang, key: MessageKey, vars?: Vars): string {
  const template = messages[lang][key] ?? messages.en[key] ?? key
  if (!vars) return template
  return template.replace(/\{(\w+)\}/g, (m, name: string) =>
    name in vars ? String(vars[name]) : m,
  )
}

export function isLang(v: unknown): v is Lang {
  return v === 'en' || v === 'ko'
}

/** Stored choice first, then the browser language (ko* → Korean), else English. */
export function detectLang(stored: string | null | undefined, navigatorLanguages: readonly string[]): Lang {
  if (isLang(stored)) return stored
  const first = navigatorLanguages.find((l) => typeof l === 'string' && l.length > 0)
  return first?.toLowerCase().startsWith('ko') ? 'ko' : 'en'
}

/**
 * A localized sentence for an API error code; codes without a text of their
 * own get the generic one with the server's message. With a Retry-After,
 * says when to try again.
 */
export function errorText(t: Translate, code: string, message = '', retryAfterSeconds: number | null = null): string {
  const text = isKnownErrorCode(code)
    ? t(`error.${code}`, { message })
    : t('error.unknown', { message: message || code })
  return retryAfterSeconds === null ? text : `${text} ${t('common.retryAfter', { n: Math.max(1, retryAfterSeconds) })}`
}

/** What a camera goes on showing after an upload to it failed. */
export type UploadFallback = 'video' | 'live' | 'none'

/** The message shown when an upload failed: the reason, then what the camera keeps showing. */
export function uploadErrorText(
  t: Translate,
  code: string,
  message = '',
  retryAfterSeconds: number | null = null,
  keeps: UploadFallback = 'video',
): string {
  const reason = errorText(t, code, message, retryAfterSeconds)
  if (keeps === 'none') return reason
  return `${reason} ${t(keeps === 'live' ? 'upload.keepsLive' : 'upload.keepsPlaying')}`
}

/** "Last frame 3 s ago" for a frame age in ms; null = no frame yet. */
export function lastFrameText(t: Translate, ageMs: number | null): string {
  if (ageMs == null || !Number.isFinite(ageMs)) return t('age.never')
  const s = Math.floor(Math.max(0, ageMs) / 1000)
  if (s < 1) return t('age.now')
  return s < 120 ? t('age.seconds', { n: s }) : t('age.minutes', { n: Math.floor(s / 60) })
}

const SOURCE_KINDS: ReadonlySet<string> = new Set<SourceKind>(['file', 'http', 'mjpeg', 'snapshot', 'rtsp'])

/** "MJPEG stream", "JPEG snapshots", "Detecting…"; a kind from a newer server as it is. */
export function sourceKindText(t: Translate, kind: string): string {
  return SOURCE_KINDS.has(kind) ? t(`source.${kind as SourceKind}`) : kind
}
