import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  ApiError,
  createCamera,
  listCameras,
  login,
  onUnauthorized,
  parseRetryAfter,
  uploadVideo,
} from '@/api/client'

/** Just enough XMLHttpRequest for uploadVideo. */
class FakeXhr {
  method = ''
  url = ''
  status = 0
  responseText = ''
  body: FormData | null = null
  headers: Record<string, string> = {}
  responseHeaders: Record<string, string> = {}
  aborted = false
  upload: { onprogress: ((e: ProgressEvent) => void) | null; onload: (() => void) | null } = {
    onprogress: null,
    onload: null,
  }
  onload: (() => void) | null = null
  onerror: (() => void) | null = null
  ontimeout: (() => void) | null = null
  onabort: (() => void) | null = null
  open(method: string, url: string) {
    this.method = method
    this.url = url
  }
  setRequestHeader(k: string, v: string) {
    this.headers[k] = v
  }
  getResponseHeader(k: string): string | null {
    return this.responseHeaders[k] ?? null
  }
  send(body: FormData) {
    this.body = body
  }
  abort() {
    this.aborted = true
    this.onabort?.()
  }
  progress(loaded: number, total: number) {
    this.upload.onprogress?.({ loaded, total, lengthComputable: true } as ProgressEvent)
  }
  respond(status: number, body: unknown, headers: Record<string, string> = {}) {
    this.responseHeaders = headers
    this.status = status
    this.responseText = typeof body === 'string' ? body : JSON.stringify(body)
    this.onload?.()
  }
}

function start(opts: { timeoutMs?: number; signal?: AbortSignal } = {}) {
  const xhr = new FakeXhr()
  const onProgress = vi.fn()
  const file = new File([new Uint8Array(1000)], 'clip.mp4', { type: 'video/mp4' })
  const promise = uploadVideo('cam-1', file, {
    ...opts,
    onProgress,
    createXhr: () => xhr as unknown as XMLHttpRequest,
  })
  return { xhr, promise, onProgress }
}

const errorBody = (code: string) => ({ error: { code, message: `msg ${code}` } })

afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
})

describe('uploadVideo', () => {
  it('posts multipart field "video" and reports progress', async () => {
    vi.useFakeTimers()
    const { xhr, promise, onProgress } = start()
    expect(xhr.method).toBe('POST')
    expect(xhr.url).toBe('/api/cameras/cam-1/video')
    const sent = xhr.body?.get('video')
    expect(sent).toBeInstanceOf(File)
    expect((sent as File).name).toBe('clip.mp4')
    vi.advanceTimersByTime(500)
    xhr.progress(500, 1000)
    expect(onProgress).toHaveBeenLastCalledWith(
      expect.objectContaining({ loaded: 500, total: 1000, percent: 50 }),
    )
    expect(onProgress.mock.calls[0]![0].bytesPerSecond).toBeGreaterThan(0)
    const result = { upload: 'u_1', probe: { width: 640, height: 360, fps: 30, frames: 300, duration: 10 }, camera: { id: 'cam-1' } }
    xhr.respond(201, result)
    await expect(promise).resolves.toEqual(result)
  })

  it.each([
    [413, 'too_large'],
    [415, 'unsupported_media'],
    [422, 'unusable_video'],
    [507, 'disk_full'],
  ])('maps HTTP %i to %s', async (status, code) => {
    const { xhr, promise } = start()
    xhr.respond(status, errorBody(code))
    await expect(promise).rejects.toMatchObject({ status, code, message: `msg ${code}` })
  })

  it.each([
    [413, 'too_large'],
    [415, 'unsupported_media'],
    [422, 'unusable_video'],
    [507, 'disk_full'],
  ])('maps HTTP %i without a JSON body to %s', async (status, code) => {
    const { xhr, promise } = start()
    xhr.respond(status, '<html>proxy error</html>')
    await expect(promise).rejects.toMatchObject({ status, code })
  })

  it('reports "unreachable" when the connection fails before anything was sent', async () => {
    const { xhr, promise } = start()
    xhr.onerror?.()
    await expect(promise).rejects.toMatchObject({ code: 'unreachable' })
  })

  it('reports "connection_lost" when the connection breaks mid-upload', async () => {
    const { xhr, promise } = start()
    xhr.progress(300, 1000)
    xhr.onerror?.()
    await expect(promise).rejects.toMatchObject({ code: 'connection_lost' })
  })

  it('reports "timeout" when nothing happens for timeoutMs', async () => {
    vi.useFakeTimers()
    const { xhr, promise } = start({ timeoutMs: 1000 })
    vi.advanceTimersByTime(900)
    xhr.progress(100, 1000) // progress re-arms the timer
    vi.advanceTimersByTime(900)
    xhr.progress(200, 1000)
    vi.advanceTimersByTime(1000)
    await expect(promise).rejects.toMatchObject({ code: 'timeout' })
    expect(xhr.aborted).toBe(true)
  })

  it('reports "aborted" when the signal fires', async () => {
    const ctrl = new AbortController()
    const { xhr, promise } = start({ signal: ctrl.signal })
    xhr.progress(100, 1000)
    ctrl.abort()
    await expect(promise).rejects.toMatchObject({ code: 'aborted' })
    expect(xhr.aborted).toBe(true)
  })
})

describe('fetch wrapper', () => {
  it('throws ApiError with the code and message of the JSON error body', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response(JSON.stringify({ error: { code: 'conflict', message: 'exists' } }), { status: 409 })),
    )
    const err = await createCamera({ name: 'x' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err).toMatchObject({ status: 409, code: 'conflict', message: 'exists' })
  })

  it('throws "unreachable" on a network failure', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))))
    await expect(listCameras()).rejects.toMatchObject({ status: 0, code: 'unreachable' })
  })

  it('unwraps the camera list', async () => {
    const fetchMock = vi.fn(async () => new Response(JSON.stringify({ cameras: [{ id: 'a' }] }), { status: 200 }))
    vi.stubGlobal('fetch', fetchMock)
    await expect(listCameras()).resolves.toEqual([{ id: 'a' }])
    expect(fetchMock).toHaveBeenCalledWith('/api/cameras', expect.objectContaining({ method: 'GET' }))
  })
})

describe('401 and Retry-After', () => {
  const unauthorized = () =>
    new Response(JSON.stringify({ error: { code: 'unauthorized', message: 'token' } }), { status: 401 })

  it('tells onUnauthorized listeners about a 401 from an API call or an upload, not from /api/login', async () => {
    const heard = vi.fn()
    const stop = onUnauthorized(heard)
    vi.stubGlobal('fetch', vi.fn(async () => unauthorized()))
    await expect(login('wrong')).rejects.toMatchObject({ status: 401 })
    expect(heard).not.toHaveBeenCalled()
    await expect(listCameras()).rejects.toMatchObject({ status: 401, code: 'unauthorized' })
    expect(heard).toHaveBeenCalledTimes(1)
    const { xhr, promise } = start()
    xhr.respond(401, errorBody('unauthorized'))
    await expect(promise).rejects.toMatchObject({ status: 401 })
    expect(heard).toHaveBeenCalledTimes(2)
    stop()
    await expect(listCameras()).rejects.toMatchObject({ status: 401 })
    expect(heard).toHaveBeenCalledTimes(2)
  })

  it('carries Retry-After seconds on the error', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response(JSON.stringify(errorBody('rate_limited')), { status: 429, headers: { 'Retry-After': '30' } })),
    )
    await expect(login('x')).rejects.toMatchObject({ status: 429, code: 'rate_limited', retryAfterSeconds: 30 })
    const { xhr, promise } = start()
    xhr.respond(503, errorBody('upload_limit'), { 'Retry-After': '5' })
    await expect(promise).rejects.toMatchObject({ code: 'upload_limit', retryAfterSeconds: 5 })
  })

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter(null)).toBeNull()
    expect(parseRetryAfter('12')).toBe(12)
    expect(parseRetryAfter('soon')).toBeNull()
    const now = Date.parse('2026-12-03T00:00:00Z')
    expect(parseRetryAfter('Thu, 03 Dec 2026 00:00:10 GMT', now)).toBe(10)
    expect(parseRetryAfter('Thu, 03 Dec 2026 00:00:00 GMT', now + 5000)).toBe(0)
  })
})
