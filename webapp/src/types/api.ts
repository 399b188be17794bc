// Shapes of the HTTP API and WebSocket payloads (docs/api.md, docs/protocol.md).

export type CameraRunState = 'stopped' | 'starting' | 'running' | 'ended' | 'error'

export interface VideoDescription {
  upload: string
  name: string
  size: number
  width: number
  height: number
  fps: number
  frames: number
  duration: number
}

export interface Camera {
  id: string
  name: string
  loop: boolean
  speed: number
  state: CameraRunState
  error: string
  epoch: number
  seq: number
  position: number
  channel: number
  viewers: { websocket?: number; mjpeg?: number }
  last_frame_age_ms: number | null
  fps: number
  video: VideoDescription | null
}

export interface CreateCameraInput {
  id?: string
  name: string
  loop?: boolean
  speed?: number
}

export type UpdateCameraInput = Partial<Pick<Camera, 'name' | 'loop' | 'speed'>>

export interface Probe {
  width: number
  height: number
  fps: number
  frames: number
  duration: number
}

export interface UploadResult {
  upload: string
  probe: Probe
  camera: Camera
}

export interface CameraStatsEntry {
  id: string
  state: CameraRunState
  fps: number
  seq: number
  viewers: { websocket?: number; mjpeg?: number }
  drops: { websocket?: number; mjpeg?: number }
  last_frame_age_ms: number | null
  restarts: number
  errors: { time: string; message: string }[]
  video: VideoDescription | null
}

export interface Stats {
  server: { version: string; uptime_s: number; sessions: number; ws_connections: number }
  cameras: CameraStatsEntry[]
}

export interface Health {
  status: string
}
