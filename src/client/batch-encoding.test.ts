import { describe, expect, it } from 'vitest'
import { batchBodyBytes, encodeBatch, encodeEvent } from './batch-encoding.js'

describe('batch encoding', () => {
  it('predicts the exact body size', () => {
    const events = [
      encodeEvent({ type: 'track', userId: 'u1', event: 'Zoë’s Order' }),
      encodeEvent({ type: 'identify', userId: 'u2', traits: { name: '山田' } }),
    ]
    const body = encodeBatch(events.map((e) => e.json), new Date(0).toISOString())
    expect(Buffer.byteLength(body)).toBe(batchBodyBytes(events[0]!.bytes + events[1]!.bytes, 2))
    expect(JSON.parse(body)).toEqual({ batch: [JSON.parse(events[0]!.json), JSON.parse(events[1]!.json)], sentAt: '1970-01-01T00:00:00.000Z' })
  })
})
