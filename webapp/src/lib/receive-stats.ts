// Per-camera receive statistics of one tab: frames per second, seq gaps
// (dropped frames), latency of the last painted frame, position. Plain
// data, no socket: CameraSocket feeds it.

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

interface Track {
  epoch: number | null
  seq: number | null
  /** Arrival times within the last second. */
  times: number[]
  dropped: number
  position: number | null
  latencyMs: number | null
  lastFrameAt: number | null
}

const FPS_WINDOW_MS = 1000

export class ReceiveStats {
  private readonly tracks = new Map<string, Track>()

  /**
   * A (re)subscription or a new epoch: the next frame sets the baseline, so
   * the time away is not counted as dropped frames.
   */
  resetBaseline(camera: string, epoch?: number): void {
    const t = this.track(camera)
    if (epoch !== undefined) t.epoch = epoch
    t.seq = null
  }

  /** The camera is gone: a camera re-created with its id starts afresh. */
  forget(camera: string): void {
    this.tracks.delete(camera)
  }

  setPosition(camera: string, position: number): void {
    this.track(camera).position = position
  }

  /**
   * A frame arrived at `now`. `sparse` frames (a rendition that skips seqs
   * by design, like grid) do not count their seq gaps as dropped.
   */
  frame(camera: string, f: { epoch: number; seq: number; position: number }, now: number, sparse = false): void {
    const t = this.track(camera)
    if (!sparse && t.seq !== null && t.epoch === f.epoch && f.seq > t.seq + 1) t.dropped += f.seq - t.seq - 1
    if (t.seq === null || t.epoch !== f.epoch || f.seq > t.seq) {
      t.epoch = f.epoch
      t.seq = f.seq
    }
    t.position = f.position
    t.times.push(now)
    prune(t, now)
    t.lastFrameAt = now
  }

  /** A frame published at `serverTime` (Unix ms) reached the screen at `now`. */
  painted(camera: string, serverTime: number, now: number): void {
    this.track(camera).latencyMs = Math.max(0, now - serverTime)
  }

  get(camera: string, now: number): CameraReceiveStats {
    const t = this.tracks.get(camera)
    if (!t) {
      return { fps: 0, latencyMs: null, dropped: 0, position: null, epoch: null, seq: null, lastFrameAt: null }
    }
    prune(t, now)
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

  private track(camera: string): Track {
    let t = this.tracks.get(camera)
    if (!t) {
      t = { epoch: null, seq: null, times: [], dropped: 0, position: null, latencyMs: null, lastFrameAt: null }
      this.tracks.set(camera, t)
    }
    return t
  }
}

function prune(t: Track, now: number): void {
  let i = 0
  while (i < t.times.length && (t.times[i] ?? 0) <= now - FPS_WINDOW_MS) i++
  if (i > 0) t.times.splice(0, i)
}
