// Which state a camera tile shows, from the socket, the camera and the frames.
import type { SocketSnapshot } from '@/lib/camera-socket'
import type { CameraRunState } from '@/types/api'

export type TileState = 'live' | 'connecting' | 'reconnecting' | 'offline' | 'stopped' | 'ended' | 'error'
export const TILE_STATES: readonly TileState[] = ['live', 'connecting', 'reconnecting', 'offline', 'stopped', 'ended', 'error']

/** After this many failed socket attempts tiles fall back to MJPEG. */
export const MJPEG_FALLBACK_ATTEMPTS = 5

export function shouldUseMjpeg(socket: SocketSnapshot, forceMjpeg: boolean): boolean {
  return forceMjpeg || (socket.state === 'reconnecting' && socket.attempt >= MJPEG_FALLBACK_ATTEMPTS)
}

export interface TileInputs {
  socket: SocketSnapshot
  cameraState: CameraRunState | undefined
  /** Frames arrived recently over the socket. */
  receiving: boolean
  mjpeg: boolean
  /** The MJPEG <img> reported an error. */
  mjpegFailed: boolean
  /** The server reported an error for this camera over the socket and sends no frames. */
  socketError: boolean
}

export function deriveTileState(i: TileInputs): TileState {
  // While the socket is down the camera state we hold is stale: say so.
  if (i.socket.state === 'reconnecting' && (!i.mjpeg || i.mjpegFailed)) return 'reconnecting'
  if (i.socketError) return 'error'
  switch (i.cameraState) {
    case 'error':
      return 'error'
    // A live source that does not answer; the tile keeps its last frame.
    // The server says running again (event or poll) once frames flow.
    case 'offline':
      return 'offline'
    case 'stopped':
      return 'stopped'
    case 'ended':
      return 'ended'
  }
  if (i.mjpeg) return i.cameraState === 'running' && !i.mjpegFailed ? 'live' : 'connecting'
  if (i.socket.state !== 'live') return 'connecting'
  return i.receiving ? 'live' : 'connecting'
}
