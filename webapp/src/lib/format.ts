// Small, locale-aware formatting helpers.

/** 75.4 -> "01:15"; hours are added when needed. */
export function formatPosition(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return '--:--'
  const s = Math.floor(seconds)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  const mm = String(m).padStart(2, '0')
  const ss = String(sec).padStart(2, '0')
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`
}

const units = ['B', 'KB', 'MB', 'GB', 'TB']

/** 1536 -> "1.5 KB" (decimal-free for bytes). */
export function formatBytes(bytes: number | null | undefined, locale?: string): string {
  if (bytes == null || !Number.isFinite(bytes) || bytes < 0) return '—'
  let v = bytes
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  const digits = i === 0 ? 0 : v < 10 ? 1 : 0
  return `${v.toLocaleString(locale, { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${units[i]}`
}

export function formatNumber(n: number, locale?: string, digits = 0): string {
  return n.toLocaleString(locale, { maximumFractionDigits: digits, minimumFractionDigits: digits })
}
