import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CameraSocket, SESSION_KEY, type SocketSnapshot } from '@/lib/camera-socket'
import type { CameraFrame } from '@/lib/camera-protocol'
import {
  FakeDocument,
  buildFrame,
  fakeSocketFactory,
  memoryStorage,
} from '@/test/fake-websocket'

const SESSION_A = '0123456789abcdef0123456789abcdef'
const SESSION_B = 'fedcba9876543210fedcba9876543210'

function setup(opts: { stored?: string; random?: () => number; window?: number } = {}) {
  const factory = fakeSocketFactory()
  const storage = memoryStorage(opts.stored ? { [SESSION_KEY]: opts.stored } : {})
  const win = new EventTarget()
  const doc = new FakeDocument()
  const socket = new CameraSocket({
    url: 'ws://test/api/ws',
    createWebSocket: factory.create,
    storage,
    random: opts.random ?? (() => 0.5),
    now: () => Date.now(),
    windowTarget: win,
    documentTarget: doc,
    window: opts.window,
  })
  const states: SocketSnapshot[] = []
  socket.onStateChange((s) => states.push(s))
  return { socket, factory, storage, win, doc, states }
}

function welcome(
  ws: { receive(m: object): void },
  session: string,
  resumed = false,
  subscriptions: { camera: string; rendition?: string; channel: number; epoch: number; seq: number }[] = [],
) {
  ws.receive({ type: 'welcome', session, resumed, server_time: Date.now(), subscriptions })
}

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('CameraSocket session', () => {
  it('sends the stored session id in hello and stores the id from welcome', () => {
    const { socket, factory, storage } = setup({ stored: SESSION_A })
    socket.connect()
    expect(factory.last.url).toBe('ws://test/api/ws')
    factory.last.open()
    expect(factory.last.messages()).toEqual([{ type: 'hello', session: SESSION_A, window: 1 }])

    welcome(factory.last, SESSION_B)
    expect(storage.map.get(SESSION_KEY)).toBe(SESSION_B)
    expect(socket.getSnapshot().sessionId).toBe(SESSION_B)
    expect(socket.getSnapshot().state).toBe('live')
  })

  it('sends hello without a session when none (or a malformed one) is stored', () => {
    const { socket, factory } = setup({ stored: '../../etc/passwd' })
    socket.connect()
    factory.last.open()
    expect(factory.last.messages()).toEqual([{ type: 'hello', window: 1 }])
  })

  it('resumes with the id it was given on the previous connection', () => {
    const { socket, factory } = setup()
    socket.connect()
    factory.last.open()
    welcome(factory.last, SESSION_A)
    factory.last.serverClose()
    vi.runOnlyPendingTimers()
    factory.last.open()
    expect(factory.last.messages()[0]).toEqual({ type: 'hello', session: SESSION_A, window: 1 })
  })

  it('forgets a session the server calls invalid', () => {
    const { socket, factory, storage } = setup({ stored: SESSION_A })
    socket.connect()
    factory.last.open()
    factory.last.receive({ type: 'error', code: 'invalid_session', message: 'bad' })
    expect(storage.map.has(SESSION_KEY)).toBe(false)
  })
})

describe('CameraSocket backoff', () => {
  it('grows the delay exponentially up to 10 s and resets after a welcome', () => {
    const { socket, factory, states } = setup({ random: () => 0.5 })
    socket.connect()
    expect(socket.getSnapshot().state).toBe('connecting')

    // random 0.5 -> factor 1.0: 500, 1000, 2000, 4000, 8000, 10000, 10000
    const expected = [500, 1000, 2000, 4000, 8000, 10_000, 10_000]
    for (const [i, delay] of expected.entries()) {
      const before = factory.sockets.length
      factory.last.fail()
      expect(socket.getSnapshot().state).toBe('reconnecting')
      expect(socket.getSnapshot().attempt).toBe(i + 1)
      vi.advanceTimersByTime(delay - 1)
      expect(factory.sockets.length).toBe(before)
      vi.advanceTimersByTime(1)
      expect(factory.sockets.length).toBe(before + 1)
    }
    expect(states.some((s) => s.state === 'reconnecting' && s.attempt === 7)).toBe(true)

    factory.last.open()
    welcome(factory.last, SESSION_A)
    expect(socket.getSnapshot().state).toBe('live')
    expect(socket.getSnapshot().attempt).toBe(0)

    // After success the next failure starts from the beginning again.
    const before = factory.sockets.length
    factory.last.serverClose()
    expect(socket.getSnapshot().attempt).toBe(1)
    vi.advanceTimersByTime(499)
    expect(factory.sockets.length).toBe(before)
    vi.advanceTimersByTime(1)
    expect(factory.sockets.length).toBe(before + 1)
  })

  it('applies jitter from the injected random source', () => {
    const low = setup({ random: () => 0 }).socket
    const high = setup({ random: () => 0.999999 }).socket
    expect(low.backoffDelay(1)).toBe(375)
    expect(high.backoffDelay(1)).toBe(625)
    expect(low.backoffDelay(3)).toBe(1500)
    expect(high.backoffDelay(30)).toBe(10_000)
    expect(low.backoffDelay(30)).toBe(7500)
  })

  it('does not reset the backoff on open alone, only on welcome', () => {
    const { socket, factory } = setup()
    socket.connect()
    factory.last.fail()
    vi.advanceTimersByTime(500)
    factory.last.open() // opened but the server closed before welcome
    factory.last.serverClose()
    expect(socket.getSnapshot().attempt).toBe(2)
  })

  it('reconnects at once when the browser comes online', () => {
    const { socket, factory, win } = setup()
    socket.connect()
    factory.last.fail()
    expect(factory.sockets).toHaveLength(1)
    win.dispatchEvent(new Event('online'))
    expect(factory.sockets).toHaveLength(2)
    // the pending backoff timer no longer opens a second socket
    vi.advanceTimersByTime(20_000)
    expect(factory.sockets).toHaveLength(2)
  })

  it('reconnects at once when the tab becomes visible', () => {
    const { socket, factory, doc } = setup()
    socket.connect()
    factory.last.fail()
    doc.setVisibility('hidden')
    expect(factory.sockets).toHaveLength(1)
    doc.setVisibility('visible')
    expect(factory.sockets).toHaveLength(2)
  })

  it('stops for good on close()', () => {
    const { socket, factory } = setup()
    socket.connect()
    factory.last.open()
    welcome(factory.last, SESSION_A)
    socket.close()
    expect(socket.getSnapshot().state).toBe('closed')
    expect(factory.last.closedByClient?.code).toBe(1000)
    vi.advanceTimersByTime(60_000)
    expect(factory.sockets).toHaveLength(1)
  })
})

describe('CameraSocket subscriptions', () => {
  it('subscribes once per camera and unsubscribes when the last listener leaves', async () => {
    const { socket, factory } = setup()
    socket.connect()
    factory.last.open()
    welcome(factory.last, SESSION_A)
    const offA = socket.subscribe('demo', () => {})
    const offB = socket.subscribe('demo', () => {})
    expect(factory.last.messages().filter((m) => m.type === 'subscribe')).toEqual([
      { type: 'subscribe', camera: 'demo' },
    ])
    offA()
    await Promise.resolve()
    expect(factory.last.messages().some((m) => m.type === 'unsubscribe')).toBe(false)
    offB()
    offB() // idempotent
    await Promise.resolve()
    expect(factory.last.messages().filter((m) => m.type === 'unsubscribe')).toEqual([
      { type: 'unsubscribe', camera: 'demo' },
    ])
  })

  it('waits for welcome before subscribing', () => {
    const { socket, factory } = setup()
    socket.subscribe('demo', () => {})
    socket.connect()
    factory.last.open()
    expect(factory.last.messages()).toEqual([{ type: 'hello', window: 1 }])
    welcome(factory.last, SESSION_A)
    expect(factory.last.messages()).toEqual([{ type: 'hello', window: 1 }, { type: 'subscribe', camera: 'demo' }])
  })

  it('after a resumed reconnect subscribes only what the server did not restore, and drops what is no longer wanted', async () => {
    const { socket, factory } = setup()
    socket.connect()
    factory.last.open()
    welcome(factory.last, SESSION_A)
    socket.subscribe('a', () => {})
    socket.subscribe('b', () => {})
    const offC = socket.subscribe('c', () => {})

    factory.last.serverClose()
    offC() // no longer wanted while disconnected
    await Promise.resolve()
    vi.runOnlyPendingTimers()
    const ws = factory.last
    ws.open()
    expect(ws.messages()).toEqual([{ type: 'hello', session: SESSION_A, window: 1 }])
    // The server restored a and c; b was subscribed too late to be saved.
    welcome(ws, SESSION_A, true, [
      { camera: 'a', channel: 1, epoch: 1, seq: 10 },
      { camera: 'c', channel: 3, epoch: 1, seq: 10 },
    ])
    expect(ws.messages().slice(1)).toEqual([
      { type: 'subscribe', camera: 'b' },
      { type: 'unsubscribe', camera: 'c' },
    ])
  })

  it('subscribes everything wanted when the session was not resumed', () => {
    const { socket, factory } = setup({ stored: SESSION_A })
    socket.subscribe('a', () => {})
    socket.subscribe('b', () => {})
    socket.connect()
    factory.last.open()
    welcome(factory.last, SESSION_B, false)
    expect(factory.last.messages().slice(1)).toEqual([
      { type: 'subscribe', camera: 'a' },
      { type: 'subscribe', camera: 'b' },
    ])
  })

  it('unsubscribes all cameras after 10 s hidden and resubscribes when visible', () => {
    const { socket, factory, doc } = setup()
    socket.connect()
    factory.last.open()
    welcome(factory.last, SESSION_A)
    socket.subscribe('a', () => {})
    socket.subscribe('b', () => {})
    const ws = factory.last
    ws.sent.length = 0

    doc.setVisibility('hidden')
    vi.advanceTimersByTime(9_999)
    expect(ws.sent).toHaveLength(0)
    vi.advanceTimersByTime(1)
    expect(ws.messages()).toEqual([
      { type: 'unsubscribe', camera: 'a' },
      { type: 'unsubscribe', camera: 'b' },
    ])

    ws.sent.length = 0
    doc.setVisibility('visible')
    expect(ws.messages()).toEqual([
      { type: 'subscribe', camera: 'a' },
      { type: 'subscribe', camera: 'b' },
    ])
    expect(factory.sockets).toHaveLength(1) // live: no reconnect
  })

  it('a short hide changes nothing', () => {
    const { socket, factory, doc } = setup()
    socket.connect()
    factory.last.open()
    welcome(factory.last, SESSION_A)
    socket.subscribe('a', () => {})
    factory.last.sent.length = 0
    doc.setVisibility('hidden')
    vi.advanceTimersByTime(5_000)
    doc.setVisibility('visible')
    vi.advanceTimersByTime(20_000)
    expect(factory.last.sent).toHaveLength(0)
  })
})

describe('frames', () => {
  it('routes frames by channel to the camera listeners with the JPEG after the header', () => {
    vi.setSystemTime(1_764_400_000_500)
    const { socket, factory } = setup()
    socket.connect()
    factory.last.open()
    welcome(factory.last, SESSION_A)
    const frames: CameraFrame[] = []
    const other: CameraFrame[] = []
    socket.subscribe('demo', (f) => frames.push(f))
    socket.subscribe('other', (f) => other.push(f))
    factory.last.receive({ type: 'subscribed', camera: 'demo', channel: 4, epoch: 2, seq: 100 })

    const jpeg = new Uint8Array([0xff, 0xd8, 9, 9, 0xff, 0xd9])
    factory.last.receiveBinary(
      buildFrame({ channel: 4, epoch: 2, seq: 100, serverTime: 1_764_400_000_400, positionMs: 1500, width: 320, height: 240, jpeg, headerLength: 44 }),
    )
    // unknown channel: ignored
    factory.last.receiveBinary(buildFrame({ channel: 9, epoch: 1, seq: 1, serverTime: 0, positionMs: 0, width: 1, height: 1 }))

    expect(other).toHaveLength(0)
    expect(frames).toHaveLength(1)
    const f = frames[0]!
    expect(f).toMatchObject({ camera: 'demo', epoch: 2, seq: 100, serverTime: 1_764_400_000_400, position: 1.5, width: 320, height: 240 })
    expect([...f.jpeg]).toEqual([...jpeg])

    socket.markPainted(f)
    expect(socket.getCameraStats('demo').latencyMs).toBe(100)
  })

  it('counts seq gaps as dropped frames, but not the time away before a (re)subscribe or a new epoch', () => {
    const { socket, factory } = setup()
    socket.connect()
    factory.last.open()
    welcome(factory.last, SESSION_A)
    socket.subscribe('demo', () => {})
    const ws = factory.last
    ws.receive({ type: 'subscribed', camera: 'demo', channel: 1, epoch: 1, seq: 10 })
    const send = (epoch: number, seq: number) =>
      ws.receiveBinary(buildFrame({ channel: 1, epoch, seq, serverTime: Date.now(), positionMs: seq * 100, width: 2, height: 2 }))
    send(1, 10)
    send(1, 11)
    send(1, 15) // 3 dropped
    send(2, 1) // new epoch: no drop
    send(2, 2)
    const s = socket.getCameraStats('demo')
    expect(s.dropped).toBe(3)
    expect(s.epoch).toBe(2)
    expect(s.seq).toBe(2)
    expect(s.position).toBeCloseTo(0.2)
    expect(s.fps).toBe(5)
    vi.advanceTimersByTime(1500)
    expect(socket.getCameraStats('demo').fps).toBe(0)
  })

  it('uses the channel map of the new connection after a reconnect', () => {
    const { socket, factory } = setup()
    const got: string[] = []
    socket.subscribe('a', (f) => got.push(`a:${f.seq}`))
    socket.subscribe('b', (f) => got.push(`b:${f.seq}`))
    socket.connect()
    factory.last.open()
    welcome(factory.last, SESSION_A, true, [
      { camera: 'a', channel: 1, epoch: 1, seq: 1 },
      { camera: 'b', channel: 2, epoch: 1, seq: 1 },
    ])
    factory.last.serverClose()
    vi.runOnlyPendingTimers()
    factory.last.open()
    welcome(factory.last, SESSION_A, true, [
      { camera: 'a', channel: 2, epoch: 1, seq: 5 },
      { camera: 'b', channel: 1, epoch: 1, seq: 5 },
    ])
    factory.last.receiveBinary(buildFrame({ channel: 2, epoch: 1, seq: 5, serverTime: 0, positionMs: 0, width: 1, height: 1 }))
    expect(got).toEqual(['a:5'])
  })

  it('passes events, stats and errors to message listeners', () => {
    const { socket, factory } = setup()
    const seen: string[] = []
    socket.onMessage((m) => seen.push(m.type))
    socket.connect()
    factory.last.open()
    welcome(factory.last, SESSION_A)
    factory.last.receive({ type: 'event', event: 'state', camera: 'a', camera_state: { id: 'a', state: 'stopped' } })
    factory.last.receive({
      type: 'stats',
      cameras: [{ camera: 'a', fps: 30, viewers: 1, drops: 0, position: 3, state: 'running' }],
    })
    factory.last.receive({ type: 'error', code: 'not_found', message: 'x', camera: 'zz' })
    expect(seen).toEqual(['welcome', 'event', 'stats', 'error'])
  })

  it('takes each camera\'s position from the batched stats message', () => {
    const { socket, factory } = setup()
    socket.connect()
    factory.last.open()
    welcome(factory.last, SESSION_A)
    factory.last.receive({
      type: 'stats',
      cameras: [
        { camera: 'a', fps: 30, viewers: 1, drops: 0, position: 3, state: 'running' },
        { camera: 'b', fps: 30, viewers: 1, drops: 0, position: 7.5, state: 'running' },
      ],
    })
    expect(socket.getCameraStats('a').position).toBe(3)
    expect(socket.getCameraStats('b').position).toBe(7.5)
  })
})

describe('renditions', () => {
  const gridFrame = (channel: number, seq: number) =>
    buildFrame({ channel, epoch: 1, seq, serverTime: Date.now(), positionMs: 0, width: 480, height: 270 })

  it('subscribes in the rendition wanted, full if any listener wants full, and switches without a gap', async () => {
    const { socket, factory } = setup()
    socket.connect()
    factory.last.open()
    welcome(factory.last, SESSION_A)
    const ws = factory.last
    const frames: CameraFrame[] = []
    socket.subscribe('a', (f) => frames.push(f), 'grid')
    expect(ws.messages().at(-1)).toEqual({ type: 'subscribe', camera: 'a', rendition: 'grid' })
    ws.receive({ type: 'subscribed', camera: 'a', rendition: 'grid', channel: 2, epoch: 1, seq: 1 })
    ws.receiveBinary(gridFrame(2, 3))
    ws.receiveBinary(gridFrame(2, 6))
    expect(frames.map((f) => [f.rendition, f.seq])).toEqual([['grid', 3], ['grid', 6]])
    // The grid skips seqs by design: not dropped frames.
    expect(socket.getCameraStats('a').dropped).toBe(0)

    // A second listener wants full: the camera switches to full.
    const offFull = socket.subscribe('a', () => {})
    expect(ws.messages().at(-1)).toEqual({ type: 'subscribe', camera: 'a' })
    ws.receive({ type: 'subscribed', camera: 'a', rendition: 'full', channel: 1, epoch: 1, seq: 7 })
    // The server goes on with grid until full's first frame: still painted.
    ws.receiveBinary(gridFrame(2, 9))
    ws.receiveBinary(gridFrame(1, 10))
    expect(frames.slice(2).map((f) => [f.rendition, f.seq])).toEqual([['grid', 9], ['full', 10]])

    // The full listener leaves: back to grid (deferred, like unsubscribes).
    const before = ws.sent.length
    offFull()
    expect(ws.sent.length).toBe(before)
    await Promise.resolve()
    expect(ws.messages().slice(before)).toEqual([{ type: 'subscribe', camera: 'a', rendition: 'grid' }])
  })

  it('a resumed session keeps the renditions the server restored and switches only what differs', () => {
    const { socket, factory } = setup({ stored: SESSION_A })
    socket.subscribe('a', () => {}, 'grid')
    socket.subscribe('b', () => {})
    socket.connect()
    factory.last.open()
    welcome(factory.last, SESSION_A, true, [
      { camera: 'a', rendition: 'grid', channel: 2, epoch: 1, seq: 1 },
      { camera: 'b', rendition: 'grid', channel: 4, epoch: 1, seq: 1 },
    ])
    expect(factory.last.messages().slice(1)).toEqual([{ type: 'subscribe', camera: 'b' }])
  })
})

describe('flow control', () => {
  const frame = (channel: number, seq: number, serverTime = Date.now()) =>
    buildFrame({ channel, epoch: 1, seq, serverTime, positionMs: 0, width: 2, height: 2 })
  const acks = (ws: { messages(): object[] }) =>
    ws.messages().filter((m) => (m as { type: string }).type === 'ack')

  function flowing(window = 1, grant = window) {
    const t = setup({ window })
    t.socket.connect()
    t.factory.last.open()
    t.factory.last.receive({ type: 'welcome', session: SESSION_A, resumed: false, server_time: Date.now(), window: grant || undefined, subscriptions: [] })
    return t
  }

  it('acknowledges a frame only once it is painted (or given up), by channel and seq', () => {
    const { socket, factory } = flowing()
    const got: CameraFrame[] = []
    socket.subscribe('demo', (f) => got.push(f))
    const ws = factory.last
    ws.receive({ type: 'subscribed', camera: 'demo', channel: 7, epoch: 1, seq: 1 })
    ws.receiveBinary(frame(7, 41))
    ws.receiveBinary(frame(7, 42))
    expect(acks(ws)).toEqual([]) // received is not painted
    socket.markPainted(got[1]!)
    expect(acks(ws)).toEqual([{ type: 'ack', channel: 7, seq: 42 }])
    socket.frameDone(got[0]!)
    expect(acks(ws)).toEqual([{ type: 'ack', channel: 7, seq: 42 }, { type: 'ack', channel: 7, seq: 41 }])
  })

  it('acknowledges at once a frame nobody will paint, so its channel does not stall', () => {
    const { socket, factory } = flowing()
    const unsubscribe = socket.subscribe('demo', () => {})
    const ws = factory.last
    ws.receive({ type: 'subscribed', camera: 'demo', channel: 3, epoch: 1, seq: 1 })
    unsubscribe()
    ws.receiveBinary(frame(3, 9)) // the tile left before the frame arrived
    ws.receiveBinary(frame(99, 1)) // a channel it never heard of
    expect(acks(ws)).toEqual([
      { type: 'ack', channel: 3, seq: 9 },
      { type: 'ack', channel: 99, seq: 1 },
    ])
  })

  it('sends no acks when the server did not grant a window, or when the client asks for none', () => {
    for (const [window, grant] of [
      [1, 0],
      [0, 1],
    ] as const) {
      const { socket, factory } = flowing(window, grant)
      const got: CameraFrame[] = []
      socket.subscribe('demo', (f) => got.push(f))
      factory.last.receive({ type: 'subscribed', camera: 'demo', channel: 1, epoch: 1, seq: 1 })
      factory.last.receiveBinary(frame(1, 2))
      socket.markPainted(got[0]!)
      expect(acks(factory.last)).toEqual([])
      expect(factory.last.messages()[0]).toEqual(window ? { type: 'hello', window } : { type: 'hello' })
    }
  })

  it('measures a frame\'s age in the server\'s clock', () => {
    vi.setSystemTime(10_000)
    const { socket, factory } = setup()
    socket.connect()
    factory.last.open()
    // The server's clock is 2 s ahead of ours.
    factory.last.receive({ type: 'welcome', session: SESSION_A, resumed: false, server_time: 12_000, window: 1, subscriptions: [] })
    const got: CameraFrame[] = []
    socket.subscribe('demo', (f) => got.push(f))
    factory.last.receive({ type: 'subscribed', camera: 'demo', channel: 1, epoch: 1, seq: 1 })
    factory.last.receiveBinary(frame(1, 2, 11_900))
    vi.advanceTimersByTime(250)
    expect(socket.frameAgeMs(got[0]!)).toBe(350)
    // A frame stamped later than the welcome suggests (the welcome was
    // handled late) moves the estimate: its age is never negative.
    factory.last.receiveBinary(frame(1, 3, 12_400))
    expect(socket.frameAgeMs(got[1]!)).toBe(0)
    expect(socket.frameAgeMs(got[0]!)).toBe(500)
  })

  it('sends each ack at once, without waiting for an idle moment', () => {
    const { socket, factory } = flowing()
    const got: CameraFrame[] = []
    socket.subscribe('a', (f) => got.push(f))
    socket.subscribe('b', (f) => got.push(f))
    factory.last.receive({ type: 'subscribed', camera: 'a', channel: 1, epoch: 1, seq: 1 })
    factory.last.receive({ type: 'subscribed', camera: 'b', channel: 2, epoch: 1, seq: 1 })
    factory.last.receiveBinary(frame(1, 5))
    factory.last.receiveBinary(frame(2, 6))
    socket.markPainted(got[0]!)
    expect(acks(factory.last)).toEqual([{ type: 'ack', channel: 1, seq: 5 }])
    socket.frameDone(got[1]!)
    expect(acks(factory.last)).toEqual([
      { type: 'ack', channel: 1, seq: 5 },
      { type: 'ack', channel: 2, seq: 6 },
    ])
  })

  /** A frame of `demo` received, then the connection drops and a new one opens (not yet welcomed). */
  function frameThenReconnect() {
    const t = flowing()
    const got: CameraFrame[] = []
    t.socket.subscribe('demo', (f) => got.push(f))
    t.factory.last.receive({ type: 'subscribed', camera: 'demo', channel: 1, epoch: 1, seq: 1 })
    t.factory.last.receiveBinary(frame(1, 2))
    t.factory.last.serverClose()
    vi.runOnlyPendingTimers()
    t.factory.last.open()
    return { ...t, got }
  }

  it('never acks a frame of an earlier connection on a later one', () => {
    const { socket, factory, got } = frameThenReconnect()
    factory.last.receive({ type: 'welcome', session: SESSION_A, resumed: true, server_time: Date.now(), window: 1, subscriptions: [{ camera: 'demo', channel: 1, epoch: 1, seq: 2 }] })
    socket.markPainted(got[0]!) // painted after the reconnect: its channel number means nothing now
    expect(acks(factory.last)).toEqual([])
    factory.last.receiveBinary(frame(1, 3))
    socket.markPainted(got[1]!)
    expect(acks(factory.last)).toEqual([{ type: 'ack', channel: 1, seq: 3 }])
  })

  it('a new connection starts without acks until its welcome grants them', () => {
    const { socket, factory, got } = frameThenReconnect()
    socket.markPainted(got[0]!) // painted after the old socket closed
    expect(acks(factory.last)).toEqual([])
  })
})
