import { useI18n } from '@/hooks/use-i18n'
import type { TileState } from '@/lib/tile-state'

/** The tile's state, for people and for tests: role="status" + data-state. */
export function StateBadge({ state, attempt = 0 }: { state: TileState; attempt?: number }) {
  const { t } = useI18n()
  return (
    <span role="status" className={`badge badge-${state}`} data-state={state} data-attempt={attempt}>
      <span className="badge-dot" aria-hidden="true" />
      {t(`state.${state}`, { n: attempt })}
    </span>
  )
}
