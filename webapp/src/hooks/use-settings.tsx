import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react'
import { readSetting, writeSetting } from '@/lib/storage'

const FORCE_MJPEG_KEY = 'livemon.forceMjpeg'

interface Settings {
  forceMjpeg: boolean
  setForceMjpeg: (on: boolean) => void
}

const SettingsContext = createContext<Settings | null>(null)

export function SettingsProvider({ children }: { children: ReactNode }) {
  const [forceMjpeg, setState] = useState(() => readSetting(FORCE_MJPEG_KEY) === '1')
  const setForceMjpeg = useCallback((on: boolean) => {
    setState(on)
    writeSetting(FORCE_MJPEG_KEY, on ? '1' : '0')
  }, [])
  const value = useMemo(() => ({ forceMjpeg, setForceMjpeg }), [forceMjpeg, setForceMjpeg])
  return <SettingsContext.Provider value={value}>{children}</SettingsContext.Provider>
}

export function useSettings(): Settings {
  const ctx = useContext(SettingsContext)
  if (!ctx) throw new Error('useSettings needs a <SettingsProvider>')
  return ctx
}
