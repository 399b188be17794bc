// Failover between a cluster's edges (several endpoints): rotation, own
// server first, backoff only after a whole round, the same session resumed.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CameraSocket, EDGES_KEY, SESSION_KEY, socketUrlOf } from '@/lib/camera-socket'
import { followEdges } from '@/lib/edge-list'
import { FakeDocument, fakeSocketFactory, memoryStorage } from '@/test/fake-websocket'

const SESSION = '0123456789abcdef0123456789abcdef'
const A = 'ws://edge-a:8001/api/ws' // the page's own server
const B = 'ws://edge-b:8002/api/ws'
const C = 'wss://edge-c.example/api/ws'
const EDGES = ['http://edge-a:8001', 'http://edge-b:8002', 'https://edge-c.example']

function setup(opts: { endpoints?: string[]; stored?: Record<string, string>; spread?: number } = {}) {
  const factory = fakeSocketFactory()
  const storage = memoryStorage(opts.stored ?? {})
  const socket = new CameraSocket({
    url: A,
    createWebSocket: factory.create,
    storage,
    random: () => 0.5, // backoff factor 1.0; switch wait 125 ms
    now: () => Date.now(),
    windowTarget: new EventTarget(),
    documentTarget: new FakeDocument(),
    endpoints: opts.endpoints,
    spread: opts.spread ?? 0,
  })
  return { socket, factory, storage }
}

type Fake = ReturnType<typeof fakeSocketFactory>['last']

function welcome(ws: Fake, resumed = false) {
  ws.open()
  ws.receive({
    type: 'welcome',
    session: SESSION,
    resumed,
    server_time: Date.now(),
    subscriptions: resumed ? [{ camera: 'cam1', rendition: 'grid', channel: 7, epoch: 2, seq: 900 }] : [],
  })
}

/** Runs the pending reconnect timer; returns how long it waited and the new socket's URL. */
function nextAttempt(factory: ReturnType<typeof fakeSocketFactory>): { waited: number; url: string } {
  const before = factory.sockets.length
  let waited = 0
  while (factory.sockets.length === before && waited < 60_000) {
    vi.advanceTimersByTime(1)
    waited++
  }
  expect(factory.sockets.length, 'a new attempt').toBe(before + 1)
  return { waited, url: factory.last.url }
}

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('CameraSocket endpoints', () => {
  it('maps base URLs to socket URLs, own server first, without duplicates', () => {
    expect(socketUrlOf('https://edge-c.example/')).toBe(C)
    expect(socketUrlOf('ftp://x')).toBeNull()
    expect(socketUrlOf('not a url')).toBeNull()
    const { socket, storage } = setup()
    expect(socket.getEndpoints()).toEqual([A])
    socket.setEndpoints(['http://edge-b:8002', 'http://edge-a:8001', 'junk', 'http://edge-b:8002'])
    expect(socket.getEndpoints()).toEqual([A, B])
    expect(JSON.parse(storage.map.get(EDGES_KEY)!)).toEqual(['http://edge-b:8002', 'http://edge-a:8001', 'junk', 'http://edge-b:8002'])
    // A single server again: nothing kept.
    socket.setEndpoints([])
    expect(socket.getEndpoints()).toEqual([A])
    expect(storage.map.has(EDGES_KEY)).toBe(false)
  })

  it('spreads tabs over the other edges: each starts at its own place in the sorted list', () => {
    const others = (spread: number) => setup({ endpoints: [...EDGES].reverse(), spread }).socket.getEndpoints()
    expect(others(0)).toEqual([A, B, C])
    expect(others(0.5)).toEqual([A, C, B])
    expect(others(0.99)).toEqual([A, C, B])
  })

  it('starts from the list kept in storage', () => {
    const { socket } = setup({ stored: { [EDGES_KEY]: JSON.stringify(EDGES) } })
    expect(socket.getEndpoints()).toEqual([A, B, C])
    expect(setup({ stored: { [EDGES_KEY]: '{broken' } }).socket.getEndpoints()).toEqual([A])
  })

  it('with one endpoint retries it with the usual backoff', () => {
    const { socket, factory } = setup()
    socket.connect()
    welcome(factory.last)
    factory.last.serverClose()
    for (const delay of [500, 1000, 2000]) {
      const { waited, url } = nextAttempt(factory)
      expect([waited, url]).toEqual([delay, A])
      factory.last.fail()
    }
  })

  it('when its edge dies, resumes the same session on the next edge at once', () => {
    const { socket, factory } = setup({ endpoints: EDGES })
    socket.connect()
    expect(factory.last.url).toBe(A)
    welcome(factory.last)
    const frames: number[] = []
    socket.subscribe('cam1', (f) => frames.push(f.seq), 'grid')
    expect(factory.last.messages().slice(1)).toEqual([{ type: 'subscribe', camera: 'cam1', rendition: 'grid' }])
    expect(socket.getSnapshot().endpoint).toBe('edge-a:8001')

    factory.last.serverClose() // edge A stopped
    expect(socket.getSnapshot().state).toBe('reconnecting')
    const { waited, url } = nextAttempt(factory)
    expect(url).toBe(B)
    expect(waited).toBeLessThanOrEqual(250)
    welcome(factory.last, true)
    // Same session; the resumed subscription is not sent again.
    expect(factory.last.messages()).toEqual([{ type: 'hello', session: SESSION, window: 1 }])
    expect(socket.getSnapshot()).toMatchObject({ state: 'live', attempt: 0, sessionId: SESSION, endpoint: 'edge-b:8002' })
  })

  it('tries the page’s own server first when the edge it moved to dies, and the others before backing off', () => {
    const { socket, factory } = setup({ endpoints: EDGES })
    socket.connect()
    welcome(factory.last)
    factory.last.serverClose()
    expect(nextAttempt(factory).url).toBe(B)
    welcome(factory.last, true)

    factory.last.serverClose() // B dies: A (own) first, then C, each quickly
    let next = nextAttempt(factory)
    expect(next.url).toBe(A)
    expect(next.waited).toBeLessThanOrEqual(250)
    factory.last.fail()
    next = nextAttempt(factory)
    expect(next.url).toBe(C)
    expect(next.waited).toBeLessThanOrEqual(250)
    factory.last.fail()
    // All three failed: back off (500 ms, then 1 s), never the one that just failed first.
    next = nextAttempt(factory)
    expect(next).toEqual({ waited: 500, url: A })
    factory.last.fail()
    expect(nextAttempt(factory).url).toBe(B)
    factory.last.fail()
    expect(nextAttempt(factory).url).toBe(C)
    factory.last.fail()
    expect(nextAttempt(factory)).toEqual({ waited: 1000, url: A })
    welcome(factory.last, true)
    expect(socket.getSnapshot()).toMatchObject({ state: 'live', endpoint: 'edge-a:8001' })
    // Success resets the rounds: the next loss switches at once again.
    factory.last.serverClose()
    expect(nextAttempt(factory).waited).toBeLessThanOrEqual(250)
  })

  it('gives up on an edge that does not open and tries the next', () => {
    const { socket, factory } = setup({ endpoints: EDGES })
    socket.connect()
    welcome(factory.last)
    factory.last.serverClose()
    expect(nextAttempt(factory).url).toBe(B)
    // B never answers (a dead host): after the open timeout, C.
    vi.advanceTimersByTime(5000)
    expect(factory.last.closedByClient).not.toBeNull()
    expect(nextAttempt(factory).url).toBe(C)
  })

  it('keeps the session id in storage across edges', () => {
    const { socket, factory, storage } = setup({ endpoints: EDGES })
    socket.connect()
    welcome(factory.last)
    expect(storage.map.get(SESSION_KEY)).toBe(SESSION)
    factory.last.serverClose()
    nextAttempt(factory)
    factory.last.open()
    expect(factory.last.messages()[0]).toEqual({ type: 'hello', session: SESSION, window: 1 })
  })
})

describe('followEdges', () => {
  it('applies the list now and every interval while it is a cluster, keeps it while unreachable', async () => {
    const answers: (string[] | Error)[] = [EDGES, new Error('down'), ['http://edge-b:8002']]
    const applied: string[][] = []
    const stop = followEdges({
      load: async () => {
        const a = answers.shift() ?? []
        if (a instanceof Error) throw a
        return a
      },
      apply: (l) => applied.push(l),
      intervalMs: 1000,
    })
    await vi.advanceTimersByTimeAsync(0)
    expect(applied).toEqual([EDGES])
    await vi.advanceTimersByTimeAsync(1000) // unreachable: nothing applied
    expect(applied).toEqual([EDGES])
    await vi.advanceTimersByTimeAsync(1000)
    expect(applied).toEqual([EDGES, ['http://edge-b:8002']])
    stop()
    await vi.advanceTimersByTimeAsync(5000)
    expect(applied).toHaveLength(2)
  })

  it('stops asking a single server', async () => {
    let calls = 0
    followEdges({ load: async () => (calls++, []), apply: () => undefined, intervalMs: 1000 })
    await vi.advanceTimersByTimeAsync(10_000)
    expect(calls).toBe(1)
  })
})
