import { useEffect, useId, useRef, useState, type DragEvent, type FormEvent } from 'react'
import { Link, useSearchParams } from 'react-router'
import { ApiError, uploadVideo, type UploadProgress } from '@/api/client'
import type { UploadResult } from '@/types/api'
import { CAMERA_ID_RE, isLiveCamera } from '@/lib/camera-settings'
import { formatBytes, formatNumber } from '@/lib/format'
import { uploadErrorText, type UploadFallback } from '@/lib/i18n'
import { useI18n } from '@/hooks/use-i18n'
import { useCameras } from '@/hooks/use-cameras'
import { ProgressBar } from '@/components/progress-bar'

const NEW = '__new__'
/** Fail when an upload makes no progress (and gets no answer) for this long. */
const UPLOAD_STALL_TIMEOUT_MS = 60_000

type Phase =
  | { kind: 'idle' }
  | { kind: 'uploading'; progress: UploadProgress | null }
  | { kind: 'done'; cameraId: string; result: UploadResult; fileName: string }
  | { kind: 'failed'; code: string; message: string; retryAfterSeconds: number | null }
  | { kind: 'invalid'; key: 'upload.noFile' | 'upload.badId' | 'upload.noCamera' }

export function UploadPage() {
  const { t, lang } = useI18n()
  const [params] = useSearchParams()
  const { cameras } = useCameras()
  const preset = params.get('camera') ?? ''
  // A camera id, NEW, or '' for "the first camera".
  const [choice, setChoice] = useState<string>(preset)
  const [newId, setNewId] = useState(preset)
  const [file, setFile] = useState<File | null>(null)
  const [dragging, setDragging] = useState(false)
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' })
  const abortRef = useRef<AbortController | null>(null)
  const inputRef = useRef<HTMLInputElement>(null)
  const fileId = useId()
  const cameraSelectId = useId()
  const newIdId = useId()

  // Cancel a running upload when leaving the page.
  useEffect(() => () => abortRef.current?.abort(), [])

  let selected: string
  if (choice === NEW) selected = NEW
  else if (!cameras) selected = choice || NEW
  else if (cameras.some((c) => c.id === choice)) selected = choice
  else selected = choice ? NEW : (cameras[0]?.id ?? NEW) // an unknown ?camera= becomes a new id
  const targetId = selected === NEW ? newId.trim() : selected
  const uploading = phase.kind === 'uploading'
  const target = cameras?.find((c) => c.id === selected)
  const fallback: UploadFallback = !target ? 'none' : isLiveCamera(target) ? 'live' : target.video === null ? 'none' : 'video'

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    if (uploading) return
    if (!targetId) return setPhase({ kind: 'invalid', key: 'upload.noCamera' })
    if (!CAMERA_ID_RE.test(targetId)) return setPhase({ kind: 'invalid', key: 'upload.badId' })
    if (!file) return setPhase({ kind: 'invalid', key: 'upload.noFile' })
    const ctrl = new AbortController()
    abortRef.current = ctrl
    setPhase({ kind: 'uploading', progress: null })
    try {
      const result = await uploadVideo(targetId, file, {
        signal: ctrl.signal,
        timeoutMs: UPLOAD_STALL_TIMEOUT_MS,
        onProgress: (progress) => setPhase({ kind: 'uploading', progress }),
      })
      setPhase({ kind: 'done', cameraId: result.camera?.id ?? targetId, result, fileName: file.name })
    } catch (err) {
      const code = err instanceof ApiError ? err.code : 'unknown'
      const message = err instanceof Error ? err.message : String(err)
      const retryAfterSeconds = err instanceof ApiError ? err.retryAfterSeconds : null
      setPhase({ kind: 'failed', code, message, retryAfterSeconds })
    } finally {
      if (abortRef.current === ctrl) abortRef.current = null
    }
  }

  const pick = (f: File | null | undefined) => {
    setFile(f ?? null)
    if (phase.kind !== 'uploading') setPhase({ kind: 'idle' })
  }

  const onDrop = (e: DragEvent) => {
    e.preventDefault()
    setDragging(false)
    if (uploading) return
    const f = e.dataTransfer.files?.[0]
    if (f) pick(f)
  }

  const progress = phase.kind === 'uploading' ? phase.progress : null
  const progressText = progress
    ? t('upload.progressText', {
        percent: formatNumber(progress.percent, lang, 0),
        loaded: formatBytes(progress.loaded, lang),
        total: formatBytes(progress.total, lang),
        speed: formatBytes(progress.bytesPerSecond, lang),
      })
    : undefined

  return (
    <section className="page narrow">
      <h1>{t('upload.title')}</h1>
      <form className="panel upload-form" onSubmit={submit} noValidate>
        <div className="fields">
          <label htmlFor={cameraSelectId}>{t('upload.camera')}</label>
          <select
            id={cameraSelectId}
            value={selected}
            disabled={uploading}
            onChange={(e) => setChoice(e.target.value)}
          >
            {cameras?.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name === c.id ? c.id : `${c.name} (${c.id})`}
              </option>
            ))}
            <option value={NEW}>{t('upload.newCamera')}</option>
          </select>
          {selected === NEW && (
            <>
              <label htmlFor={newIdId}>{t('upload.newId')}</label>
              <input
                id={newIdId}
                type="text"
                value={newId}
                maxLength={64}
                autoComplete="off"
                disabled={uploading}
                onChange={(e) => {
                  setChoice(NEW)
                  setNewId(e.target.value)
                }}
              />
            </>
          )}
        </div>
        {target && isLiveCamera(target) && (
          <p className="hint" data-replaces-url>
            {t('upload.replacesUrl', { url: target.source.url })}
          </p>
        )}

        <div
          className={`dropzone${dragging ? ' dropzone-active' : ''}`}
          onDragOver={(e) => {
            e.preventDefault()
            if (!uploading) setDragging(true)
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={onDrop}
          data-testid="dropzone"
        >
          <p aria-hidden="true">{dragging ? t('upload.dropActive') : t('upload.drop')}</p>
          <label htmlFor={fileId}>{t('upload.file')}</label>
          <input
            ref={inputRef}
            id={fileId}
            type="file"
            accept="video/*,.mp4,.avi,.mkv,.mov,.webm"
            disabled={uploading}
            onChange={(e) => pick(e.target.files?.[0])}
          />
          {file && <p className="muted">{t('upload.selected', { name: file.name, size: formatBytes(file.size, lang) })}</p>}
        </div>

        <div className="form-actions">
          <button type="submit" className="primary" disabled={uploading}>
            {t('upload.start')}
          </button>
          {uploading && (
            <button type="button" onClick={() => abortRef.current?.abort()}>
              {t('upload.cancel')}
            </button>
          )}
        </div>

        {uploading && (
          <>
            <ProgressBar value={progress?.percent ?? 0} label={t('upload.progress')} text={progressText} />
            {progress && progress.percent >= 100 && <p className="muted">{t('upload.processing')}</p>}
          </>
        )}

        {phase.kind === 'invalid' && (
          <p role="alert" className="message message-error">
            {t(phase.key)}
          </p>
        )}
        {phase.kind === 'failed' && (
          <p role="alert" className="message message-error" data-code={phase.code}>
            {uploadErrorText(t, phase.code, phase.message, phase.retryAfterSeconds, fallback)}
          </p>
        )}
        {phase.kind === 'done' && (
          <div role="status" className="message message-ok">
            <p>
              {t('upload.success', {
                id: phase.cameraId,
                name: phase.fileName,
                width: phase.result.probe?.width ?? '?',
                height: phase.result.probe?.height ?? '?',
                fps: formatNumber(phase.result.probe?.fps ?? 0, lang, 1),
              })}
            </p>
            <Link className="button primary" to={`/cameras/${encodeURIComponent(phase.cameraId)}`}>
              {t('upload.watch', { id: phase.cameraId })}
            </Link>
          </div>
        )}
      </form>
    </section>
  )
}
