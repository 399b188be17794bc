import { useState, type FormEvent } from 'react'
import { Link } from 'react-router'
import { restartCamera, startCamera, stopCamera, updateCamera } from '@/api/client'
import type { Camera, UpdateCameraInput } from '@/types/api'
import { formatSpeed, isLiveCamera, speedOptions } from '@/lib/camera-settings'
import { lastFrameText, sourceKindText } from '@/lib/i18n'
import { useI18n } from '@/hooks/use-i18n'
import { useFrameAge } from '@/hooks/use-frame-age'
import { ErrorMessage } from '@/components/error-message'

interface Props {
  camera: Camera
  onChanged: () => void
  onDelete: (camera: Camera) => void
}

/**
 * One camera on the Cameras page: rename, loop and speed (uploaded videos)
 * or source, URL and last frame (live cameras), start/stop/restart, delete.
 */
export function CameraRow({ camera, onChanged, onDelete }: Props) {
  const { t, lang } = useI18n()
  const [name, setName] = useState(camera.name)
  const [editing, setEditing] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const [saved, setSaved] = useState<'' | 'saved' | 'url'>('')
  const [url, setUrl] = useState('')
  const shownName = editing ? name : camera.name
  const live = isLiveCamera(camera)
  const frameAge = useFrameAge(camera.last_frame_age_ms, live)

  const run = async (action: () => Promise<unknown>) => {
    setBusy(true)
    setError(null)
    setSaved('')
    try {
      await action()
      onChanged()
      return true
    } catch (err) {
      setError(err)
      return false
    } finally {
      setBusy(false)
    }
  }
  const patch = (p: UpdateCameraInput) => run(() => updateCamera(camera.id, p))

  const rename = async (e: FormEvent) => {
    e.preventDefault()
    const next = name.trim()
    if (!next || next === camera.name) {
      setEditing(false)
      return
    }
    if (await patch({ name: next })) {
      setEditing(false)
      setSaved('saved')
    }
  }

  // The shown URL has its password masked, so the field starts empty:
  // saving the masked URL would replace the real password with "xxxxx".
  const changeUrl = async (e: FormEvent) => {
    e.preventDefault()
    const next = url.trim()
    if (!next) return
    if (await patch({ source: { url: next } })) {
      setUrl('')
      setSaved('url')
    }
  }

  const urlForm = (
    <form className="url-form" onSubmit={changeUrl}>
      <input
        type="url"
        value={url}
        required
        placeholder={t('cameras.newUrlPlaceholder')}
        aria-label={t('cameras.urlOf', { id: camera.id })}
        autoComplete="off"
        spellCheck={false}
        onChange={(e) => setUrl(e.target.value)}
      />
      <button type="submit" disabled={busy || !url.trim()}>
        {live ? t('cameras.setUrl') : t('cameras.useUrl')}
      </button>
    </form>
  )

  return (
    <li className="camera-row panel" data-camera-row={camera.id} aria-label={camera.name}>
      <div className="camera-row-head">
        <form className="rename" onSubmit={rename}>
          <input
            type="text"
            value={shownName}
            required
            maxLength={200}
            aria-label={t('cameras.nameOf', { id: camera.id })}
            onChange={(e) => {
              setEditing(true)
              setName(e.target.value)
            }}
          />
          <button type="submit" disabled={busy || !editing || !name.trim() || name.trim() === camera.name}>
            {t('cameras.rename')}
          </button>
        </form>
        <code className="muted">{camera.id}</code>
        <span className={`run run-${camera.state}`} data-run-state={camera.state}>
          {t(`run.${camera.state}`)}
        </span>
      </div>
      {live ? (
        <div className="camera-row-body">
          <span className="source-kind" data-source-kind={camera.source.kind}>
            {sourceKindText(t, camera.source.kind)}
            {camera.source.transport && ` · ${camera.source.transport.toUpperCase()}`}
          </span>
          <code className="source-url" data-source-url>
            {camera.source.url}
          </code>
          <span className="muted" data-frame-age={frameAge ?? ''}>
            {lastFrameText(t, frameAge)}
          </span>
          {camera.error && (
            <span className="camera-error" data-camera-error>
              {camera.error}
            </span>
          )}
        </div>
      ) : (
        <div className="camera-row-body">
          <span className="muted">
            {t('cameras.video')}: {camera.video ? camera.video.name : t('info.none')}
          </span>
          <label className="check">
            <input
              type="checkbox"
              checked={camera.loop}
              disabled={busy}
              aria-label={t('cameras.loopOf', { id: camera.id })}
              onChange={(e) => void patch({ loop: e.target.checked })}
            />
            {t('cameras.loop')}
          </label>
          <label className="inline">
            <span aria-hidden="true">{t('cameras.speed')}</span>
            <select
              value={String(camera.speed)}
              disabled={busy}
              aria-label={t('cameras.speedOf', { id: camera.id })}
              onChange={(e) => void patch({ speed: Number(e.target.value) })}
            >
              {speedOptions(camera.speed).map((s) => (
                <option key={s} value={String(s)}>
                  {formatSpeed(s, lang)}
                </option>
              ))}
            </select>
          </label>
        </div>
      )}
      {live ? (
        urlForm
      ) : (
        <details className="url-switch">
          <summary>{t('cameras.switchToUrl')}</summary>
          {urlForm}
          <p className="hint">{t('cameras.urlHint')}</p>
        </details>
      )}
      <div className="camera-row-actions">
        <button type="button" disabled={busy} onClick={() => void run(() => startCamera(camera.id))}>
          {t('cameras.start')}
        </button>
        <button type="button" disabled={busy} onClick={() => void run(() => stopCamera(camera.id))}>
          {t('cameras.stop')}
        </button>
        <button type="button" disabled={busy} onClick={() => void run(() => restartCamera(camera.id))}>
          {t('cameras.restart')}
        </button>
        <Link className="button" to={`/cameras/${encodeURIComponent(camera.id)}`}>
          {t('cameras.view')}
        </Link>
        <Link className="button" to={`/upload?camera=${encodeURIComponent(camera.id)}`}>
          {t('cameras.upload')}
        </Link>
        <button type="button" className="danger" disabled={busy} onClick={() => onDelete(camera)}>
          {t('cameras.delete')}
        </button>
      </div>
      {saved && (
        <p role="status" className="message message-ok">
          {saved === 'url' ? t('cameras.urlSaved') : t('cameras.saved')}
        </p>
      )}
      <ErrorMessage error={error} />
    </li>
  )
}
