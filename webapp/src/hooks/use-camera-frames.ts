import { useEffect, useLayoutEffect, useRef, useState, useSyncExternalStore, type RefObject } from 'react'
import type { Rendition } from '@/lib/camera-protocol'
import type { CameraReceiveStats } from '@/lib/receive-stats'
import type { CameraError, CameraSocket } from '@/lib/camera-socket'
import { CanvasPool, type CanvasPainter, type PaintedRendition } from '@/lib/canvas-painter'
import { createFrameDecoder, type FrameDecoder } from '@/lib/frame-decoder'
import { everySecond } from '@/lib/ticker'
import { useCameraSocket } from '@/hooks/use-camera-socket'

export type { PaintedRendition } from '@/lib/canvas-painter'

/** Without a frame for this long a camera no longer counts as receiving. */
export const STALE_FRAME_MS = 4000

let decoder: FrameDecoder | null = null
const pools = new WeakMap<CameraSocket, CanvasPool>()

/** The canvases of a socket's tiles; one decoder (a worker where there are workers) per tab. */
function canvasPool(socket: CameraSocket): CanvasPool {
  let pool = pools.get(socket)
  if (!pool) {
    decoder ??= createFrameDecoder()
    pool = new CanvasPool({ decoder, sink: socket })
    pools.set(socket, pool)
  }
  return pool
}

/**
 * Subscribes `camera` in `rendition` on the shared socket and paints its
 * frames into the camera's canvas, which it puts into `hostRef`'s element
 * (lib/canvas-painter.ts): decoded and drawn by the paint worker, which
 * owns the canvas (where the browser cannot hand a canvas over: decoded
 * there, drawn here with a `bitmaprenderer` context), acknowledged once on
 * screen. The canvas
 * outlives the tile for a while and the camera's next tile takes it over
 * with its picture, so opening the focused view from the grid (or going
 * back) never shows an empty frame; meanwhile the old rendition's frames go
 * on being painted until the new one's first (no gap). Frames never touch
 * React state; only the "receiving" flag and the painted rendition (and its
 * width) do, when they change. The canvas is
 * `data-testid=frame-<camera>`, `role=img` with `label` as its name.
 */
export function useCameraFrames(
  camera: string,
  hostRef: RefObject<HTMLElement | null>,
  enabled = true,
  rendition: Rendition = 'full',
  label = '',
): { receiving: boolean; painted: PaintedRendition | null } {
  const socket = useCameraSocket()
  const pool = canvasPool(socket)
  const painterRef = useRef<CanvasPainter | null>(null)
  // A tile that replaces another of the camera (grid to focused view) is live at once.
  const [receiving, setReceiving] = useState<{ camera: string; on: boolean }>(() => ({
    camera,
    on: socket.isReceiving(camera, STALE_FRAME_MS),
  }))
  const shown = useSyncExternalStore(pool.subscribe, () => pool.shown(camera))

  // The canvas: in the DOM before the browser paints, with the picture it had.
  useLayoutEffect(() => {
    if (!enabled) return
    const host = hostRef.current
    if (!host) return
    const painter = pool.acquire(camera)
    const canvas = painter.canvas
    canvas.className = 'tile-picture'
    canvas.setAttribute('data-testid', `frame-${camera}`)
    canvas.setAttribute('role', 'img')
    host.appendChild(canvas)
    painterRef.current = painter
    return () => {
      painterRef.current = null
      // painter.canvas: a new element if the paint worker died meanwhile.
      if (painter.canvas.parentNode === host) host.removeChild(painter.canvas)
      pool.release(camera, painter)
    }
  }, [pool, camera, enabled, hostRef])

  useLayoutEffect(() => {
    painterRef.current?.canvas.setAttribute('aria-label', label)
  }, [label, camera, enabled])

  // What the state says, carried from one run of the effect below to the
  // next: a rendition switch re-subscribes, and the tile stays live
  // through it (its cleanup must not say "not receiving" for good).
  const shownReceiving = useRef(receiving)
  useEffect(() => {
    if (!enabled) return
    const set = (on: boolean) => {
      shownReceiving.current = { camera, on }
      setReceiving(shownReceiving.current)
    }
    let isReceiving = shownReceiving.current.camera === camera && shownReceiving.current.on
    const unsubscribe = socket.subscribe(
      camera,
      (frame) => {
        if (!isReceiving) {
          isReceiving = true
          set(true)
        }
        const painter = painterRef.current
        if (painter) painter.offer(frame)
        else socket.frameDone(frame)
      },
      rendition,
    )
    const stopTicks = everySecond(() => {
      if (isReceiving && !socket.isReceiving(camera, STALE_FRAME_MS)) {
        isReceiving = false
        set(false)
      }
    })
    return () => {
      stopTicks()
      unsubscribe()
    }
  }, [socket, camera, enabled, rendition])

  return {
    receiving: enabled && receiving.camera === camera && receiving.on,
    painted: enabled ? shown : null,
  }
}

/** The socket's receive figures for a camera, refreshed every second (all tiles in one render). */
export function useReceiveStats(camera: string, enabled = true): CameraReceiveStats | null {
  const socket = useCameraSocket()
  const [stats, setStats] = useState<{ camera: string; stats: CameraReceiveStats } | null>(null)
  useEffect(() => {
    if (!enabled) return
    return everySecond(() => setStats({ camera, stats: socket.getCameraStats(camera) }))
  }, [socket, camera, enabled])
  return enabled && stats?.camera === camera ? stats.stats : null
}

/** The server's last socket error for a camera (subscription_limit, decoder_limit, …), or null. */
export function useCameraError(camera: string): CameraError | null {
  const socket = useCameraSocket()
  return useSyncExternalStore(
    (cb) => socket.onCameraErrorChange(cb),
    () => socket.getCameraError(camera),
    () => socket.getCameraError(camera),
  )
}
