import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react'
import { readSetting, writeSetting } from '@/lib/storage'

const FORCE_MJPEG_KEY = 'livemon.forceMjpeg'
/** Grid tiles get the full rendition too (docs/protocol.md, Renditions). */
export const FORCE_FULL_KEY = 'livemon.forceFull'

interface Settings {
  forceMjpeg: boolean
  setForceMjpeg: (on: boolean) => void
  forceFull: boolean
  setForceFull: (on: boolean) => void
}

const SettingsContext = createContext<Settings | null>(null)

/** A boolean setting kept in localStorage as '1' / '0'. */
function useStoredFlag(key: string): [boolean, (on: boolean) => void] {
  const [on, setState] = useState(() => readSetting(key) === '1')
  const set = useCallback(
    (value: boolean) => {
      setState(value)
      writeSetting(key, value ? '1' : '0')
    },
    [key],
  )
  return [on, set]
}

export function SettingsProvider({ children }: { children: ReactNode }) {
  const [forceMjpeg, setForceMjpeg] = useStoredFlag(FORCE_MJPEG_KEY)
  const [forceFull, setForceFull] = useStoredFlag(FORCE_FULL_KEY)
  const value = useMemo(
    () => ({ forceMjpeg, setForceMjpeg, forceFull, setForceFull }),
    [forceMjpeg, setForceMjpeg, forceFull, setForceFull],
  )
  return <SettingsContext.Provider value={value}>{children}</SettingsContext.Provider>
}

export function useSettings(): Settings {
  const ctx = useContext(SettingsContext)
  if (!ctx) throw new Error('useSettings needs a <SettingsProvider>')
  return ctx
}
