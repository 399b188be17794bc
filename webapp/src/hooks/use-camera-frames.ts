import { useEffect, useState, useSyncExternalStore, type RefObject } from 'react'
import type { CameraFrame, Rendition } from '@/lib/camera-protocol'
import type { CameraReceiveStats } from '@/lib/receive-stats'
import type { CameraError } from '@/lib/camera-socket'
import { useCameraSocket } from '@/hooks/use-camera-socket'

/** Without a frame for this long a camera no longer counts as receiving. */
export const STALE_FRAME_MS = 4000

/** What a tile shows: the rendition and width of the frames it paints. */
export interface PaintedRendition {
  rendition: Rendition
  width: number
}

/**
 * Subscribes `camera` in `rendition` on the shared socket and paints every
 * frame into the canvas: decode with createImageBitmap, drawImage, close the
 * bitmap. Frames never touch React state; only the "receiving" flag and the
 * painted rendition (and its width) do, when they change.
 * While a decode runs, newer frames replace each other in a one-frame slot
 * (the others are dropped), so a slow tab shows the newest picture.
 * The canvas gets data-seq / data-epoch / data-rendition of the painted
 * frame, and for tests data-frame-age-ms (how old it was when painted, in
 * the server's clock) and data-painted-at (Date.now() then). While a
 * rendition switch waits for the new rendition's first frame, the old
 * rendition's frames go on being painted (no gap). Each frame is
 * acknowledged to the socket (flow control) once painted or given up.
 */
export function useCameraFrames(
  camera: string,
  canvasRef: RefObject<HTMLCanvasElement | null>,
  enabled = true,
  rendition: Rendition = 'full',
): { receiving: boolean; painted: PaintedRendition | null } {
  const socket = useCameraSocket()
  const [receiving, setReceiving] = useState<{ camera: string; on: boolean }>({ camera, on: false })
  const [painted, setPainted] = useState<{ camera: string; value: PaintedRendition } | null>(null)

  useEffect(() => {
    if (!enabled) return
    let cancelled = false
    let busy = false
    let pending: CameraFrame | null = null
    let lastFrameAt = 0
    let isReceiving = false
    let shown: PaintedRendition | null = null

    const draw = (frame: CameraFrame, bitmap: ImageBitmap): boolean => {
      const canvas = canvasRef.current
      if (!canvas) return false
      if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
        canvas.width = bitmap.width
        canvas.height = bitmap.height
      }
      canvas.getContext('2d')?.drawImage(bitmap, 0, 0)
      canvas.dataset.seq = String(frame.seq)
      canvas.dataset.epoch = String(frame.epoch)
      canvas.dataset.rendition = frame.rendition
      canvas.dataset.painted = 'true'
      canvas.dataset.frameAgeMs = String(Math.round(socket.frameAgeMs(frame)))
      canvas.dataset.paintedAt = String(Date.now())
      socket.markPainted(frame)
      if (shown?.rendition !== frame.rendition || shown.width !== bitmap.width) {
        shown = { rendition: frame.rendition, width: bitmap.width }
        setPainted({ camera, value: shown })
      }
      return true
    }

    const paint = async (frame: CameraFrame) => {
      busy = true
      let painted = false
      try {
        const bitmap = await createImageBitmap(new Blob([frame.jpeg], { type: 'image/jpeg' }))
        try {
          if (!cancelled) painted = draw(frame, bitmap)
        } finally {
          bitmap.close()
        }
      } catch {
        // an undecodable frame is skipped
      } finally {
        busy = false
        if (!painted) socket.frameDone(frame)
      }
      const next = pending
      pending = null
      if (next && !cancelled) void paint(next)
    }

    const unsubscribe = socket.subscribe(
      camera,
      (frame) => {
        lastFrameAt = performance.now()
        if (!isReceiving) {
          isReceiving = true
          setReceiving({ camera, on: true })
        }
        if (busy) {
          if (pending) socket.frameDone(pending) // replaced unpainted
          pending = frame
        } else void paint(frame)
      },
      rendition,
    )
    const staleTimer = setInterval(() => {
      if (isReceiving && performance.now() - lastFrameAt > STALE_FRAME_MS) {
        isReceiving = false
        setReceiving({ camera, on: false })
      }
    }, 1000)
    return () => {
      cancelled = true
      if (pending) socket.frameDone(pending)
      pending = null
      clearInterval(staleTimer)
      unsubscribe()
      if (isReceiving) setReceiving({ camera, on: false })
    }
  }, [socket, camera, canvasRef, enabled, rendition])

  return {
    receiving: enabled && receiving.camera === camera && receiving.on,
    painted: enabled && painted?.camera === camera ? painted.value : null,
  }
}

/** The socket's receive figures for a camera, refreshed every second. */
export function useReceiveStats(camera: string, enabled = true): CameraReceiveStats | null {
  const socket = useCameraSocket()
  const [stats, setStats] = useState<{ camera: string; stats: CameraReceiveStats } | null>(null)
  useEffect(() => {
    if (!enabled) return
    const tick = () => setStats({ camera, stats: socket.getCameraStats(camera) })
    const id = setInterval(tick, 1000)
    return () => clearInterval(id)
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
