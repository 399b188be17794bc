import { describe, expect, it } from 'vitest'
import { frameFromHeader, parseFrameHeader, parseServerMessage } from '@/lib/camera-protocol'
import { buildFrame } from '@/test/fake-websocket'

describe('frame header', () => {
  it('parses the header big-endian and honours the header length', () => {
    const fields = {
      headerLength: 48,
      channel: 7,
      epoch: 3,
      seq: 2 ** 40 + 5,
      serverTime: 1_764_400_000_123,
      positionMs: 12_345,
      width: 640,
      height: 360,
    }
    const buf = buildFrame({ ...fields, jpeg: new Uint8Array([0xff, 0xd8, 1, 2, 3, 0xff, 0xd9]) })
    expect(parseFrameHeader(buf)).toEqual({ type: 1, flags: 0, ...fields })
  })

  it('rejects short buffers, other message types and impossible header lengths', () => {
    expect(parseFrameHeader(new ArrayBuffer(39))).toBeNull()
    const other = buildFrame({ channel: 1, epoch: 1, seq: 1, serverTime: 1, positionMs: 0, width: 1, height: 1 })
    new DataView(other).setUint8(0, 2)
    expect(parseFrameHeader(other)).toBeNull()
    const tooLong = buildFrame({ channel: 1, epoch: 1, seq: 1, serverTime: 1, positionMs: 0, width: 1, height: 1 })
    new DataView(tooLong).setUint16(2, 4000)
    expect(parseFrameHeader(tooLong)).toBeNull()
    const tooShort = buildFrame({ channel: 1, epoch: 1, seq: 1, serverTime: 1, positionMs: 0, width: 1, height: 1 })
    new DataView(tooShort).setUint16(2, 8)
    expect(parseFrameHeader(tooShort)).toBeNull()
  })

  it('gives the JPEG after the header and the position in seconds', () => {
    const jpeg = new Uint8Array([0xff, 0xd8, 7, 0xff, 0xd9])
    const buf = buildFrame({ channel: 2, epoch: 1, seq: 9, serverTime: 5, positionMs: 2500, width: 4, height: 3, jpeg, headerLength: 44 })
    const f = frameFromHeader('demo', parseFrameHeader(buf)!, buf)
    expect(f).toMatchObject({ camera: 'demo', epoch: 1, seq: 9, serverTime: 5, position: 2.5, width: 4, height: 3 })
    expect([...f.jpeg]).toEqual([...jpeg])
  })
})

describe('control messages', () => {
  it('accepts objects with a string type and rejects everything else', () => {
    expect(parseServerMessage('{"type":"unsubscribed","camera":"a"}')).toEqual({ type: 'unsubscribed', camera: 'a' })
    for (const bad of ['', 'nope', 'null', '42', '[]', '{"type":1}', '{}']) {
      expect(parseServerMessage(bad), bad).toBeNull()
    }
  })
})
