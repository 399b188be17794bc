// A scriptable WebSocket for tests of CameraSocket and the hooks.
import type { FrameHeader } from '@/lib/camera-protocol'
import type { WebSocketLike } from '@/lib/camera-socket'

export class FakeWebSocket implements WebSocketLike {
  static readonly CONNECTING = 0
  static readonly OPEN = 1
  static readonly CLOSING = 2
  static readonly CLOSED = 3

  binaryType: BinaryType = 'blob'
  readyState = FakeWebSocket.CONNECTING
  onopen: WebSocket['onopen'] = null
  onmessage: WebSocket['onmessage'] = null
  onclose: WebSocket['onclose'] = null
  onerror: WebSocket['onerror'] = null
  readonly sent: string[] = []
  closedByClient: { code?: number; reason?: string } | null = null
  readonly url: string

  constructor(url: string) {
    this.url = url
  }

  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    if (this.readyState !== FakeWebSocket.OPEN) throw new Error('not open')
    this.sent.push(String(data))
  }

  close(code?: number, reason?: string): void {
    this.closedByClient = { code, reason }
    this.serverClose(code ?? 1005)
  }

  /** Parsed JSON messages the client sent. */
  messages(): Record<string, unknown>[] {
    return this.sent.map((s) => JSON.parse(s) as Record<string, unknown>)
  }

  // ---- server side ----

  open(): void {
    this.readyState = FakeWebSocket.OPEN
    this.onopen?.call(this as unknown as WebSocket, new Event('open'))
  }

  receive(msg: object): void {
    this.onmessage?.call(this as unknown as WebSocket, new MessageEvent('message', { data: JSON.stringify(msg) }))
  }

  receiveBinary(buf: ArrayBuffer): void {
    this.onmessage?.call(this as unknown as WebSocket, new MessageEvent('message', { data: buf }))
  }

  serverClose(code = 1006): void {
    if (this.readyState === FakeWebSocket.CLOSED) return
    this.readyState = FakeWebSocket.CLOSED
    this.onclose?.call(this as unknown as WebSocket, new CloseEvent('close', { code }))
  }

  /** Network failure before the socket opened. */
  fail(): void {
    this.onerror?.call(this as unknown as WebSocket, new Event('error'))
    this.serverClose(1006)
  }
}

/** A factory that records every socket it made. */
export function fakeSocketFactory() {
  const sockets: FakeWebSocket[] = []
  const create = (url: string) => {
    const ws = new FakeWebSocket(url)
    sockets.push(ws)
    return ws
  }
  return {
    sockets,
    create,
    get last(): FakeWebSocket {
      const ws = sockets[sockets.length - 1]
      if (!ws) throw new Error('no socket created')
      return ws
    },
  }
}

export type FrameSpec = Pick<FrameHeader, 'channel' | 'epoch' | 'seq' | 'serverTime' | 'positionMs' | 'width' | 'height'> & {
  jpeg?: Uint8Array
  /** Defaults to 40; larger values add padding the client must skip. */
  headerLength?: number
}

/** Builds a binary frame message by hand, exactly as docs/protocol.md lays it out. */
export function buildFrame(spec: FrameSpec): ArrayBuffer {
  const headerLength = spec.headerLength ?? 40
  const jpeg = spec.jpeg ?? new Uint8Array([0xff, 0xd8, 0xff, 0xd9])
  const buf = new ArrayBuffer(headerLength + jpeg.byteLength)
  const v = new DataView(buf)
  v.setUint8(0, 1)
  v.setUint8(1, 0)
  v.setUint16(2, headerLength)
  v.setUint32(4, spec.channel)
  v.setBigUint64(8, BigInt(spec.epoch))
  v.setBigUint64(16, BigInt(spec.seq))
  v.setBigUint64(24, BigInt(spec.serverTime))
  v.setUint32(32, spec.positionMs)
  v.setUint16(36, spec.width)
  v.setUint16(38, spec.height)
  for (let i = 40; i < headerLength; i++) v.setUint8(i, 0xee)
  new Uint8Array(buf, headerLength).set(jpeg)
  return buf
}

/** A fake document/window pair for visibility and online events. */
export class FakeDocument extends EventTarget {
  visibilityState: DocumentVisibilityState = 'visible'
  setVisibility(state: DocumentVisibilityState): void {
    this.visibilityState = state
    this.dispatchEvent(new Event('visibilitychange'))
  }
}

export function memoryStorage(initial: Record<string, string> = {}) {
  const map = new Map(Object.entries(initial))
  return {
    getItem: (k: string) => map.get(k) ?? null,
    setItem: (k: string, v: string) => void map.set(k, v),
    removeItem: (k: string) => void map.delete(k),
    map,
  }
}
