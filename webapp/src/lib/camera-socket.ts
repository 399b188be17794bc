// CameraSocket owns the tab's one WebSocket to /api/ws (docs/protocol.md):
// session resume, subscriptions, reconnects with backoff, frame parsing and
// per-camera receive statistics. It knows nothing about React.
import type { Camera } from '@/types/api'

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'closed'

export interface SocketSnapshot {
  state: ConnectionState
  /** Consecutive failed connection attempts; 0 once a welcome arrived. */
  attempt: number
  sessionId: string | null
}

/** A decoded binary frame message. `jpeg` is a view into the received buffer. */
export interface CameraFrame {
  camera: string
  epoch: number
  seq: number
  /** Unix ms when the server published the frame. */
  serverTime: number
  /** Seconds into the video file. */
  position: number
  width: number
  height: number
  jpeg: Uint8Array<ArrayBuffer>
}

export interface FrameHeader {
  type: number
  flags: number
  headerLength: number
  channel: number
  epoch: number
  seq: number
  serverTime: number
  positionMs: number
  width: number
  height: number
}

export interface SubscriptionInfo {
  camera: string
  channel: number
  epoch: number
  seq: number
  skipped?: number
}

export type ServerMessage =
  | {
      type: 'welcome'
      session: string
      resumed: boolean
      server_time?: number
      subscriptions: SubscriptionInfo[] | null
    }
  | ({ type: 'subscribed' } & SubscriptionInfo)
  | { type: 'unsubscribed'; camera: string }
  | {
      type: 'event'
      event: 'epoch' | 'state' | 'settings' | 'deleted' | (string & {})
      camera: string
      camera_state?: Camera
    }
  | { type: 'stats'; camera: string; fps: number; viewers: number; drops: number; position: number }
  | { type: 'error'; code: string; message: string; camera?: string }

export interface CameraReceiveStats {
  /** Frames received in the last second. */
  fps: number
  /** Date.now() - serverTime of the last painted frame, ms. */
  latencyMs: number | null
  /** Frames missing from the seq sequence since subscribing. */
  dropped: number
  /** Seconds into the video of the newest frame (or stats message). */
  position: number | null
  epoch: number | null
  seq: number | null
  /** now() when the last frame arrived. */
  lastFrameAt: number | null
}

export type WebSocketLike = Pick<
  WebSocket,
  'binaryType' | 'readyState' | 'onopen' | 'onmessage' | 'onclose' | 'onerror' | 'send' | 'close'
>

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

type Listenable = Pick<EventTarget, 'addEventListener' | 'removeEventListener'>

export interface CameraSocketOptions {
  /** Defaults to ws(s)://<location.host>/api/ws. */
  url?: string
  createWebSocket?: (url: string) => WebSocketLike
  /** Where the session id is kept (key `livemon.session`); null disables. */
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null
  timers?: Timers
  random?: () => number
  /** Wall clock (Unix ms), for latency. */
  now?: () => number
  /** Receives 'online'. */
  windowTarget?: Listenable | null
  /** Receives 'visibilitychange' and has visibilityState. */
  documentTarget?: (Listenable & { readonly visibilityState: DocumentVisibilityState }) | null
  initialBackoffMs?: number
  maxBackoffMs?: number
  /** How long a hidden tab keeps its subscriptions. */
  hiddenUnsubscribeMs?: number
  /** Close and retry when no welcome arrives this long after open. */
  welcomeTimeoutMs?: number
}

export const SESSION_KEY = 'livemon.session'
export const FRAME_MESSAGE = 1
export const MIN_HEADER_LENGTH = 40
const SESSION_RE = /^[0-9a-f]{32}$/

/** Parses the fixed binary frame header; null if it is not a valid frame. */
export function parseFrameHeader(buf: ArrayBuffer): FrameHeader | null {
  if (buf.byteLength < MIN_HEADER_LENGTH) return null
  const v = new DataView(buf)
  const type = v.getUint8(0)
  const headerLength = v.getUint16(2)
  if (type !== FRAME_MESSAGE || headerLength < MIN_HEADER_LENGTH || headerLength > buf.byteLength) {
    return null
  }
  return {
    type,
    flags: v.getUint8(1),
    headerLength,
    channel: v.getUint32(4),
    epoch: Number(v.getBigUint64(8)),
    seq: Number(v.getBigUint64(16)),
    serverTime: Number(v.getBigUint64(24)),
    positionMs: v.getUint32(32),
    width: v.getUint16(36),
    height: v.getUint16(38),
  }
}

function defaultUrl(): string {
  const loc = globalThis.location
  const proto = loc?.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${proto}//${loc?.host ?? 'localhost'}/api/ws`
}

function safeStorage(): Storage | null {
  try {
    return globalThis.localStorage ?? null
  } catch {
    return null
  }
}

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
}

interface Track {
  epoch: number | null
  seq: number | null
  times: number[]
  dropped: number
  position: number | null
  latencyMs: number | null
  lastFrameAt: number | null
}

type FrameListener = (frame: CameraFrame) => void

export class CameraSocket {
  private readonly url: string
  private readonly createWebSocket: (url: string) => WebSocketLike
  private readonly storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null
  private readonly timers: Timers
  private readonly random: () => number
  private readonly now: () => number
  private readonly windowTarget: Listenable | null
  private readonly documentTarget: CameraSocketOptions['documentTarget']
  private readonly initialBackoffMs: number
  private readonly maxBackoffMs: number
  private readonly hiddenUnsubscribeMs: number
  private readonly welcomeTimeoutMs: number

  private ws: WebSocketLike | null = null
  private started = false
  private welcomed = false
  private paused = false
  private failures = 0
  private reconnectTimer: unknown = null
  private welcomeTimer: unknown = null
  private hiddenTimer: unknown = null
  private syncQueued = false
  private snapshot: SocketSnapshot

  /** camera -> active subscription tokens (reference count). */
  private readonly wanted = new Map<string, Map<symbol, FrameListener>>()
  /** Cameras the server has subscribed for this connection, as far as we know. */
  private readonly serverSubs = new Set<string>()
  private readonly channels = new Map<number, string>()
  private readonly tracks = new Map<string, Track>()
  private readonly stateListeners = new Set<(s: SocketSnapshot) => void>()
  private readonly messageListeners = new Set<(m: ServerMessage) => void>()

  constructor(opts: CameraSocketOptions = {}) {
    this.url = opts.url ?? defaultUrl()
    this.createWebSocket = opts.createWebSocket ?? ((url) => new WebSocket(url))
    this.storage = opts.storage === undefined ? safeStorage() : opts.storage
    this.timers = opts.timers ?? defaultTimers
    this.random = opts.random ?? Math.random
    this.now = opts.now ?? Date.now
    this.windowTarget = opts.windowTarget === undefined ? (globalThis.window ?? null) : opts.windowTarget
    this.documentTarget =
      opts.documentTarget === undefined ? (globalThis.document ?? null) : opts.documentTarget
    this.initialBackoffMs = opts.initialBackoffMs ?? 500
    this.maxBackoffMs = opts.maxBackoffMs ?? 10_000
    this.hiddenUnsubscribeMs = opts.hiddenUnsubscribeMs ?? 10_000
    this.welcomeTimeoutMs = opts.welcomeTimeoutMs ?? 10_000
    this.snapshot = { state: 'connecting', attempt: 0, sessionId: this.readStoredSession() }
  }

  // ---- public API ----------------------------------------------------------

  get state(): ConnectionState {
    return this.snapshot.state
  }
  get attempt(): number {
    return this.snapshot.attempt
  }
  get sessionId(): string | null {
    return this.snapshot.sessionId
  }
  /** Immutable; a new object after every change (for useSyncExternalStore). */
  getSnapshot = (): SocketSnapshot => this.snapshot

  /** Opens the socket; idempotent. */
  connect(): void {
    if (this.started) return
    this.started = true
    this.windowTarget?.addEventListener('online', this.onOnline)
    this.documentTarget?.addEventListener('visibilitychange', this.onVisibility)
    if (this.documentTarget?.visibilityState === 'hidden') this.armHiddenTimer()
    this.setSnapshot({ state: 'connecting', attempt: 0 })
    this.open()
  }

  /** Closes the socket for good. */
  close(): void {
    if (!this.started) return
    this.started = false
    this.windowTarget?.removeEventListener('online', this.onOnline)
    this.documentTarget?.removeEventListener('visibilitychange', this.onVisibility)
    this.clearTimer('reconnectTimer')
    this.clearTimer('welcomeTimer')
    this.clearTimer('hiddenTimer')
    const ws = this.ws
    this.resetConnection()
    if (ws) {
      try {
        ws.close(1000, 'client closing')
      } catch {
        // already closed
      }
    }
    this.setSnapshot({ state: 'closed' })
  }

  /**
   * Reference-counted subscription: the camera stays subscribed while at least
   * one listener wants it. Returns the unsubscribe function.
   */
  subscribe(camera: string, listener: FrameListener): () => void {
    let subs = this.wanted.get(camera)
    if (!subs) {
      subs = new Map()
      this.wanted.set(camera, subs)
    }
    const token = Symbol(camera)
    subs.set(token, listener)
    this.sync()
    return () => {
      const current = this.wanted.get(camera)
      if (!current?.delete(token)) return
      if (current.size === 0) {
        this.wanted.delete(camera)
        // Deferred so an unmount + remount in the same tick causes no churn.
        this.queueSync()
      }
    }
  }

  /** Cameras somebody wants, whether or not they are subscribed right now. */
  wantedCameras(): string[] {
    return [...this.wanted.keys()]
  }

  onStateChange(listener: (s: SocketSnapshot) => void): () => void {
    this.stateListeners.add(listener)
    return () => this.stateListeners.delete(listener)
  }

  /** Every JSON message from the server (events, stats, errors, …). */
  onMessage(listener: (m: ServerMessage) => void): () => void {
    this.messageListeners.add(listener)
    return () => this.messageListeners.delete(listener)
  }

  getCameraStats(camera: string): CameraReceiveStats {
    const t = this.tracks.get(camera)
    if (!t) {
      return { fps: 0, latencyMs: null, dropped: 0, position: null, epoch: null, seq: null, lastFrameAt: null }
    }
    const now = this.now()
    this.prune(t, now)
    return {
      fps: t.times.length,
      latencyMs: t.latencyMs,
      dropped: t.dropped,
      position: t.position,
      epoch: t.epoch,
      seq: t.seq,
      lastFrameAt: t.lastFrameAt,
    }
  }

  /** Called by the painter when a frame reached the screen. */
  markPainted(frame: CameraFrame): void {
    const t = this.track(frame.camera)
    t.latencyMs = Math.max(0, this.now() - frame.serverTime)
  }

  /** Skips the backoff wait and tries now (used on 'online' and when visible). */
  reconnectNow(): void {
    if (!this.started || this.ws) return
    this.clearTimer('reconnectTimer')
    this.open()
  }

  /** Delay before reconnect attempt n (1-based): doubling from ~0.5 s, capped, ±25 % jitter. */
  backoffDelay(attempt: number): number {
    const base = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** Math.max(0, attempt - 1))
    return Math.min(this.maxBackoffMs, Math.round(base * (0.75 + 0.5 * this.random())))
  }

  // ---- connection ----------------------------------------------------------

  private open(): void {
    let ws: WebSocketLike
    try {
      ws = this.createWebSocket(this.url)
    } catch {
      this.failed()
      return
    }
    this.ws = ws
    ws.binaryType = 'arraybuffer'
    ws.onopen = () => {
      if (ws !== this.ws) return
      const session = this.readStoredSession()
      this.send(session ? { type: 'hello', session } : { type: 'hello' })
      this.clearTimer('welcomeTimer')
      this.welcomeTimer = this.timers.setTimeout(() => {
        this.welcomeTimer = null
        if (ws === this.ws && !this.welcomed) ws.close(4000, 'no welcome')
      }, this.welcomeTimeoutMs)
    }
    ws.onmessage = (ev: MessageEvent) => {
      if (ws !== this.ws) return
      if (typeof ev.data === 'string') this.handleText(ev.data)
      else if (ev.data instanceof ArrayBuffer) this.handleBinary(ev.data)
    }
    ws.onerror = () => {
      // a close event follows
    }
    ws.onclose = () => {
      if (ws !== this.ws) return
      this.resetConnection()
      if (this.started) this.failed()
    }
  }

  private failed(): void {
    this.failures++
    this.setSnapshot({ state: 'reconnecting', attempt: this.failures })
    this.clearTimer('reconnectTimer')
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = null
      if (this.started && !this.ws) this.open()
    }, this.backoffDelay(this.failures))
  }

  private resetConnection(): void {
    if (this.ws) {
      this.ws.onopen = null
      this.ws.onmessage = null
      this.ws.onclose = null
      this.ws.onerror = null
    }
    this.ws = null
    this.welcomed = false
    this.serverSubs.clear()
    this.channels.clear()
    this.clearTimer('welcomeTimer')
  }

  private send(msg: object): void {
    const ws = this.ws
    if (!ws) return
    try {
      ws.send(JSON.stringify(msg))
    } catch {
      // the close handler deals with a dead socket
    }
  }

  // ---- subscriptions -------------------------------------------------------

  private queueSync(): void {
    if (this.syncQueued) return
    this.syncQueued = true
    queueMicrotask(() => {
      this.syncQueued = false
      this.sync()
    })
  }

  /** Makes the server's subscriptions match the wanted set (empty while paused). */
  private sync(): void {
    if (!this.ws || !this.welcomed) return
    const desired = this.paused ? new Set<string>() : new Set(this.wanted.keys())
    for (const camera of desired) {
      if (!this.serverSubs.has(camera)) {
        this.serverSubs.add(camera)
        this.send({ type: 'subscribe', camera })
      }
    }
    for (const camera of [...this.serverSubs]) {
      if (!desired.has(camera)) {
        this.serverSubs.delete(camera)
        this.send({ type: 'unsubscribe', camera })
      }
    }
  }

  // ---- visibility / network ------------------------------------------------

  private onOnline = (): void => {
    this.reconnectNow()
  }

  private onVisibility = (): void => {
    if (this.documentTarget?.visibilityState === 'hidden') {
      this.armHiddenTimer()
      return
    }
    this.clearTimer('hiddenTimer')
    if (this.paused) {
      this.paused = false
      this.sync()
    }
    this.reconnectNow()
  }

  private armHiddenTimer(): void {
    this.clearTimer('hiddenTimer')
    this.hiddenTimer = this.timers.setTimeout(() => {
      this.hiddenTimer = null
      this.paused = true
      this.sync()
    }, this.hiddenUnsubscribeMs)
  }

  // ---- messages ------------------------------------------------------------

  private handleText(data: string): void {
    let msg: ServerMessage
    try {
      msg = JSON.parse(data) as ServerMessage
    } catch {
      return
    }
    if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') return
    switch (msg.type) {
      case 'welcome':
        this.handleWelcome(msg)
        break
      case 'subscribed':
        this.channels.set(msg.channel, msg.camera)
        this.resetBaseline(msg)
        break
      case 'unsubscribed':
        break
      case 'event':
        if (msg.event === 'deleted') this.serverSubs.delete(msg.camera)
        if (msg.event === 'epoch') this.track(msg.camera).seq = null
        break
      case 'stats':
        if (typeof msg.position === 'number') this.track(msg.camera).position = msg.position
        break
      case 'error':
        if (msg.code === 'invalid_session') this.storage?.removeItem(SESSION_KEY)
        // A failed subscribe: forget it so a later sync can retry.
        if (msg.camera) this.serverSubs.delete(msg.camera)
        break
    }
    for (const l of [...this.messageListeners]) {
      try {
        l(msg)
      } catch (err) {
        console.error(err)
      }
    }
  }

  private handleWelcome(msg: Extract<ServerMessage, { type: 'welcome' }>): void {
    this.welcomed = true
    this.clearTimer('welcomeTimer')
    this.failures = 0
    if (typeof msg.session === 'string' && msg.session) {
      try {
        this.storage?.setItem(SESSION_KEY, msg.session)
      } catch {
        // storage full or disabled: resume just won't work
      }
    }
    this.serverSubs.clear()
    this.channels.clear()
    if (msg.resumed) {
      for (const sub of msg.subscriptions ?? []) {
        this.serverSubs.add(sub.camera)
        this.channels.set(sub.channel, sub.camera)
        this.resetBaseline(sub)
      }
    }
    this.setSnapshot({ state: 'live', attempt: 0, sessionId: msg.session || this.snapshot.sessionId })
    this.sync()
  }

  private handleBinary(buf: ArrayBuffer): void {
    const h = parseFrameHeader(buf)
    if (!h) return
    const camera = this.channels.get(h.channel)
    if (camera === undefined) return
    const listeners = this.wanted.get(camera)
    if (!listeners || listeners.size === 0) return
    const now = this.now()
    const t = this.track(camera)
    if (t.seq !== null && t.epoch === h.epoch && h.seq > t.seq + 1) t.dropped += h.seq - t.seq - 1
    if (t.seq === null || t.epoch !== h.epoch || h.seq > t.seq) {
      t.epoch = h.epoch
      t.seq = h.seq
    }
    t.position = h.positionMs / 1000
    t.times.push(now)
    this.prune(t, now)
    t.lastFrameAt = now
    const frame: CameraFrame = {
      camera,
      epoch: h.epoch,
      seq: h.seq,
      serverTime: h.serverTime,
      position: h.positionMs / 1000,
      width: h.width,
      height: h.height,
      jpeg: new Uint8Array(buf, h.headerLength),
    }
    for (const l of [...listeners.values()]) {
      try {
        l(frame)
      } catch (err) {
        console.error(err)
      }
    }
  }

  // ---- helpers -------------------------------------------------------------

  private resetBaseline(sub: { camera: string; epoch: number }): void {
    const t = this.track(sub.camera)
    t.epoch = sub.epoch
    t.seq = null // the next frame sets the baseline; time away is not "dropped"
  }

  private track(camera: string): Track {
    let t = this.tracks.get(camera)
    if (!t) {
      t = { epoch: null, seq: null, times: [], dropped: 0, position: null, latencyMs: null, lastFrameAt: null }
      this.tracks.set(camera, t)
    }
    return t
  }

  private prune(t: Track, now: number): void {
    let i = 0
    while (i < t.times.length && (t.times[i] ?? 0) <= now - 1000) i++
    if (i > 0) t.times.splice(0, i)
  }

  private readStoredSession(): string | null {
    try {
      const s = this.storage?.getItem(SESSION_KEY) ?? null
      return s && SESSION_RE.test(s) ? s : null
    } catch {
      return null
    }
  }

  private clearTimer(name: 'reconnectTimer' | 'welcomeTimer' | 'hiddenTimer'): void {
    if (this[name] !== null) {
      this.timers.clearTimeout(this[name])
      this[name] = null
    }
  }

  private setSnapshot(patch: Partial<SocketSnapshot>): void {
    const next = { ...this.snapshot, ...patch }
    const cur = this.snapshot
    if (next.state === cur.state && next.attempt === cur.attempt && next.sessionId === cur.sessionId) return
    this.snapshot = next
    for (const l of [...this.stateListeners]) {
      try {
        l(next)
      } catch (err) {
        console.error(err)
      }
    }
  }
}
