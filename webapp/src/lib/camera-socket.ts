// CameraSocket owns the tab's one WebSocket to /api/ws (docs/protocol.md):
// session resume, subscriptions and reconnects with backoff, to the page's
// own server or, in a cluster, to the next of several edges (endpoints). The wire format
// is in camera-protocol.ts, the receive figures in receive-stats.ts. It
// knows nothing about React.
import {
  frameFromHeader,
  parseFrameHeader,
  parseServerMessage,
  renditionOf,
  type CameraFrame,
  type ClientMessage,
  type Rendition,
  type ServerMessage,
} from '@/lib/camera-protocol'
import { AckPacer } from '@/lib/ack-pacer'
import { ReceiveStats, type CameraReceiveStats } from '@/lib/receive-stats'

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'closed'

export interface SocketSnapshot {
  state: ConnectionState
  /** Consecutive failed connection attempts; 0 once a welcome arrived. */
  attempt: number
  sessionId: string | null
  /**
   * host[:port] of the server the last welcome came from; null before the
   * first. In a cluster it may be another edge than the page's own.
   */
  endpoint?: string | null
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
  /**
   * Other servers of a cluster (edges) to fail over to, as base URLs
   * (http(s)://host[:port]); see setEndpoints. Default: the list kept in
   * storage (key `livemon.edges`), so it survives while the page's own
   * server is down.
   */
  endpoints?: readonly string[]
  /** With several endpoints: the longest random wait before trying the next one. */
  switchDelayMs?: number
  /** With several endpoints: give up on a connection that has not opened this long. */
  openTimeoutMs?: number
  /**
   * 0 to 1, default random: where this tab starts in the list of the other
   * edges (rotated by it), so the viewers of a dead edge spread over the
   * others instead of all moving to the same one.
   */
  spread?: number
  /**
   * Flow control (docs/protocol.md): how many frames per channel may be on
   * their way to the screen unacknowledged. Default 1; 0 asks for none
   * (the server then sends every frame as soon as the socket takes it).
   */
  window?: number
  /**
   * Pace acks so that a saturated tab keeps few frames in flight across
   * its channels (ack-pacer.ts). Default true unless the storage holds
   * `livemon.pace` = `off` (for side-by-side measurements).
   */
  pace?: boolean
}

/** An error the server sent over the socket about one camera. */
export interface CameraError {
  code: string
  message: string
}

export const SESSION_KEY = 'livemon.session'
/** Storage key that turns ack pacing off when it holds `off`. */
export const PACE_KEY = 'livemon.pace'
/** Where the cluster's edge list is kept (JSON array of base URLs). */
export const EDGES_KEY = 'livemon.edges'
const SESSION_RE = /^[0-9a-f]{32}$/

function defaultUrl(): string {
  const loc = globalThis.location
  const proto = loc?.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${proto}//${loc?.host ?? 'localhost'}/api/ws`
}

/** ws(s)://host[:port]/api/ws of an http(s) base URL; null when it is not one. */
export function socketUrlOf(base: string): string | null {
  let u: URL
  try {
    u = new URL(base)
  } catch {
    return null
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || !u.host) return null
  return `${u.protocol === 'https:' ? 'wss:' : 'ws:'}//${u.host}/api/ws`
}

function hostOf(socketUrl: string): string {
  try {
    return new URL(socketUrl).host
  } catch {
    return socketUrl
  }
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

type FrameListener = (frame: CameraFrame) => void

interface Wanted {
  listener: FrameListener
  rendition: Rendition
}

/** The rendition a camera is subscribed in: full if any listener wants full. */
function wantedRendition(subs: Map<symbol, Wanted>): Rendition {
  for (const w of subs.values()) if (w.rendition === 'full') return 'full'
  return 'grid'
}

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
  private readonly window: number
  private readonly switchDelayMs: number
  private readonly openTimeoutMs: number
  /** opts.spread, or drawn when the first other edge arrives (a single server draws nothing). */
  private spread: number | null

  /** Socket URLs to connect to: the page's own first, then the other edges. */
  private endpoints: string[]
  /** The endpoint of the current (or last) connection. */
  private currentUrl: string
  /** Where the next attempt goes. */
  private nextUrl: string
  /** Endpoints that failed since the last welcome or backoff. */
  private readonly tried = new Set<string>()
  /** Whole rounds of endpoints that failed in a row: their backoff. */
  private roundsFailed = 0

  private ws: WebSocketLike | null = null
  private started = false
  private welcomed = false
  private paused = false
  private failures = 0
  private reconnectTimer: unknown = null
  private welcomeTimer: unknown = null
  private hiddenTimer: unknown = null
  private syncQueued = false
  /** The server granted flow control on this connection: every frame gets an ack. */
  private acking = false
  /** Frames received on this connection: a frame of an earlier one is never acked on a later one. */
  private connectionFrames = new WeakSet<CameraFrame>()
  /**
   * Server clock minus ours (ms): the largest of serverTime - arrival over
   * the welcome and every frame of this connection. Each is a lower bound
   * (a message arrives after it was stamped), so a late-handled welcome on a
   * busy tab does not make frames look younger than they are.
   */
  private clockOffsetMs: number | null = null
  private snapshot: SocketSnapshot

  /** camera -> active subscription tokens (reference count) and the rendition each wants. */
  private readonly wanted = new Map<string, Map<symbol, Wanted>>()
  /** Cameras the server has subscribed for this connection, and in which rendition, as far as we know. */
  private readonly serverSubs = new Map<string, Rendition>()
  /**
   * channel -> camera and rendition. A switched camera's old channel stays
   * mapped: the server goes on sending it until the new rendition's first
   * frame (docs/protocol.md), and those frames are still painted.
   */
  private readonly channels = new Map<number, { camera: string; rendition: Rendition }>()
  private readonly stats = new ReceiveStats()
  private readonly stateListeners = new Set<(s: SocketSnapshot) => void>()
  private readonly messageListeners = new Set<(m: ServerMessage) => void>()
  /** The server's last error for a camera (a refused subscribe, no decoder free), until it recovers. */
  private readonly cameraErrors = new Map<string, CameraError>()
  private readonly cameraErrorListeners = new Set<() => void>()
  /** Decides when an ack goes out (null: at once). */
  private readonly pacer: AckPacer | null
  /** camera -> the channel its last frame came on: a frame on a new one ends the old one (a rendition switch). */
  private readonly lastChannel = new Map<string, number>()

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
    this.window = opts.window ?? 1
    this.pacer =
      (opts.pace ?? this.readStored(PACE_KEY) !== 'off') === false
        ? null
        : new AckPacer({
            send: (channel, seq) => this.send({ type: 'ack', channel, seq }),
            now: this.now,
            timers: this.timers,
          })
    this.switchDelayMs = opts.switchDelayMs ?? 250
    this.openTimeoutMs = opts.openTimeoutMs ?? 5000
    this.spread = opts.spread ?? null
    this.endpoints = [this.url]
    this.currentUrl = this.url
    this.nextUrl = this.url
    this.applyEndpoints(opts.endpoints ?? this.readStoredEndpoints())
    this.snapshot = { state: 'connecting', attempt: 0, sessionId: this.readStoredSession(), endpoint: null }
  }

  // ---- public API ----------------------------------------------------------

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

  /**
   * The cluster's edges as base URLs (http(s)://host[:port], GET
   * /api/edges), kept in storage. The page's own server always comes
   * first; an empty list (a single server) means only it, as before
   * clusters. Takes effect at the next reconnect: a live connection stays.
   */
  setEndpoints(bases: readonly string[]): void {
    this.applyEndpoints(bases)
    try {
      if (this.endpoints.length > 1) this.storage?.setItem(EDGES_KEY, JSON.stringify(bases))
      else this.storage?.removeItem(EDGES_KEY)
    } catch {
      // not kept: the list still applies to this page
    }
  }

  /** The socket URLs this client connects to, its own first. */
  getEndpoints(): readonly string[] {
    return this.endpoints
  }

  private applyEndpoints(bases: readonly string[]): void {
    const others: string[] = []
    for (const b of bases) {
      const u = socketUrlOf(b)
      if (u && u !== this.url && !others.includes(u)) others.push(u)
    }
    others.sort()
    if (others.length > 0) this.spread ??= this.random()
    const k = Math.floor(Math.min(Math.max(this.spread ?? 0, 0), 0.999999) * others.length)
    const list = [this.url, ...others.slice(k), ...others.slice(0, k)]
    this.endpoints = list
    if (!list.includes(this.nextUrl)) this.nextUrl = this.url
  }

  private readStoredEndpoints(): string[] {
    try {
      const raw = this.storage?.getItem(EDGES_KEY)
      const v: unknown = raw ? JSON.parse(raw) : []
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
    } catch {
      return []
    }
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
   * one listener wants it, in `full` if any of them wants full, else in
   * `grid`. Switching a camera's rendition is gapless: frames of the old one
   * keep coming until the new one's first. Returns the unsubscribe function.
   */
  subscribe(camera: string, listener: FrameListener, rendition: Rendition = 'full'): () => void {
    let subs = this.wanted.get(camera)
    if (!subs) {
      subs = new Map()
      this.wanted.set(camera, subs)
    }
    const token = Symbol(camera)
    subs.set(token, { listener, rendition })
    this.sync()
    return () => {
      const current = this.wanted.get(camera)
      if (!current?.delete(token)) return
      if (current.size === 0) this.wanted.delete(camera)
      // Deferred so an unmount + remount in the same tick causes no churn.
      this.queueSync()
    }
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

  /**
   * The error the server last reported for this camera over the socket
   * (e.g. subscription_limit, decoder_limit); null once it subscribed,
   * started or sent a frame. The same object until it changes.
   */
  getCameraError(camera: string): CameraError | null {
    return this.cameraErrors.get(camera) ?? null
  }

  onCameraErrorChange(listener: () => void): () => void {
    this.cameraErrorListeners.add(listener)
    return () => this.cameraErrorListeners.delete(listener)
  }

  getCameraStats(camera: string): CameraReceiveStats {
    return this.stats.get(camera, this.now())
  }

  /** Whether a frame of the camera arrived within the last `withinMs`. */
  isReceiving(camera: string, withinMs: number): boolean {
    const now = this.now()
    const at = this.stats.get(camera, now).lastFrameAt
    return at !== null && now - at <= withinMs
  }

  /**
   * Called by the painter when a frame was put on screen (`at`: wall clock,
   * default now); acknowledges it at once, so the server sends the
   * channel's next frame.
   */
  markPainted(frame: CameraFrame, at = this.now()): void {
    this.stats.painted(frame.camera, frame.serverTime, at)
    this.finish(frame, frame.serverTime - (this.clockOffsetMs ?? 0))
  }

  /**
   * Called by the painter for a frame it will not paint (undecodable,
   * replaced by a newer one before its paint, or the tile went away):
   * acknowledges it at once, so the server sends the next. A replaced frame
   * needs this too: during a rendition switch it may be the only frame of
   * its channel in flight.
   */
  frameDone(frame: CameraFrame): void {
    this.finish(frame, null)
  }

  /** Acknowledges a frame now or when the pacer lets it go; `publishedAt` (our clock) for a painted one. */
  private finish(frame: CameraFrame, publishedAt: number | null): void {
    if (!this.acking || !this.connectionFrames.has(frame)) return
    if (this.pacer) this.pacer.done(frame.channel, frame.seq, publishedAt)
    else this.send({ type: 'ack', channel: frame.channel, seq: frame.seq })
  }

  /**
   * How old the frame is at `at` (wall clock, default now): ms since the
   * server published it, in the server's clock.
   */
  frameAgeMs(frame: CameraFrame, at = this.now()): number {
    return at + (this.clockOffsetMs ?? 0) - frame.serverTime
  }

  private learnClock(serverTime: number): void {
    const bound = serverTime - this.now()
    if (this.clockOffsetMs === null || bound > this.clockOffsetMs) this.clockOffsetMs = bound
  }

  /** Skips the backoff wait and tries now (used on 'online' and when visible). */
  private reconnectNow(): void {
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
    const url = this.nextUrl
    this.currentUrl = url
    try {
      ws = this.createWebSocket(url)
    } catch {
      this.failed()
      return
    }
    this.ws = ws
    ws.binaryType = 'arraybuffer'
    if (this.endpoints.length > 1) {
      // A dead host may take a long time to refuse: try the next one.
      this.welcomeTimer = this.timers.setTimeout(() => {
        this.welcomeTimer = null
        if (ws === this.ws && !this.welcomed) ws.close(4000, 'not opened')
      }, this.openTimeoutMs)
    }
    ws.onopen = () => {
      if (ws !== this.ws) return
      const session = this.readStoredSession()
      const window = this.window > 0 ? { window: this.window } : {}
      this.send(session ? { type: 'hello', session, ...window } : { type: 'hello', ...window })
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

  /**
   * After a failed attempt or a lost connection. One endpoint: back off and
   * retry it. Several: try the ones that have not failed yet in turn (the
   * page's own server first), each after a short random wait; when all
   * have, back off and start over, with another endpoint than the one that
   * just failed.
   */
  private failed(): void {
    this.failures++
    this.setSnapshot({ state: 'reconnecting', attempt: this.failures })
    this.clearTimer('reconnectTimer')
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = null
      if (this.started && !this.ws) this.open()
    }, this.nextDelay())
  }

  private nextDelay(): number {
    if (this.endpoints.length <= 1) return this.backoffDelay(this.failures)
    const failedUrl = this.currentUrl
    this.tried.add(failedUrl)
    const untried = this.endpoints.find((u) => !this.tried.has(u))
    if (untried !== undefined) {
      this.nextUrl = untried
      return Math.round(this.switchDelayMs * this.random())
    }
    this.tried.clear()
    this.roundsFailed++
    this.nextUrl = this.endpoints.find((u) => u !== failedUrl) ?? failedUrl
    return this.backoffDelay(this.roundsFailed)
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
    this.acking = false
    this.connectionFrames = new WeakSet()
    this.serverSubs.clear()
    this.channels.clear()
    this.lastChannel.clear()
    this.pacer?.reset()
    this.clearTimer('welcomeTimer')
  }

  private send(msg: ClientMessage): void {
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

  /**
   * Makes the server's subscriptions match the wanted set (empty while
   * paused), renditions included. A full subscribe names no rendition, as
   * clients before renditions did.
   */
  private sync(): void {
    if (!this.ws || !this.welcomed) return
    const desired = new Map<string, Rendition>()
    if (!this.paused) for (const [camera, subs] of this.wanted) desired.set(camera, wantedRendition(subs))
    for (const [camera, rendition] of desired) {
      if (this.serverSubs.get(camera) !== rendition) {
        this.serverSubs.set(camera, rendition)
        this.send(rendition === 'full' ? { type: 'subscribe', camera } : { type: 'subscribe', camera, rendition })
      }
    }
    for (const camera of [...this.serverSubs.keys()]) {
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
    const msg = parseServerMessage(data)
    if (!msg) return
    switch (msg.type) {
      case 'welcome':
        this.handleWelcome(msg)
        break
      case 'subscribed':
        this.channels.set(msg.channel, { camera: msg.camera, rendition: renditionOf(msg.rendition) })
        this.stats.resetBaseline(msg.camera, msg.epoch)
        this.setCameraError(msg.camera, null)
        break
      case 'unsubscribed': {
        const ch = this.lastChannel.get(msg.camera)
        if (ch !== undefined) this.pacer?.forget(ch)
        this.lastChannel.delete(msg.camera)
        break
      }
      case 'event':
        if (msg.event === 'deleted') {
          this.serverSubs.delete(msg.camera)
          this.stats.forget(msg.camera)
        }
        if (msg.event === 'epoch') this.stats.resetBaseline(msg.camera)
        if (msg.event === 'deleted' || msg.event === 'epoch' || msg.camera_state?.state === 'running') {
          this.setCameraError(msg.camera, null)
        }
        break
      case 'stats':
        for (const c of msg.cameras ?? []) {
          if (typeof c.position === 'number') this.stats.setPosition(c.camera, c.position)
        }
        break
      case 'error':
        if (msg.code === 'invalid_session') this.storage?.removeItem(SESSION_KEY)
        // A failed subscribe: forget it so a later sync can retry.
        if (msg.camera) {
          this.serverSubs.delete(msg.camera)
          this.setCameraError(msg.camera, { code: msg.code, message: msg.message })
        }
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
    this.acking = this.window > 0 && (msg.window ?? 0) > 0
    this.clockOffsetMs = null
    if (typeof msg.server_time === 'number') this.learnClock(msg.server_time)
    this.clearTimer('welcomeTimer')
    this.failures = 0
    this.tried.clear()
    this.roundsFailed = 0
    if (typeof msg.session === 'string' && msg.session) {
      try {
        this.storage?.setItem(SESSION_KEY, msg.session)
      } catch {
        // storage full or disabled: resume just won't work
      }
    }
    this.serverSubs.clear()
    this.channels.clear()
    this.lastChannel.clear()
    this.pacer?.reset()
    if (msg.resumed) {
      for (const sub of msg.subscriptions ?? []) {
        const rendition = renditionOf(sub.rendition)
        this.serverSubs.set(sub.camera, rendition)
        this.channels.set(sub.channel, { camera: sub.camera, rendition })
        this.stats.resetBaseline(sub.camera, sub.epoch)
      }
    }
    this.setSnapshot({
      state: 'live',
      attempt: 0,
      sessionId: msg.session || this.snapshot.sessionId,
      endpoint: hostOf(this.currentUrl),
    })
    this.sync()
  }

  private handleBinary(buf: ArrayBuffer): void {
    const h = parseFrameHeader(buf)
    if (!h) return
    const ch = this.channels.get(h.channel)
    const camera = ch?.camera ?? ''
    const rendition = ch?.rendition ?? 'full'
    const frame = frameFromHeader(camera, h, buf, rendition)
    this.connectionFrames.add(frame)
    this.learnClock(frame.serverTime)
    if (ch) {
      const prev = this.lastChannel.get(camera)
      if (prev !== h.channel) {
        // The server sends the old channel of a switched camera until now: it is done.
        if (prev !== undefined) this.pacer?.forget(prev)
        this.lastChannel.set(camera, h.channel)
      }
    }
    const listeners = ch ? this.wanted.get(camera) : undefined
    if (!listeners || listeners.size === 0) {
      this.frameDone(frame) // nobody paints it
      return
    }
    this.setCameraError(camera, null)
    this.stats.frame(camera, frame, this.now(), rendition !== 'full')
    for (const { listener: l } of [...listeners.values()]) {
      try {
        l(frame)
      } catch (err) {
        console.error(err)
      }
    }
  }

  // ---- helpers -------------------------------------------------------------

  private setCameraError(camera: string, err: CameraError | null): void {
    if (err !== null) this.cameraErrors.set(camera, err)
    else if (!this.cameraErrors.delete(camera)) return
    for (const l of [...this.cameraErrorListeners]) {
      try {
        l()
      } catch (e) {
        console.error(e)
      }
    }
  }

  private readStoredSession(): string | null {
    const s = this.readStored(SESSION_KEY)
    return s && SESSION_RE.test(s) ? s : null
  }

  private readStored(key: string): string | null {
    try {
      return this.storage?.getItem(key) ?? null
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
    if (
      next.state === cur.state &&
      next.attempt === cur.attempt &&
      next.sessionId === cur.sessionId &&
      next.endpoint === cur.endpoint
    ) {
      return
    }
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
