import { describe, expect, it } from 'vitest'
import { ValidationError } from '../core/errors.js'
import { EventTooLargeError } from './ingest-errors.js'
import { assertPrepared, eventCountOf, prepareBatch, prepareEvent, type IngestContext } from './prepare-events.js'

const RECEIVED = Date.UTC(2024, 4, 1, 12)
let ids = 0
const ctx: IngestContext = {
  sourceId: 'web', receivedAtMs: RECEIVED, ip: '127.0.0.1', maxEventBytes: 2048, newMessageId: () => `id-${++ids}`,
}

describe('prepareEvent', () => {
  it('builds one record keyed by the device, timestamped with the receive time', () => {
    const result = prepareEvent({ anonymousId: 'dev', userId: 'u', event: 'E' }, 'track', ctx)
    assertPrepared(result)
    expect(result.records).toHaveLength(1)
    expect(result.records[0]).toMatchObject({ key: 'dev', timestamp: RECEIVED })
    expect(JSON.parse(result.records[0]!.value)).toMatchObject({ type: 'track', event: 'E', sourceId: 'web' })
    expect([...result.countsByType]).toEqual([['track', 1]])
  })

  it('applies the AnonymousId header to single events', () => {
    const result = prepareEvent({ event: 'E' }, 'track', { ...ctx, anonymousIdHeader: 'hdr' })
    assertPrepared(result)
    expect(result.records[0]!.key).toBe('hdr')
  })
})

describe('prepareBatch', () => {
  it('keeps request order and counts events per type', () => {
    const result = prepareBatch({ batch: [
      { type: 'identify', userId: 'u1' }, { type: 'track', userId: 'u2', event: 'E' }, { type: 'track', userId: 'u3', event: 'F' },
    ] }, ctx)
    assertPrepared(result)
    expect(result.records.map((r) => r.key)).toEqual(['u1', 'u2', 'u3'])
    expect(Object.fromEntries(result.countsByType)).toEqual({ identify: 1, track: 2 })
  })

  it('is all or nothing: one invalid event refuses the batch', () => {
    const result = prepareBatch({ batch: [{ type: 'track', userId: 'u', event: 'E' }, { type: 'track', userId: 'u' }] }, ctx)
    expect(result).toEqual({ ok: false, reason: 'invalid', problems: [{ field: '.batch[1].event', message: expect.any(String) }] })
  })

  it('checks the envelope and the events together', () => {
    const result = prepareBatch({ batch: [{ type: 'identify' }], context: 'x', integrations: [], sentAt: 'later' }, ctx)
    expect(result.ok).toBe(false)
    expect(!result.ok && result.problems.map((p) => p.field)).toEqual(['.context', '.integrations', '.sentAt', '.batch[0].userId'])
  })

  it('refuses bodies without a usable batch', () => {
    for (const body of [undefined, [], { batch: [] }, { batch: {} }]) {
      const result = prepareBatch(body, ctx)
      expect(result).toMatchObject({ ok: false, reason: 'invalid' })
    }
  })

  it('names every event over the per-event limit, and the limit', () => {
    const blob = 'x'.repeat(4096)
    const result = prepareBatch({ batch: [
      { type: 'track', userId: 'u', event: 'ok' },
      { type: 'track', userId: 'u', event: 'big', properties: { blob } },
      { type: 'track', userId: 'u', event: 'big too', properties: { blob } },
    ] }, ctx)
    expect(result).toMatchObject({ ok: false, reason: 'too_large' })
    expect(!result.ok && result.problems.map((p) => p.field)).toEqual(['.batch[1]', '.batch[2]'])
    expect(!result.ok && result.problems[0]!.message).toMatch(/over the 2 KB limit per event$/)
  })

  it('counts multi-byte characters as UTF-8 bytes', () => {
    const result = prepareBatch({ batch: [{ type: 'track', userId: 'u', event: 'E', properties: { text: '€'.repeat(1200) } }] }, ctx)
    expect(result).toMatchObject({ ok: false, reason: 'too_large' }) // 1,200 chars but 3,600 bytes
  })
})

describe('assertPrepared', () => {
  it('throws a 400 carrying every problem', () => {
    const invalid = prepareBatch({ batch: [{ type: 'track' }, { type: 'alias' }] }, ctx)
    expect(() => assertPrepared(invalid)).toThrow(ValidationError)
    try {
      assertPrepared(invalid)
    } catch (error) {
      expect((error as ValidationError).field).toBe('.batch[0].userId')
      expect((error as ValidationError).problems.length).toBeGreaterThan(2)
    }
    const tooLarge = prepareEvent({ userId: 'u', event: 'E', properties: { blob: 'x'.repeat(4096) } }, 'track', ctx)
    expect(() => assertPrepared(tooLarge)).toThrow(EventTooLargeError)
  })
})

describe('eventCountOf', () => {
  it('counts the events a body carries, at least one', () => {
    expect(eventCountOf({ batch: [{}, {}, {}] }, true)).toBe(3)
    expect(eventCountOf({ batch: [] }, true)).toBe(1)
    expect(eventCountOf('junk', true)).toBe(1)
    expect(eventCountOf({ batch: [{}, {}] }, false)).toBe(1)
  })
})
