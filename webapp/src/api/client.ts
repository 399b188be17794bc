// The one HTTP client of the web app. Every call throws ApiError on failure.
import type {
  Camera,
  CameraList,
  CreateCameraInput,
  EdgeList,
  Health,
  Stats,
  UpdateCameraInput,
  UploadResult,
} from '@/types/api'

/**
 * The API's error codes: exactly the codes of the server's error kinds
 * (server/internal/media/media.go, Kind.Code). One per line, in the
 * server's order: server/internal/httpapi/contract_test.go reads this list
 * and fails when the two differ.
 */
export const SERVER_ERROR_CODES = [
  'internal',
  'invalid_argument',
  'not_found',
  'conflict',
  'too_large',
  'unsupported_media',
  'unusable_video',
  'over_capacity',
  'disk_full',
  'unauthorized',
  'forbidden',
  'rate_limited',
  'unknown_host',
  'request_timeout',
  'camera_limit',
  'subscription_limit',
  'decoder_limit',
  'upload_limit',
  'camera_unavailable',
] as const

/** Codes this client makes itself when no server answer explains the failure. */
export const CLIENT_ERROR_CODES = [
  'unreachable', // nothing reached the server
  'connection_lost', // the connection broke in the middle of an upload
  'timeout', // an upload made no progress for too long
  'aborted',
  'bad_response', // an answer that is not what the API documents
] as const

export type ServerErrorCode = (typeof SERVER_ERROR_CODES)[number]
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number]
/** Every code with its own text (i18n `error.<code>`). */
export type KnownErrorCode = ServerErrorCode | ClientErrorCode
/** A code from an ApiError; other strings come from a newer server and get the generic text. */
export type ApiErrorCode = KnownErrorCode | (string & {})

const knownErrorCodes: ReadonlySet<string> = new Set<string>([...SERVER_ERROR_CODES, ...CLIENT_ERROR_CODES])

export function isKnownErrorCode(code: string): code is KnownErrorCode {
  return knownErrorCodes.has(code)
}

export class ApiError extends Error {
  readonly status: number
  readonly code: ApiErrorCode
  /** Seconds from a Retry-After header (429, 503), when the server sent one. */
  readonly retryAfterSeconds: number | null

  constructor(status: number, code: ApiErrorCode, message: string, retryAfterSeconds: number | null = null) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/** Seconds in a Retry-After header (delta-seconds or an HTTP date); null if absent or unreadable. */
export function parseRetryAfter(header: string | null | undefined, now = Date.now()): number | null {
  if (!header) return null
  const v = header.trim()
  if (/^\d+$/.test(v)) return Number(v)
  const at = Date.parse(v)
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000))
}

// ---- 401 after sign-in -------------------------------------------------------

const unauthorizedListeners = new Set<() => void>()

/**
 * Calls `listener` whenever an API call answers 401 (the token changed on
 * the server or the cookie expired), except POST /api/login, whose 401
 * means "wrong token". Returns the unsubscribe function.
 */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener)
  return () => {
    unauthorizedListeners.delete(listener)
  }
}

function noteStatus(status: number, path: string): void {
  if (status !== 401 || path === LOGIN_PATH) return
  for (const l of [...unauthorizedListeners]) l()
}

/** For error answers without a JSON body (a proxy in between). */
const codeByStatus: Record<number, ServerErrorCode> = {
  400: 'invalid_argument',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'too_large',
  415: 'unsupported_media',
  422: 'unusable_video',
  408: 'request_timeout',
  421: 'unknown_host',
  429: 'rate_limited',
  503: 'over_capacity',
  507: 'disk_full',
}

const LOGIN_PATH = '/api/login'

/** Builds an ApiError from a non-2xx status and its (maybe JSON) body. */
function errorFromResponse(status: number, bodyText: string, retryAfter?: string | null): ApiError {
  let code: ApiErrorCode = codeByStatus[status] ?? (status >= 500 ? 'internal' : 'bad_response')
  let message = `HTTP ${status}`
  try {
    const body: unknown = JSON.parse(bodyText)
    if (body && typeof body === 'object' && 'error' in body) {
      const e = (body as { error: unknown }).error
      if (e && typeof e === 'object') {
        const { code: c, message: m } = e as { code?: unknown; message?: unknown }
        if (typeof c === 'string' && c) code = c
        if (typeof m === 'string' && m) message = m
      }
    }
  } catch {
    // not JSON: keep the status-derived code
  }
  return new ApiError(status, code, message, parseRetryAfter(retryAfter))
}

export interface RequestOptions {
  signal?: AbortSignal
}

async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  opts: RequestOptions = {},
): Promise<T> {
  let res: Response
  try {
    res = await fetch(path, {
      method,
      signal: opts.signal,
      headers: body === undefined ? { Accept: 'application/json' } : {
        Accept: 'application/json',
        'Content-Type': 'application/json',
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') {
      throw new ApiError(0, 'aborted', 'request aborted')
    }
    throw new ApiError(0, 'unreachable', 'server unreachable')
  }
  const text = await res.text().catch(() => '')
  noteStatus(res.status, path)
  if (!res.ok) throw errorFromResponse(res.status, text, res.headers.get('Retry-After'))
  if (res.status === 204 || text === '') return undefined as T
  try {
    return JSON.parse(text) as T
  } catch {
    throw new ApiError(res.status, 'bad_response', 'invalid JSON from server')
  }
}

const cam = (id: string) => `/api/cameras/${encodeURIComponent(id)}`

export const getHealth = (o?: RequestOptions) => request<Health>('GET', '/healthz', undefined, o)
export const getStats = (o?: RequestOptions) => request<Stats>('GET', '/api/stats', undefined, o)

/** The cluster's live edges (base URLs); empty from a single server. */
export async function listEdges(o?: RequestOptions): Promise<string[]> {
  let res: EdgeList
  try {
    res = await request<EdgeList>('GET', '/api/edges', undefined, o)
  } catch (err) {
    // A server from before clusters: one server.
    if (err instanceof ApiError && err.status === 404) return []
    throw err
  }
  return Array.isArray(res?.edges) ? res.edges.filter((e) => typeof e === 'string') : []
}

export async function listCameras(o?: RequestOptions): Promise<Camera[]> {
  const res = await request<CameraList>('GET', '/api/cameras', undefined, o)
  return res.cameras ?? []
}
export const createCamera = (input: CreateCameraInput, o?: RequestOptions) =>
  request<Camera>('POST', '/api/cameras', input, o)
export const updateCamera = (id: string, patch: UpdateCameraInput, o?: RequestOptions) =>
  request<Camera>('PATCH', cam(id), patch, o)
export const deleteCamera = (id: string, o?: RequestOptions) =>
  request<void>('DELETE', cam(id), undefined, o)
export const startCamera = (id: string, o?: RequestOptions) =>
  request<Camera>('POST', `${cam(id)}/start`, undefined, o)
export const stopCamera = (id: string, o?: RequestOptions) =>
  request<Camera>('POST', `${cam(id)}/stop`, undefined, o)
export const restartCamera = (id: string, o?: RequestOptions) =>
  request<Camera>('POST', `${cam(id)}/restart`, undefined, o)

export interface AuthStatus {
  required: boolean
  authenticated: boolean
}
export const getAuthStatus = (o?: RequestOptions) =>
  request<AuthStatus>('GET', '/api/auth', undefined, o)
/** Checks the access token; the server keeps it in an HttpOnly cookie. */
export const login = (token: string, o?: RequestOptions) =>
  request<{ ok: boolean }>('POST', LOGIN_PATH, { token }, o)

/** The camera's MJPEG stream; a grid rendition asks for `?rendition=grid`. */
export const mjpegUrl = (id: string, rendition: 'full' | 'grid' = 'full') =>
  rendition === 'full' ? `${cam(id)}/mjpeg` : `${cam(id)}/mjpeg?rendition=${rendition}`

export interface UploadProgress {
  loaded: number
  total: number
  /** 0–100 */
  percent: number
  /** bytes per second, averaged since the start */
  bytesPerSecond: number
}

export interface UploadOptions {
  onProgress?: (p: UploadProgress) => void
  signal?: AbortSignal
  /** Fails with code "timeout" when neither progress nor a response came for this long. 0 = never. */
  timeoutMs?: number
  /** For tests. */
  createXhr?: () => XMLHttpRequest
  now?: () => number
}

/**
 * Uploads a video (multipart field "video") to POST /api/cameras/:id/video
 * with XMLHttpRequest, which, unlike fetch, reports upload progress.
 */
export function uploadVideo(cameraId: string, file: Blob, opts: UploadOptions = {}): Promise<UploadResult> {
  const now = opts.now ?? (() => performance.now())
  return new Promise<UploadResult>((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new ApiError(0, 'aborted', 'upload cancelled'))
      return
    }
    const xhr = opts.createXhr ? opts.createXhr() : new XMLHttpRequest()
    const started = now()
    let sent = 0
    let settled = false
    let timedOut = false
    let timer: ReturnType<typeof setTimeout> | undefined

    const finish = (fn: () => void) => {
      if (settled) return
      settled = true
      if (timer !== undefined) clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      fn()
    }
    const armTimer = () => {
      if (!opts.timeoutMs) return
      if (timer !== undefined) clearTimeout(timer)
      timer = setTimeout(() => {
        timedOut = true
        xhr.abort()
        finish(() => reject(new ApiError(0, 'timeout', 'upload timed out')))
      }, opts.timeoutMs)
    }
    const onAbort = () => {
      xhr.abort()
      finish(() => reject(new ApiError(0, 'aborted', 'upload cancelled')))
    }

    xhr.open('POST', `${cam(cameraId)}/video`)
    xhr.setRequestHeader('Accept', 'application/json')
    xhr.upload.onprogress = (ev: ProgressEvent) => {
      sent = ev.loaded
      armTimer()
      const total = ev.lengthComputable ? ev.total : file.size
      const elapsed = Math.max(1, now() - started) / 1000
      opts.onProgress?.({
        loaded: ev.loaded,
        total,
        percent: total > 0 ? Math.min(100, (ev.loaded / total) * 100) : 0,
        bytesPerSecond: ev.loaded / elapsed,
      })
    }
    xhr.upload.onload = () => armTimer()
    xhr.onload = () => {
      const text = typeof xhr.responseText === 'string' ? xhr.responseText : ''
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          const result = JSON.parse(text) as UploadResult
          finish(() => resolve(result))
        } catch {
          finish(() => reject(new ApiError(xhr.status, 'bad_response', 'invalid JSON from server')))
        }
        return
      }
      noteStatus(xhr.status, '')
      const err = errorFromResponse(xhr.status, text, xhr.getResponseHeader('Retry-After'))
      finish(() => reject(err))
    }
    xhr.onerror = () => {
      const code = sent > 0 ? 'connection_lost' : 'unreachable'
      finish(() => reject(new ApiError(0, code, code === 'unreachable' ? 'server unreachable' : 'connection lost')))
    }
    xhr.ontimeout = () => finish(() => reject(new ApiError(0, 'timeout', 'upload timed out')))
    xhr.onabort = () => {
      if (timedOut) return
      finish(() => reject(new ApiError(0, 'aborted', 'upload cancelled')))
    }
    opts.signal?.addEventListener('abort', onAbort)

    const form = new FormData()
    form.append('video', file, file instanceof File ? file.name : 'video')
    armTimer()
    xhr.send(form)
  })
}
