import { Link, useParams } from 'react-router'
import { useI18n } from '@/hooks/use-i18n'
import { useCameras } from '@/hooks/use-cameras'
import { CameraTile } from '@/components/camera-tile'
import { ErrorMessage } from '@/components/error-message'
import { formatBytes, formatNumber, formatPosition } from '@/lib/format'
import { formatSpeed, isLiveCamera } from '@/lib/camera-settings'
import { sourceKindText } from '@/lib/i18n'

export function CameraPage() {
  const { id = '' } = useParams()
  const { t, lang } = useI18n()
  const { cameras, error } = useCameras()
  const camera = cameras?.find((c) => c.id === id)
  const live = camera ? isLiveCamera(camera) : false

  return (
    <section className="page focus">
      <p>
        <Link to="/">← {t('focus.back')}</Link>
      </p>
      {!cameras && error != null && <ErrorMessage error={error} />}
      {!cameras && error == null && <p className="muted">{t('common.loading')}</p>}
      {cameras && !camera && <p role="alert">{t('focus.notFound', { id })}</p>}
      {camera && (
        <div className="focus-layout">
          <CameraTile camera={camera} large />
          <aside className="panel" aria-labelledby="camera-info">
            <h2 id="camera-info">{t('focus.info')}</h2>
            <dl className="info">
              <dt>{t('info.id')}</dt>
              <dd>
                <code>{camera.id}</code>
              </dd>
              <dt>{t('info.state')}</dt>
              <dd>{t(`run.${camera.state}`)}</dd>
              <dt>{t('info.epoch')}</dt>
              <dd>{camera.epoch}</dd>
              <dt>{t('info.seq')}</dt>
              <dd>{camera.seq}</dd>
              <dt>{t('info.position')}</dt>
              <dd>{formatPosition(camera.position)}</dd>
              {live ? (
                <>
                  <dt>{t('info.source')}</dt>
                  <dd>
                    {sourceKindText(t, camera.source.kind)}
                    <div>
                      <code>{camera.source.url}</code>
                    </div>
                  </dd>
                </>
              ) : (
                <>
                  <dt>{t('info.speed')}</dt>
                  <dd>{formatSpeed(camera.speed, lang)}</dd>
                  <dt>{t('info.loop')}</dt>
                  <dd>{camera.loop ? t('common.yes') : t('common.no')}</dd>
                </>
              )}
              <dt>{t('info.viewers')}</dt>
              <dd>
                {t('info.viewersValue', { ws: camera.viewers?.websocket ?? 0, mjpeg: camera.viewers?.mjpeg ?? 0 })}
              </dd>
              {!live && (
                <>
                  <dt>{t('info.video')}</dt>
                  <dd>{camera.video ? camera.video.name : t('info.none')}</dd>
                </>
              )}
              {camera.video && (
                <>
                  <dt>{t('info.resolution')}</dt>
                  <dd>
                    {camera.video.width}×{camera.video.height}
                  </dd>
                  <dt>{t('info.fps')}</dt>
                  <dd>{formatNumber(camera.video.fps, lang, 2)}</dd>
                  <dt>{t('info.duration')}</dt>
                  <dd>{formatPosition(camera.video.duration)}</dd>
                  <dt>{t('info.size')}</dt>
                  <dd>{formatBytes(camera.video.size, lang)}</dd>
                </>
              )}
              {camera.error && (
                <>
                  <dt>{t('info.error')}</dt>
                  <dd>{camera.error}</dd>
                </>
              )}
            </dl>
            <p>
              <Link to="/cameras">{t('focus.manage')}</Link>
            </p>
          </aside>
        </div>
      )}
    </section>
  )
}
