import { describe, expect, it } from 'vitest'
import type { FieldProblem } from '../core/errors.js'
import { logKeyOf, skewCorrectedMs, stampEvent, type StampContext } from './stamp-event.js'
import { checkEvent, type CheckedEvent } from './validate-event.js'

const RECEIVED = Date.UTC(2024, 4, 1, 12)
const ctx: StampContext = {
  sourceId: 'web', receivedAtMs: RECEIVED, receivedAt: new Date(RECEIVED).toISOString(), ip: '198.51.100.7', newMessageId: () => 'generated-id',
}

function checked(event: Record<string, unknown>): CheckedEvent {
  const problems: FieldProblem[] = []
  const result = checkEvent(event, { path: '' }, problems)
  if (result === undefined) throw new Error(JSON.stringify(problems))
  return result
}

describe('skewCorrectedMs', () => {
  it('applies the client-measured delay to the server clock', () => {
    const hour = 3_600_000
    expect(skewCorrectedMs(RECEIVED, RECEIVED + hour, RECEIVED + hour - 500)).toBe(RECEIVED - 500)
    expect(skewCorrectedMs(RECEIVED, RECEIVED - hour, RECEIVED - hour - 2000)).toBe(RECEIVED - 2000)
  })

  it('falls back to the receive time when the result is not a date', () => {
    expect(skewCorrectedMs(RECEIVED, 8.64e15, -8.64e15)).toBe(RECEIVED)
  })
})

describe('stampEvent', () => {
  it('stamps receive time, source, message id and client IP; drops the write key', () => {
    const source = { type: 'track', userId: 'u', event: 'E', writeKey: 'wk_secret_1', properties: { a: 1 } }
    const out = stampEvent(checked(source), ctx)
    expect(JSON.parse(JSON.stringify(out))).toEqual({
      type: 'track', userId: 'u', event: 'E', properties: { a: 1 }, messageId: 'generated-id',
      context: { ip: '198.51.100.7' }, timestamp: '2024-05-01T12:00:00.000Z', receivedAt: '2024-05-01T12:00:00.000Z', sourceId: 'web',
    })
    expect(source.writeKey).toBe('wk_secret_1') // the client's object is not mutated
  })

  it('keeps a client IP and the client\'s nested objects by reference', () => {
    const properties = { nested: { deep: true } }
    const out = stampEvent(checked({ type: 'track', userId: 'u', event: 'E', properties, context: { ip: '203.0.113.1' } }), ctx)
    expect(out.properties).toBe(properties)
    expect(out.context).toEqual({ ip: '203.0.113.1' })
  })

  it('corrects clock skew and keeps the client time as originalTimestamp', () => {
    const out = stampEvent(checked({ type: 'track', userId: 'u', event: 'E', timestamp: '2024-05-01T13:00:00.000Z', sentAt: '2024-05-01T13:00:02.000Z' }), ctx)
    expect(out.timestamp).toBe('2024-05-01T11:59:58.000Z')
    expect(out.originalTimestamp).toBe('2024-05-01T13:00:00.000Z')
    expect(out.sentAt).toBe('2024-05-01T13:00:02.000Z')
  })

  it('uses originalTimestamp as the client time when there is no timestamp (RudderStack)', () => {
    const out = stampEvent(checked({ type: 'track', userId: 'u', event: 'E', originalTimestamp: '2024-05-01T12:00:09Z', sentAt: '2024-05-01T12:00:10Z' }), ctx)
    expect(out.timestamp).toBe('2024-05-01T11:59:59.000Z')
    expect(out.originalTimestamp).toBe('2024-05-01T12:00:09Z')
  })

  it('applies batch defaults under the event\'s own values', () => {
    const out = stampEvent(checked({ type: 'track', userId: 'u', event: 'E', context: { locale: 'fr' }, timestamp: '2024-05-01T12:59:59Z' }), {
      ...ctx,
      batch: { context: { locale: 'en', library: { name: 'x' } }, integrations: { All: false }, sentAt: '2024-05-01T13:00:00Z', sentAtMs: Date.UTC(2024, 4, 1, 13) },
    })
    expect(out.context).toEqual({ locale: 'fr', library: { name: 'x' }, ip: '198.51.100.7' })
    expect(out.integrations).toEqual({ All: false })
    expect(out.timestamp).toBe('2024-05-01T11:59:59.000Z')
    expect(out.sentAt).toBe('2024-05-01T13:00:00Z')
  })

  it('omits null objects and fields the client did not send', () => {
    const out = stampEvent(checked({ type: 'identify', userId: 'u', traits: null, integrations: null }), { ...ctx, ip: undefined })
    expect(JSON.parse(JSON.stringify(out))).not.toHaveProperty('traits')
    expect(JSON.parse(JSON.stringify(out))).not.toHaveProperty('integrations')
    expect(JSON.parse(JSON.stringify(out))).not.toHaveProperty('context')
  })
})

describe('logKeyOf', () => {
  it('keys by anonymousId, then userId, else null', () => {
    expect(logKeyOf(stampEvent(checked({ type: 'track', userId: 'u', anonymousId: 'a', event: 'E' }), ctx))).toBe('a')
    expect(logKeyOf(stampEvent(checked({ type: 'track', userId: 'u', anonymousId: '', event: 'E' }), ctx))).toBe('u')
    expect(logKeyOf(stampEvent(checked({ type: 'alias', userId: 'u', previousId: 'p' }), ctx))).toBe('u')
  })
})
