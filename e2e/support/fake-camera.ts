// Starts and stops `livemon fake-camera` (server/internal/fakecam): an HTTP
// camera on a free loopback port serving marker frames as MJPEG
// (/mjpeg) and as a snapshot (/snapshot.jpg), and, with `rtsp`, an RTSP
// camera (/h264, /h265) on another one, which a test can take down and
// bring back with POST /control?mode=down|up|stall, or stop and start again
// on the same ports.
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { LIVEMON_BIN, assertBinary } from './livemon.cjs'

export type FakeCameraMode = 'up' | 'down' | 'stall'

export interface FakeCameraOptions {
  /** Marker video id of its frames, 1-255; pick one no test video uses (they use 1-4 and 11-18). */
  videoId?: number
  fps?: number
  width?: number
  height?: number
  /** HTTP Basic (and RTSP) credentials the camera requires. */
  user?: string
  password?: string
  /** Serve RTSP too (320x180 at 15 fps unless rtspSize/rtspFps say otherwise). */
  rtsp?: boolean
  rtspSize?: string
  rtspFps?: number
  /** Listen addresses (default: free loopback ports); pass a stopped camera's to start it again in its place. */
  addr?: string
  rtspAddr?: string
}

/** The RTSP camera's marker video ids: /h264 shows 20, /h265 21. */
export const RTSP_VIDEO_IDS = { h264: 20, h265: 21 } as const

export interface FakeCamera {
  /** http://127.0.0.1:<port> */
  readonly url: string
  /** The listen addresses it was started with (rtspAddr '' without RTSP). */
  readonly addr: string
  readonly rtspAddr: string
  /** rtsp://127.0.0.1:<port>/h264 (or /h265), with `user:password@` when given. */
  rtspUrl(path: 'h264' | 'h265', credentials?: { user: string; password: string }): string
  readonly videoId: number
  /** The MJPEG stream URL, with `user:password@` when given. */
  mjpegUrl(credentials?: { user: string; password: string }): string
  snapshotUrl(credentials?: { user: string; password: string }): string
  /** down: closes every stream and refuses new ones; stall: sends nothing; up: normal. */
  setMode(mode: FakeCameraMode): Promise<void>
  /** SIGTERM, then SIGKILL after `graceMs`; waits for the exit. */
  stop(graceMs?: number): Promise<void>
  output(): string
}

const LISTENING_RE = /fake-camera listening on (http:\/\/127\.0\.0\.1:\d+)/

/** Spawns the fake camera and waits (at most `timeoutMs`) for the URL it prints. */
export async function startFakeCamera(opts: FakeCameraOptions = {}, timeoutMs = 10_000): Promise<FakeCamera> {
  assertBinary()
  const videoId = opts.videoId ?? 42
  const addr = opts.addr ?? `127.0.0.1:${await freePort()}`
  const rtspAddr = opts.rtsp ? (opts.rtspAddr ?? `127.0.0.1:${await freePort()}`) : ''
  const args = ['fake-camera', '--addr', addr, '--video-id', String(videoId), '--rtsp-addr', rtspAddr]
  if (opts.rtsp) args.push('--rtsp-size', opts.rtspSize ?? '320x180', '--rtsp-fps', String(opts.rtspFps ?? 15))
  if (opts.fps !== undefined) args.push('--fps', String(opts.fps))
  if (opts.width !== undefined) args.push('--width', String(opts.width))
  if (opts.height !== undefined) args.push('--height', String(opts.height))
  if (opts.user !== undefined) args.push('--user', opts.user)
  if (opts.password !== undefined) args.push('--password', opts.password)

  const child = spawn(LIVEMON_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  let exitInfo: string | null = null
  const exited = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exitInfo = `code ${code}, signal ${signal}`
      resolve()
    })
  })
  child.on('error', (err) => {
    exitInfo = `spawn error: ${err.message}`
  })

  const stop = async (graceMs = 5000) => {
    if (exitInfo) return
    child.kill('SIGTERM')
    let timer: ReturnType<typeof setTimeout> | undefined
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        if (!exitInfo) child.kill('SIGKILL')
        resolve()
      }, graceMs)
    })
    await Promise.race([exited, killed])
    clearTimeout(timer)
    await exited
  }

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail(`no "fake-camera listening on" line within ${timeoutMs} ms`), timeoutMs)
    function fail(why: string) {
      clearTimeout(timer)
      reject(new Error(`livemon fake-camera: ${why}\n--- output ---\n${log.slice(-4000)}`))
    }
    const onData = (chunk: string) => {
      log += chunk
      if (log.length > 100_000) log = log.slice(-50_000)
      const m = LISTENING_RE.exec(log)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    }
    child.stdout.setEncoding('utf8').on('data', onData)
    child.stderr.setEncoding('utf8').on('data', onData)
    child.on('exit', () => fail(`exited before listening (${exitInfo})`))
    child.on('error', (err) => fail(err.message))
  }).catch(async (err: unknown) => {
    await stop(1000)
    throw err
  })

  const withCredentials = (path: string, c?: { user: string; password: string }) => {
    if (!c) return `${url}${path}`
    const u = new URL(path, url)
    u.username = c.user
    u.password = c.password
    return u.toString()
  }

  return {
    url,
    addr,
    rtspAddr,
    videoId,
    rtspUrl(path, c) {
      if (!rtspAddr) throw new Error('this fake camera serves no RTSP: start it with rtsp: true')
      const auth = c ? `${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@` : ''
      return `rtsp://${auth}${rtspAddr}/${path}`
    },
    mjpegUrl: (c) => withCredentials('/mjpeg', c),
    snapshotUrl: (c) => withCredentials('/snapshot.jpg', c),
    async setMode(mode) {
      const res = await fetch(`${url}/control?mode=${mode}`, { method: 'POST', signal: AbortSignal.timeout(5000) })
      if (!res.ok) throw new Error(`fake camera mode ${mode}: HTTP ${res.status} ${await res.text()}`)
    },
    stop,
    output: () => log,
  }
}

/** A TCP port free on loopback right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address()
      srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))))
    })
  })
}
