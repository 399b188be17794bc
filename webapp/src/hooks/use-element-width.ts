import { useEffect, useState, type RefObject } from 'react'

/**
 * The element's width on screen in device pixels (CSS width times the
 * device pixel ratio), following resizes; 0 until measured or where
 * ResizeObserver is missing.
 */
export function useDevicePixelWidth(ref: RefObject<Element | null>): number {
  const [width, setWidth] = useState(0)
  useEffect(() => {
    const el = ref.current
    if (!el || typeof ResizeObserver !== 'function') return
    const measure = () => {
      const w = Math.round(el.getBoundingClientRect().width * (globalThis.devicePixelRatio || 1))
      setWidth((old) => (old === w ? old : w))
    }
    const ro = new ResizeObserver(measure)
    ro.observe(el)
    measure()
    return () => ro.disconnect()
  }, [ref])
  return width
}
