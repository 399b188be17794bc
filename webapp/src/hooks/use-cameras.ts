import { useEffect, useState } from 'react'
import { listCameras } from '@/api/client'
import type { Camera } from '@/types/api'
import type { CameraSocket } from '@/lib/camera-socket'
import { useCameraSocket } from '@/hooks/use-camera-socket'
import { usePoll } from '@/hooks/use-poll'

export const CAMERA_POLL_MS = 2000

/** The last camera list fetched in this tab (per socket, so per provider). */
const lastLists = new WeakMap<CameraSocket, Camera[]>()

/**
 * The camera list, polled every 2 s, patched at once by socket events
 * (camera_state) and refetched after each event. A page that mounts starts
 * from the tab's last fetched list (then refetches), so switching pages
 * (grid to focused view and back) shows the tiles at once, not "Loading".
 */
export function useCameras(pollMs = CAMERA_POLL_MS): {
  cameras: Camera[] | undefined
  error: unknown
  refresh: () => void
} {
  const socket = useCameraSocket()
  const { data, error, refresh } = usePoll(
    async (signal) => {
      const list = await listCameras({ signal })
      lastLists.set(socket, list)
      return list
    },
    pollMs,
    lastLists.get(socket),
  )
  // Event patches newer than the last fetch, keyed by camera id (null = deleted).
  const [patches, setPatches] = useState<{ base: Camera[] | undefined; byId: Map<string, Camera | null> }>({
    base: undefined,
    byId: new Map(),
  })

  useEffect(
    () =>
      socket.onMessage((msg) => {
        if (msg.type !== 'event') return
        setPatches((p) => {
          const byId = new Map(p.base === data ? p.byId : undefined)
          if (msg.event === 'deleted') byId.set(msg.camera, null)
          else if (msg.camera_state) byId.set(msg.camera, msg.camera_state)
          return { base: data, byId }
        })
        refresh()
      }),
    [socket, data, refresh],
  )

  let cameras = data
  if (data && patches.base === data && patches.byId.size > 0) {
    cameras = data
      .map((c) => (patches.byId.has(c.id) ? patches.byId.get(c.id) : c))
      .filter((c): c is Camera => !!c)
  }
  return { cameras, error, refresh }
}
