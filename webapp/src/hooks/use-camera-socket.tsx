import {
  createContext,
  useContext,
  useEffect,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from 'react'
import { CameraSocket, type CameraSocketOptions, type SocketSnapshot } from '@/lib/camera-socket'
import { followEdges } from '@/lib/edge-list'
import { listEdges } from '@/api/client'

// One socket per tab, shared by every tile and page. The provider connects
// it while mounted and closes it when unmounted (the sign-in form replaced
// the app), so a signed-out tab does not keep knocking with a stale cookie.
let shared: CameraSocket | null = null

function getSharedSocket(options?: CameraSocketOptions): CameraSocket {
  shared ??= new CameraSocket(options)
  return shared
}

const SocketContext = createContext<CameraSocket | null>(null)

interface ProviderProps {
  /** Use this socket instead of the shared one (tests). It is not connected or closed here. */
  socket?: CameraSocket
  /** Only used when the shared socket is created; later changes never reconnect. */
  options?: CameraSocketOptions
  children: ReactNode
}

export function CameraSocketProvider({ socket, options, children }: ProviderProps) {
  // Created once: a new options object does not make a new socket.
  const [instance] = useState(() => socket ?? getSharedSocket(options))
  useEffect(() => {
    if (instance === socket) return
    instance.connect()
    // In a cluster, the other edges to fail over to (docs/operations.md,
    // "Edge failover"); asked once the socket is live, so the first frame
    // never waits behind it.
    let stopEdges: (() => void) | null = null
    const offState = instance.onStateChange((s) => {
      if (stopEdges || s.state !== 'live') return
      stopEdges = followEdges({
        load: (signal) => listEdges({ signal }),
        apply: (edges) => instance.setEndpoints(edges),
      })
    })
    return () => {
      offState()
      stopEdges?.()
      instance.close()
    }
  }, [instance, socket])
  return <SocketContext.Provider value={instance}>{children}</SocketContext.Provider>
}

export function useCameraSocket(): CameraSocket {
  const ctx = useContext(SocketContext)
  if (!ctx) throw new Error('useCameraSocket needs a <CameraSocketProvider>')
  return ctx
}

/** The socket's state, attempt count and session id; re-renders on change. */
export function useSocketStatus(): SocketSnapshot {
  const socket = useCameraSocket()
  return useSyncExternalStore(
    (cb) => socket.onStateChange(cb),
    socket.getSnapshot,
    socket.getSnapshot,
  )
}
