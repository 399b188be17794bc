import { useCallback, useEffect, useRef, useState } from 'react'

/**
 * Calls `load` now and then every `intervalMs` after the previous call
 * settled. `load` may change between renders without restarting the loop.
 * `initial` is the data until the first load settles (a value known from
 * before, so a page does not start empty).
 */
export function usePoll<T>(
  load: (signal: AbortSignal) => Promise<T>,
  intervalMs: number,
  initial?: T,
): { data: T | undefined; error: unknown; refresh: () => void } {
  const loadRef = useRef(load)
  useEffect(() => {
    loadRef.current = load
  })
  const [result, setResult] = useState<{ data: T | undefined; error: unknown }>(() => ({ data: initial, error: null }))
  const [generation, setGeneration] = useState(0)

  useEffect(() => {
    const ctrl = new AbortController()
    let timer: ReturnType<typeof setTimeout> | undefined
    const run = async () => {
      try {
        const data = await loadRef.current(ctrl.signal)
        if (!ctrl.signal.aborted) setResult({ data, error: null })
      } catch (error) {
        if (!ctrl.signal.aborted) setResult((r) => ({ data: r.data, error }))
      }
      if (!ctrl.signal.aborted) timer = setTimeout(run, intervalMs)
    }
    void run()
    return () => {
      ctrl.abort()
      clearTimeout(timer)
    }
  }, [intervalMs, generation])

  const refresh = useCallback(() => setGeneration((g) => g + 1), [])
  return { ...result, refresh }
}
