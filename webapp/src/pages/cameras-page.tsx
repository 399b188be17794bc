import { useState, type FormEvent } from 'react'
import { createCamera, deleteCamera } from '@/api/client'
import type { Camera, RtspTransport } from '@/types/api'
import { CAMERA_ID_PATTERN, formatSpeed, SPEEDS } from '@/lib/camera-settings'
import { useI18n } from '@/hooks/use-i18n'
import { useCameras } from '@/hooks/use-cameras'
import { CameraRow } from '@/components/camera-row'
import { ConfirmDialog } from '@/components/confirm-dialog'
import { ErrorMessage } from '@/components/error-message'

/** Whether url is an RTSP address, which takes a transport. */
function isRtspUrl(url: string): boolean {
  return /^rtsps?:\/\//i.test(url.trim())
}

/** Where a new camera's pictures come from: an upload later, or a camera URL now. */
const SOURCE_CHOICES = [
  { kind: 'upload', label: 'cameras.sourceUpload' },
  { kind: 'url', label: 'cameras.sourceUrl' },
] as const

export function CamerasPage() {
  const { t, lang } = useI18n()
  const { cameras, error: listError, refresh } = useCameras()
  const [name, setName] = useState('')
  const [id, setId] = useState('')
  const [loop, setLoop] = useState(true)
  const [speed, setSpeed] = useState(1)
  const [sourceKind, setSourceKind] = useState<(typeof SOURCE_CHOICES)[number]['kind']>('upload')
  const [url, setUrl] = useState('')
  const [transport, setTransport] = useState<RtspTransport>('tcp')
  const rtsp = isRtspUrl(url)
  const [creating, setCreating] = useState(false)
  const [createError, setCreateError] = useState<unknown>(null)
  const [notice, setNotice] = useState('')
  const [toDelete, setToDelete] = useState<Camera | null>(null)
  const [deleting, setDeleting] = useState(false)
  const [deleteError, setDeleteError] = useState<unknown>(null)

  const create = async (e: FormEvent) => {
    e.preventDefault()
    setCreating(true)
    setCreateError(null)
    setNotice('')
    try {
      const base = { name: name.trim(), id: id.trim() || undefined }
      const cam = await createCamera(
        sourceKind === 'url'
          ? { ...base, source: rtsp ? { url: url.trim(), transport } : { url: url.trim() } }
          : { ...base, loop, speed },
      )
      setNotice(t('cameras.created', { id: cam.id }))
      setName('')
      setId('')
      setUrl('')
      refresh()
    } catch (err) {
      setCreateError(err)
    } finally {
      setCreating(false)
    }
  }

  const confirmDelete = async () => {
    if (!toDelete) return
    setDeleting(true)
    setDeleteError(null)
    try {
      await deleteCamera(toDelete.id)
      setNotice(t('cameras.deleted', { id: toDelete.id }))
      setToDelete(null)
      refresh()
    } catch (err) {
      setDeleteError(err)
      setToDelete(null)
    } finally {
      setDeleting(false)
    }
  }

  return (
    <section className="page">
      <h1>{t('cameras.title')}</h1>

      <form className="panel create-form" onSubmit={create} aria-labelledby="create-title">
        <h2 id="create-title">{t('cameras.create')}</h2>
        <div className="fields">
          <label>
            {t('cameras.name')}
            <input type="text" value={name} required maxLength={200} onChange={(e) => setName(e.target.value)} />
          </label>
          <label>
            {t('cameras.id')}
            <input
              type="text"
              value={id}
              pattern={CAMERA_ID_PATTERN}
              maxLength={64}
              title={t('cameras.idHint')}
              onChange={(e) => setId(e.target.value)}
            />
          </label>
        </div>
        <fieldset className="source-choice">
          <legend>{t('cameras.source')}</legend>
          {SOURCE_CHOICES.map(({ kind, label }) => (
            <label className="check" key={kind}>
              <input
                type="radio"
                name="source"
                value={kind}
                checked={sourceKind === kind}
                onChange={() => setSourceKind(kind)}
              />
              {t(label)}
            </label>
          ))}
        </fieldset>
        <div className="fields">
          {sourceKind === 'url' ? (
            <label className="url-field">
              {t('cameras.url')}
              <input
                type="url"
                value={url}
                required
                placeholder={t('cameras.urlPlaceholder')}
                aria-describedby="create-url-hint"
                autoComplete="off"
                spellCheck={false}
                onChange={(e) => setUrl(e.target.value)}
              />
            </label>
          ) : null}
          {sourceKind === 'url' && rtsp && (
            <label>
              {t('cameras.transport')}
              <select value={transport} onChange={(e) => setTransport(e.target.value as RtspTransport)}>
                <option value="tcp">{t('cameras.transportTcp')}</option>
                <option value="udp">{t('cameras.transportUdp')}</option>
              </select>
            </label>
          )}
          {sourceKind === 'url' ? null : (
            <>
              <label className="check">
                <input type="checkbox" checked={loop} onChange={(e) => setLoop(e.target.checked)} />
                {t('cameras.loop')}
              </label>
              <label>
                {t('cameras.speed')}
                <select value={String(speed)} onChange={(e) => setSpeed(Number(e.target.value))}>
                  {SPEEDS.map((s) => (
                    <option key={s} value={String(s)}>
                      {formatSpeed(s, lang)}
                    </option>
                  ))}
                </select>
              </label>
            </>
          )}
          <button
            type="submit"
            className="primary"
            disabled={creating || !name.trim() || (sourceKind === 'url' && !url.trim())}
          >
            {t('cameras.createButton')}
          </button>
        </div>
        {sourceKind === 'url' && (
          <p className="hint" id="create-url-hint">
            {t('cameras.urlHint')}
          </p>
        )}
        <p className="hint">{t('cameras.idHint')}</p>
        <ErrorMessage error={createError} />
      </form>

      {notice && (
        <p role="status" className="message message-ok">
          {notice}
        </p>
      )}
      <ErrorMessage error={deleteError} />
      {!cameras && listError != null && <ErrorMessage error={listError} />}
      {!cameras && listError == null && <p className="muted">{t('common.loading')}</p>}
      {cameras && cameras.length === 0 && <p className="muted">{t('cameras.empty')}</p>}
      {cameras && cameras.length > 0 && (
        <ul className="camera-list">
          {cameras.map((c) => (
            <CameraRow key={c.id} camera={c} onChanged={refresh} onDelete={setToDelete} />
          ))}
        </ul>
      )}

      {toDelete && (
        <ConfirmDialog
          title={t('cameras.confirmTitle')}
          confirmLabel={t('cameras.confirmDelete')}
          cancelLabel={t('cameras.cancel')}
          busy={deleting}
          onCancel={() => setToDelete(null)}
          onConfirm={() => void confirmDelete()}
        >
          <p>{t('cameras.confirmText', { name: toDelete.name })}</p>
        </ConfirmDialog>
      )}
    </section>
  )
}
