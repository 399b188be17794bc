// Shapes of the HTTP API and WebSocket payloads (docs/api.md, docs/protocol.md).
//
// server/internal/httpapi/contract_test.go reads the interfaces below and
// compares their fields with the JSON the real handlers send, so keep the
// file simple: one `name: type` per line, no inline object types (name
// them), `| null` where the server may send null.

export type CameraRunState = 'stopped' | 'starting' | 'running' | 'ended' | 'error' | 'offline'

/** file: an uploaded video; http: a URL whose kind is not known yet; rtsp: an RTSP(S) stream. */
export type SourceKind = 'file' | 'http' | 'mjpeg' | 'snapshot' | 'rtsp'

/** How an RTSP source carries its packets; '' for other sources. */
export type RtspTransport = 'tcp' | 'udp'

/** What feeds a camera; url has its password replaced by xxxxx, '' for a file. */
export interface CameraSource {
  kind: SourceKind
  url: string
  transport: string
}

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

/** How a viewer receives frames. */
export type Transport = 'websocket' | 'mjpeg' | 'snapshot'
/** Per-transport counts; transports with nothing to count may be absent. */
export type TransportCounts = Partial<Record<Transport, number>>

export interface Camera {
  id: string
  name: string
  loop: boolean
  speed: number
  state: CameraRunState
  error: string
  /** API error code of `error` (e.g. decoder_limit); '' if none. */
  error_code: string
  epoch: number
  seq: number
  position: number
  channel: number
  viewers: TransportCounts
  last_frame_age_ms: number | null
  fps: number
  video: VideoDescription | null
  source: CameraSource
  grid: CameraGrid
}

/** A grid rendition's size and rate; in an update 0 means the server's (--grid-width, --grid-fps). */
export interface GridSize {
  width: number
  fps: number
}

/** The grid rendition a camera plays, and its own setting (0: the server's). */
export interface CameraGrid {
  width: number
  fps: number
  own: GridSize
}

/** GET /api/cameras */
export interface CameraList {
  cameras: Camera[] | null
}

/** A live source in a create or update request; transport only for rtsp(s) URLs (default tcp). */
export interface SourceInput {
  url: string
  transport?: RtspTransport
}

export interface CreateCameraInput {
  id?: string
  name: string
  loop?: boolean
  speed?: number
  source?: SourceInput
}

export interface UpdateCameraInput {
  name?: string
  loop?: boolean
  speed?: number
  source?: SourceInput
  grid?: GridSize
}

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

export interface CameraErrorRecord {
  time: string
  message: string
}

/** A camera in GET /api/stats: the camera object plus its counters. */
export interface CameraStatsEntry extends Camera {
  drops: TransportCounts
  published: number
  encoded: number
  grabbed: number
  restarts: number
  errors: CameraErrorRecord[] | null
}

export interface ServerStats {
  version: string
  uptime_s: number
  sessions: number
  ws_connections: number
}

/** GET /api/stats */
export interface Stats {
  server: ServerStats
  cameras: CameraStatsEntry[]
}

export interface Health {
  status: string
}

/** GET /api/edges: a cluster's live edges (base URLs); empty on a single server. */
export interface EdgeList {
  edges: string[]
}
