import { useEffect, useRef, useState } from 'react'
import { Link } from 'react-router'
import { isKnownErrorCode, mjpegUrl } from '@/api/client'
import type { Camera } from '@/types/api'
import { deriveTileState, shouldUseMjpeg } from '@/lib/tile-state'
import { formatNumber, formatPosition } from '@/lib/format'
import { useI18n } from '@/hooks/use-i18n'
import { useSettings } from '@/hooks/use-settings'
import { useSocketStatus } from '@/hooks/use-camera-socket'
import { useCameraError, useCameraFrames, useReceiveStats } from '@/hooks/use-camera-frames'
import { errorText, lastFrameText } from '@/lib/i18n'
import { isLiveCamera } from '@/lib/camera-settings'
import { useFrameAge } from '@/hooks/use-frame-age'
import { useDevicePixelWidth } from '@/hooks/use-element-width'
import { gridTileRendition } from '@/lib/tile-rendition'
import { StateBadge } from '@/components/state-badge'
import type { Rendition } from '@/lib/camera-protocol'
import type { PaintedRendition } from '@/hooks/use-camera-frames'

interface Props {
  camera: Camera
  /** The focused view: bigger, and the picture is not a link. */
  large?: boolean
}

/**
 * One camera: name, picture, state badge and live figures. A grid tile
 * shows the camera's grid rendition (full when the tile is shown much wider
 * than the grid rendition: lib/tile-rendition.ts), the focused view
 * (`large`) its full one; the "full quality" setting makes every tile full.
 * DOM contract for tests: root `[data-camera=<id>]` with `data-rendition`
 * (the rendition asked for), badge `role=status` with `data-state`, canvas
 * `data-testid=frame-<id>` with `data-seq` / `data-epoch` / `data-rendition`
 * of the last painted frame (the camera's canvas, kept across views and put
 * in by useCameraFrames, not rendered by React), and the
 * rendition badge `data-testid=rendition-<id>` with `data-rendition` /
 * `data-width` of the painted frames.
 */
export function CameraTile({ camera, large = false }: Props) {
  const { t, lang } = useI18n()
  const { forceMjpeg, forceFull } = useSettings()
  const socket = useSocketStatus()
  const mjpeg = shouldUseMjpeg(socket, forceMjpeg)
  const label = t('tile.frameLabel', { name: camera.name })
  const canvasHost = useRef<HTMLSpanElement>(null)
  const displayPx = useDevicePixelWidth(canvasHost)
  const [gridPick, setGridPick] = useState<Rendition>('grid')
  const nextGridPick = gridTileRendition(gridPick, displayPx, camera.grid?.width ?? 0)
  if (nextGridPick !== gridPick) setGridPick(nextGridPick)
  const rendition: Rendition = large || forceFull ? 'full' : nextGridPick
  const { receiving, painted } = useCameraFrames(camera.id, canvasHost, !mjpeg, rendition, label)
  const stats = useReceiveStats(camera.id, !mjpeg)
  const socketError = useCameraError(camera.id)
  const [mjpegFailed, setMjpegFailed] = useState(false)
  const [mjpegTry, setMjpegTry] = useState(0)

  // Retry a failed MJPEG stream every few seconds.
  useEffect(() => {
    if (!mjpeg || !mjpegFailed) return
    const id = setTimeout(() => {
      setMjpegFailed(false)
      setMjpegTry((n) => n + 1)
    }, 3000)
    return () => clearTimeout(id)
  }, [mjpeg, mjpegFailed])

  const state = deriveTileState({
    socket,
    cameraState: camera.state,
    receiving,
    mjpeg,
    mjpegFailed: mjpeg && mjpegFailed,
    socketError: !mjpeg && !receiving && socketError !== null,
  })
  // Why a tile is in the error state: the socket's error for it, else the camera's own.
  let shownError: { code?: string; text: string } | null = null
  if (state === 'error' && !mjpeg && socketError) {
    shownError = { code: socketError.code, text: errorText(t, socketError.code, socketError.message) }
  } else if (state === 'error' && camera.error_code && isKnownErrorCode(camera.error_code)) {
    shownError = { code: camera.error_code, text: errorText(t, camera.error_code, camera.error) }
  } else if (state === 'error' && camera.error) {
    shownError = { text: camera.error }
  }
  const offline = state === 'offline'
  const frameAge = useFrameAge(camera.last_frame_age_ms, offline)
  const position = stats?.position ?? camera.position
  // Grid tiles are always 16:9 (no layout jumps); the focused view uses the video's shape.
  const aspect = large && camera.video ? `${camera.video.width} / ${camera.video.height}` : undefined

  const picture = mjpeg ? (
    <img
      key={mjpegTry}
      className="tile-picture"
      src={mjpegUrl(camera.id, rendition)}
      alt={label}
      data-testid={`mjpeg-${camera.id}`}
      onError={() => setMjpegFailed(true)}
      onLoad={() => setMjpegFailed(false)}
    />
  ) : (
    // The camera's canvas (data-testid=frame-<id>) is put in here by useCameraFrames.
    <span ref={canvasHost} className="tile-canvas" />
  )

  return (
    <article
      className={`tile${large ? ' tile-large' : ''}`}
      data-camera={camera.id}
      data-mode={mjpeg ? 'mjpeg' : 'websocket'}
      data-rendition={rendition}
      aria-label={camera.name}
    >
      <header className="tile-head">
        {large ? (
          <h2 className="tile-name">{camera.name}</h2>
        ) : (
          <Link className="tile-name" to={`/cameras/${encodeURIComponent(camera.id)}`}>
            {camera.name}
          </Link>
        )}
        <StateBadge state={state} attempt={socket.attempt} />
      </header>
      <div className={`tile-frame tile-frame-${state}`} style={{ ['--frame-aspect' as string]: aspect }}>
        {large ? (
          picture
        ) : (
          <Link
            className="tile-frame-link"
            to={`/cameras/${encodeURIComponent(camera.id)}`}
            aria-label={t('tile.open', { name: camera.name })}
          >
            {picture}
          </Link>
        )}
        {shownError ? (
          <span className="tile-overlay tile-overlay-error" data-error-code={shownError.code}>
            {shownError.text}
          </span>
        ) : offline ? (
          // The last frame stays on the canvas; say how old it is and why.
          <span className="tile-overlay tile-overlay-offline">
            <strong data-frame-age={frameAge ?? ''}>{lastFrameText(t, frameAge)}</strong>{' '}
            {camera.error || t('tile.offline')}
          </span>
        ) : (
          !camera.video && !isLiveCamera(camera) && <span className="tile-overlay">{t('tile.noVideo')}</span>
        )}
        <span className="tile-mode">
          {mjpeg && <span>{t('tile.mjpeg')}</span>}
          <RenditionBadge camera={camera.id} shown={mjpeg ? { rendition, width: 0 } : painted} />
        </span>
      </div>
      <dl className="tile-stats">
        <div>
          <dt>{t('tile.fps')}</dt>
          <dd data-stat="fps">{formatNumber(mjpeg ? camera.fps : (stats?.fps ?? 0), lang, mjpeg ? 1 : 0)}</dd>
        </div>
        <div>
          <dt>{t('tile.latency')}</dt>
          <dd data-stat="latency">
            {stats?.latencyMs != null ? t('tile.ms', { n: Math.round(stats.latencyMs) }) : '—'}
          </dd>
        </div>
        <div>
          <dt>{t('tile.dropped')}</dt>
          <dd data-stat="dropped">{stats ? formatNumber(stats.dropped, lang) : '—'}</dd>
        </div>
        <div>
          <dt>{t('tile.position')}</dt>
          <dd data-stat="position">{formatPosition(position)}</dd>
        </div>
      </dl>
    </article>
  )
}

/** Which rendition the tile paints ("grid 480 px" / "full"), once it paints one. */
function RenditionBadge({ camera, shown }: { camera: string; shown: PaintedRendition | null }) {
  const { t } = useI18n()
  if (!shown) return null
  const text =
    shown.rendition === 'grid'
      ? shown.width > 0
        ? t('tile.renditionGridWidth', { width: shown.width })
        : t('tile.renditionGrid')
      : t('tile.renditionFull')
  return (
    <span
      className="tile-rendition"
      data-testid={`rendition-${camera}`}
      data-rendition={shown.rendition}
      data-width={shown.width || undefined}
      title={t('tile.renditionTitle')}
    >
      {text}
    </span>
  )
}
