// The /api/ws wire format (docs/protocol.md): JSON control messages and the
// binary frame header. Stateless: parsing only, no socket, no React.
import type { Camera } from '@/types/api'

/** A camera's stream (docs/protocol.md, Renditions): full size, or the small grid one. */
export type Rendition = 'full' | 'grid'

export const RENDITIONS: readonly Rendition[] = ['full', 'grid']

/** The rendition a server message names; absent or unknown is full (older servers send none). */
export function renditionOf(v: unknown): Rendition {
  return v === 'grid' ? 'grid' : 'full'
}

export interface SubscriptionInfo {
  camera: string
  /** Absent from servers without renditions: full. */
  rendition?: Rendition
  channel: number
  epoch: number
  seq: number
  skipped?: number
}

/** One subscribed camera's figures in the once-a-second `stats` message. */
export interface CameraStatsMessage {
  camera: string
  fps: number
  viewers: number
  drops: number
  position: number
  state: string
}

export type ClientMessage =
  /** `window`: frames per channel the client lets be unacknowledged (flow control); absent: no acks. */
  | { type: 'hello'; session?: string; window?: number }
  | { type: 'subscribe'; camera: string; rendition?: Rendition }
  | { type: 'unsubscribe'; camera: string }
  /** Done with (painted or skipped) frame `seq` of `channel`: the server may send that channel's next. */
  | { type: 'ack'; channel: number; seq: number }

export type ServerMessage =
  | {
      type: 'welcome'
      session: string
      resumed: boolean
      server_time?: number
      /** Set when the server takes acks: the window it granted. */
      window?: number
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
  | { type: 'stats'; cameras: CameraStatsMessage[] | null }
  | { type: 'error'; code: string; message: string; camera?: string }

/** A JSON control message from the server; null if it is not an object with a string `type`. */
export function parseServerMessage(text: string): ServerMessage | null {
  let msg: unknown
  try {
    msg = JSON.parse(text)
  } catch {
    return null
  }
  if (!msg || typeof msg !== 'object' || typeof (msg as { type?: unknown }).type !== 'string') return null
  return msg as ServerMessage
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

/** A decoded binary frame message. `jpeg` is a view into the received buffer. */
export interface CameraFrame {
  camera: string
  /** The rendition of the channel it came on. */
  rendition: Rendition
  /** The channel it came on, for its ack. */
  channel: number
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

export const FRAME_MESSAGE = 1
export const MIN_HEADER_LENGTH = 40

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

/** The frame a header describes, for the camera (and rendition) its channel maps to. */
export function frameFromHeader(camera: string, h: FrameHeader, buf: ArrayBuffer, rendition: Rendition = 'full'): CameraFrame {
  return {
    camera,
    rendition,
    channel: h.channel,
    epoch: h.epoch,
    seq: h.seq,
    serverTime: h.serverTime,
    position: h.positionMs / 1000,
    width: h.width,
    height: h.height,
    jpeg: new Uint8Array(buf, h.headerLength),
  }
}
