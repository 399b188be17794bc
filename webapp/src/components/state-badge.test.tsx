import { render, screen } from '@testing-library/react'
import { describe, expect, it } from 'vitest'
import { I18nProvider } from '@/hooks/use-i18n'
import type { Lang } from '@/lib/i18n'
import { TILE_STATES, type TileState } from '@/lib/tile-state'
import { StateBadge } from '@/components/state-badge'

const texts: Record<Lang, Record<TileState, string>> = {
  en: {
    live: 'Live',
    connecting: 'Connecting',
    reconnecting: 'Reconnecting (attempt 4)',
    offline: 'Offline',
    stopped: 'Stopped',
    ended: 'Ended',
    error: 'Error',
  },
  ko: {
    live: '실시간',
    connecting: '연결 중',
    reconnecting: '재연결 중 (시도 4)',
    offline: '오프라인',
    stopped: '정지됨',
    ended: '종료됨',
    error: '오류',
  },
}

describe('StateBadge', () => {
  for (const lang of ['en', 'ko'] as const) {
    it.each(TILE_STATES)(`renders role=status with data-state=%s (${lang})`, (state) => {
      render(
        <I18nProvider lang={lang}>
          <StateBadge state={state} attempt={4} />
        </I18nProvider>,
      )
      const badge = screen.getByRole('status')
      expect(badge).toHaveAttribute('data-state', state)
      expect(badge).toHaveTextContent(texts[lang][state])
    })
  }
})
