import type { Camera } from '@/types/api'

/** A running camera playing an uploaded 320×180 video. */
export const fileCamera: Camera = {
  id: 'demo',
  name: 'Demo cam',
  loop: true,
  speed: 1,
  state: 'running',
  error: '',
  error_code: '',
  epoch: 3,
  seq: 100,
  position: 1,
  channel: 1,
  viewers: { websocket: 0, mjpeg: 0 },
  last_frame_age_ms: 10,
  fps: 30,
  video: { upload: 'u_1', name: 'clip.mp4', size: 1000, width: 320, height: 180, fps: 30, frames: 300, duration: 10 },
  source: { kind: 'file', url: '', transport: '' },
  grid: { width: 480, fps: 10, own: { width: 0, fps: 0 } },
}

/** A running camera fed by an MJPEG URL with a (masked) password. */
export const liveCamera: Camera = {
  ...fileCamera,
  id: 'gate',
  name: 'Gate',
  video: null,
  source: { kind: 'mjpeg', url: 'http://admin:xxxxx@cam.local/stream', transport: '' },
}
