import { ApiError } from '@/api/client'
import { errorText } from '@/lib/i18n'
import { useI18n } from '@/hooks/use-i18n'

/** A localized role=alert message for any thrown error (null renders nothing). */
export function ErrorMessage({ error, prefix }: { error: unknown; prefix?: (text: string) => string }) {
  const { t } = useI18n()
  if (!error) return null
  const text =
    error instanceof ApiError
      ? errorText(t, error.code, error.message, error.retryAfterSeconds)
      : errorText(t, 'unknown', error instanceof Error ? error.message : String(error))
  return (
    <p role="alert" className="message message-error">
      {prefix ? prefix(text) : text}
    </p>
  )
}
