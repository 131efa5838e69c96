import { describe, expect, it } from 'vitest'
import type { FieldProblem } from '../core/errors.js'
import { checkEvent, type CheckOptions } from './validate-event.js'

function check(value: unknown, options: CheckOptions = { path: '' }) {
  const problems: FieldProblem[] = []
  const checked = checkEvent(value, options, problems)
  return { checked, fields: problems.map((p) => p.field), problems }
}

describe('checkEvent', () => {
  it('accepts a minimal event of each type', () => {
    const valid = [
      { type: 'identify', userId: 'u' },
      { type: 'track', anonymousId: 'a', event: 'E' },
      { type: 'page', anonymousId: 'a' },
      { type: 'screen', userId: 'u' },
      { type: 'group', userId: 'u', groupId: 'g' },
      { type: 'alias', userId: 'u', previousId: 'a' },
    ]
    for (const event of valid) expect(check(event, { path: '.batch[0]' }).fields).toEqual([])
  })

  it('lets the endpoint set the type and ignores the body\'s', () => {
    expect(check({ type: 'bogus', userId: 'u', event: 'E' }, { path: '', type: 'track' }).checked?.type).toBe('track')
  })

  it('normalises ids: numbers to strings, empty strings to null', () => {
    const { checked } = check({ type: 'group', userId: 42, anonymousId: '', groupId: 7 })
    expect(checked).toMatchObject({ userId: '42', anonymousId: null, groupId: '7' })
  })

  it('uses the anonymous id fallback only when the event has none', () => {
    expect(check({ event: 'E' }, { path: '', type: 'track', anonymousIdFallback: 'hdr' }).checked?.anonymousId).toBe('hdr')
    expect(check({ event: 'E', anonymousId: 'own' }, { path: '', type: 'track', anonymousIdFallback: 'hdr' }).checked?.anonymousId).toBe('own')
  })

  it('reads timestamps once', () => {
    const { checked } = check({ type: 'track', userId: 'u', event: 'E', timestamp: '2024-01-01T00:00:00Z', sentAt: '2024-01-01T00:00:01Z' })
    expect(checked).toMatchObject({ timestampMs: Date.UTC(2024, 0, 1), sentAtMs: Date.UTC(2024, 0, 1, 0, 0, 1), originalTimestampMs: undefined })
  })

  it('treats null optional fields as absent', () => {
    const event = { type: 'track', userId: 'u', event: 'E', traits: null, properties: null, context: null, timestamp: null, messageId: null, name: null }
    expect(check(event).fields).toEqual([])
  })

  it('reports every problem with its JSON path', () => {
    const { fields, checked } = check({
      type: 'track', userId: { id: 1 }, event: '', properties: 'x', context: [], integrations: 3,
      timestamp: 'soon', originalTimestamp: 5, sentAt: '2024-99-01', messageId: '', name: 9, groupId: {},
    }, { path: '.batch[7]' })
    expect(checked).toBeUndefined()
    expect(fields).toEqual([
      '.batch[7].userId', '.batch[7].groupId', '.batch[7].event', '.batch[7].name',
      '.batch[7].properties', '.batch[7].context', '.batch[7].integrations', '.batch[7].messageId',
      '.batch[7].timestamp', '.batch[7].originalTimestamp', '.batch[7].sentAt',
    ])
  })

  it('requires a type in batch items', () => {
    expect(check({ userId: 'u' }, { path: '.batch[0]' }).problems).toEqual([{ field: '.batch[0].type', message: expect.stringMatching(/^is required/) }])
    expect(check({ type: 'Track', userId: 'u' }, { path: '.batch[0]' }).problems[0]!.message).toMatch(/^must be one of identify, track/)
  })

  it('requires userId or anonymousId, except for alias', () => {
    for (const type of ['identify', 'track', 'page', 'screen', 'group'] as const) {
      expect(check({ event: 'E', groupId: 'g' }, { path: '', type }).fields).toEqual(['.userId'])
    }
    expect(check({ previousId: 'old' }, { path: '', type: 'alias' }).fields).toEqual(['.userId'])
  })

  it('does not report a wrongly typed id as missing too', () => {
    expect(check({ userId: true }, { path: '', type: 'identify' }).fields).toEqual(['.userId'])
  })

  it('refuses values that are not objects', () => {
    expect(check('text').fields).toEqual(['(body)'])
    expect(check(null, { path: '.batch[2]' }).fields).toEqual(['.batch[2]'])
    expect(check([{}], { path: '.batch[3]' }).fields).toEqual(['.batch[3]'])
  })
})
