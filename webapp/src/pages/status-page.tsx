import { getHealth, getStats } from '@/api/client'
import { formatBytes, formatNumber } from '@/lib/format'
import { isLiveCamera } from '@/lib/camera-settings'
import { sourceKindText, type Translate } from '@/lib/i18n'
import { useI18n } from '@/hooks/use-i18n'
import { useSocketStatus } from '@/hooks/use-camera-socket'
import { usePoll } from '@/hooks/use-poll'
import { ErrorMessage } from '@/components/error-message'

const STATUS_POLL_MS = 2000

function formatUptime(t: Translate, total: number): string {
  const d = Math.floor(total / 86400)
  const h = Math.floor((total % 86400) / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = Math.floor(total % 60)
  return d || h ? t('status.uptimeValue', { d, h, m, s }) : t('status.uptimeShort', { m, s })
}

export function StatusPage() {
  const { t, lang } = useI18n()
  const socket = useSocketStatus()
  const health = usePoll((signal) => getHealth({ signal }), STATUS_POLL_MS)
  const stats = usePoll((signal) => getStats({ signal }), STATUS_POLL_MS)

  const reachable = health.error ? false : health.data ? true : null
  const server = stats.data?.server

  return (
    <section className="page">
      <h1>{t('status.title')}</h1>
      <div className="status-cards">
        <section className="panel" aria-labelledby="status-server">
          <h2 id="status-server">{t('status.server')}</h2>
          <p className={`health health-${reachable === null ? 'unknown' : reachable ? 'ok' : 'down'}`} data-reachable={String(reachable)}>
            <span className="conn-dot" aria-hidden="true" />
            {reachable === null ? t('status.checking') : reachable ? t('status.reachable') : t('status.unreachable')}
          </p>
          {server && (
            <dl className="info">
              <dt>{t('status.version')}</dt>
              <dd>{server.version}</dd>
              <dt>{t('status.uptime')}</dt>
              <dd>{formatUptime(t, server.uptime_s)}</dd>
              <dt>{t('status.sessions')}</dt>
              <dd>{server.sessions}</dd>
              <dt>{t('status.wsConnections')}</dt>
              <dd>{server.ws_connections}</dd>
            </dl>
          )}
        </section>
        <section className="panel" aria-labelledby="status-ws">
          <h2 id="status-ws">{t('status.websocket')}</h2>
          <dl className="info">
            <dt>{t('status.connection')}</dt>
            <dd data-connection={socket.state}>{t(`conn.${socket.state}`, { n: socket.attempt })}</dd>
            <dt>{t('status.endpoint')}</dt>
            <dd>
              <code data-testid="socket-endpoint">{socket.endpoint ?? '—'}</code>
            </dd>
            <dt>{t('status.session')}</dt>
            <dd>
              <code data-testid="session-id">{socket.sessionId ?? t('status.noSession')}</code>
            </dd>
          </dl>
        </section>
      </div>

      <section aria-labelledby="status-cameras">
        <h2 id="status-cameras">{t('status.cameras')}</h2>
        {stats.error != null && (
          <ErrorMessage error={stats.error} prefix={(m) => t('status.statsError', { message: m })} />
        )}
        {!stats.data && stats.error == null && <p className="muted">{t('common.loading')}</p>}
        {stats.data && stats.data.cameras.length === 0 && <p className="muted">{t('status.noCameras')}</p>}
        {stats.data && stats.data.cameras.length > 0 && (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">{t('status.camera')}</th>
                  <th scope="col">{t('status.decoder')}</th>
                  <th scope="col">{t('status.lastFrame')}</th>
                  <th scope="col">{t('status.video')}</th>
                  <th scope="col">{t('status.viewers')}</th>
                  <th scope="col">{t('status.errors')}</th>
                </tr>
              </thead>
              <tbody>
                {stats.data.cameras.map((c) => (
                  <tr key={c.id} data-camera-stats={c.id}>
                    <th scope="row">
                      <code>{c.id}</code>
                    </th>
                    <td>
                      <span className={`run run-${c.state}`}>{t(`run.${c.state}`)}</span>
                      <div className="muted small">
                        {formatNumber(c.fps ?? 0, lang, 1)} fps · {t('status.restarts', { n: c.restarts ?? 0 })}
                      </div>
                      {c.error && (
                        <div className="camera-error small" data-camera-error>
                          {t('status.problem', { message: c.error })}
                        </div>
                      )}
                    </td>
                    <td>
                      {c.last_frame_age_ms == null
                        ? t('status.never')
                        : c.last_frame_age_ms < 10_000
                          ? t('status.ago', { n: Math.round(c.last_frame_age_ms) })
                          : t('status.agoSeconds', { n: Math.round(c.last_frame_age_ms / 1000) })}
                    </td>
                    <td>
                      {isLiveCamera(c)
                        ? t('status.sourceValue', { kind: sourceKindText(t, c.source.kind), url: c.source.url })
                        : c.video
                          ? t('status.videoValue', {
                              name: c.video.name,
                              size: formatBytes(c.video.size, lang),
                              width: c.video.width,
                              height: c.video.height,
                              fps: formatNumber(c.video.fps, lang, 2),
                            })
                          : t('status.noVideo')}
                    </td>
                    <td>
                      {t('status.viewersValue', { ws: c.viewers?.websocket ?? 0, mjpeg: c.viewers?.mjpeg ?? 0 })}
                      <div className="muted small">{t('status.drops', { n: c.drops?.websocket ?? 0 })}</div>
                    </td>
                    <td>
                      {c.errors && c.errors.length > 0 ? (
                        <ul className="errors">
                          {c.errors.slice(-5).map((e, i) => (
                            <li key={`${e.time}-${i}`}>
                              <time dateTime={e.time}>{new Date(e.time).toLocaleTimeString(lang)}</time> {e.message}
                            </li>
                          ))}
                        </ul>
                      ) : (
                        t('status.noErrors')
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </section>
  )
}
