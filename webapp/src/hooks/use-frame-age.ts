import { useEffect, useState } from 'react'

/**
 * A frame age from the server (`last_frame_age_ms`) that keeps counting up
 * every second between two camera list updates; null stays null.
 */
export function useFrameAge(ageMs: number | null, enabled = true): number | null {
  const [extra, setExtra] = useState<{ base: number | null; ms: number }>({ base: ageMs, ms: 0 })
  useEffect(() => {
    if (!enabled || ageMs == null) return
    const start = Date.now()
    const id = setInterval(() => setExtra({ base: ageMs, ms: Date.now() - start }), 1000)
    return () => clearInterval(id)
  }, [ageMs, enabled])
  if (ageMs == null) return null
  return ageMs + (extra.base === ageMs ? extra.ms : 0)
}
