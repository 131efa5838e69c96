import { describe, expect, it } from 'vitest'
import { ColumnMappingError, derivedAnonymousId, parseTimestamp, RowMapper, segmentCall, typedValue, type MappingOptions } from './row-mapping.js'

const base: MappingOptions = { type: 'identify', sourceId: 'crm', fileKey: 'customers.csv', textValues: true }

describe('RowMapper, identify', () => {
  it('maps identifier columns and reserved traits under their usual spellings', () => {
    const mapper = new RowMapper(base)
    const result = mapper.map({
      user_id: ' 42 ', 'E-Mail': 'Ann@Example.com', 'Phone Number': '+1 415 555 0134', first_name: 'Ann', LastName: 'Lee',
      Company: 'Acme', city: 'Boston', zip: '02134', plan: 'pro', note: '',
    }, 7)
    expect(result).toEqual({
      ok: true,
      event: {
        type: 'identify',
        userId: '42',
        traits: {
          email: 'Ann@Example.com', phone: '+1 415 555 0134', firstName: 'Ann', lastName: 'Lee', company: 'Acme',
          address: { city: 'Boston', postalCode: '02134' }, plan: 'pro',
        },
        messageId: expect.stringMatching(/^imp_/) as unknown as string,
        context: { library: { name: 'tessera-import' } },
      },
    })
  })

  it('prefers user_id over a generic id column, which then stays a trait', () => {
    const result = new RowMapper(base).map({ id: 'crm-9', userId: 'u9' }, 2)
    expect(result.ok && result.event).toMatchObject({ userId: 'u9', traits: { id: 'crm-9' } })
  })

  it('gives an e-mail-only row a stable anonymousId, and refuses a row with no identifier', () => {
    const mapper = new RowMapper(base)
    const bo = mapper.map({ email: 'bo@example.com', name: 'Bo' }, 3)
    expect(bo).toMatchObject({ ok: true, derivedAnonymousId: true, event: { anonymousId: derivedAnonymousId('crm', 'email', 'bo@example.com'), traits: { email: 'bo@example.com', name: 'Bo' } } })
    // Same contact, other case and other line (a later export): same anonymousId. Another source: another one.
    expect(mapper.map({ email: ' Bo@Example.com ' }, 90)).toMatchObject({ event: { anonymousId: derivedAnonymousId('crm', 'email', 'bo@example.com') } })
    expect(derivedAnonymousId('web', 'email', 'bo@example.com')).not.toBe(derivedAnonymousId('crm', 'email', 'bo@example.com'))
    expect(mapper.map({ phone: '+1 (415) 555-0134' }, 4)).toMatchObject({ event: { anonymousId: derivedAnonymousId('crm', 'phone', '+14155550134'), traits: { phone: '+1 (415) 555-0134' } } })
    expect(mapper.map({ userId: 'u1', email: 'bo@example.com' }, 5)).not.toHaveProperty('derivedAnonymousId')
    expect(mapper.map({ email: '  ', name: 'Nobody' }, 4)).toEqual({ ok: false, reason: 'no identifier: the row needs a userId, anonymousId, email or phone value' })
  })

  it('uses the columns named by options', () => {
    const mapper = new RowMapper({ ...base, userIdColumn: 'Customer No', emailColumn: 'Contact', timestampColumn: 'Updated' })
    mapper.checkColumns(['Customer No', 'Contact', 'Updated'])
    const result = mapper.map({ 'Customer No': 'C-1', Contact: 'c@example.com', Updated: '1714557600' }, 2)
    expect(result.ok && result.event).toMatchObject({ userId: 'C-1', traits: { email: 'c@example.com' }, timestamp: '2024-05-01T10:00:00.000Z' })
    expect(() => new RowMapper({ ...base, emailColumn: 'mail_addr' }).checkColumns(['id', 'email'])).toThrow(ColumnMappingError)
  })

  it('refuses an unreadable timestamp', () => {
    const result = new RowMapper(base).map({ userId: 'u1', timestamp: 'yesterday-ish' }, 5)
    expect(result).toEqual({ ok: false, reason: 'timestamp "yesterday-ish" is not a date this import reads (use ISO 8601, e.g. 2024-05-01T10:00:00Z, or epoch seconds/milliseconds)' })
  })

  it('gives stable messageIds: same source, file, line and content, same id', () => {
    const a = new RowMapper(base).map({ userId: 'u1' }, 2)
    const b = new RowMapper(base).map({ userId: 'u1' }, 2)
    const c = new RowMapper(base).map({ userId: 'u1' }, 3)
    const d = new RowMapper({ ...base, sourceId: 'web' }).map({ userId: 'u1' }, 2)
    const id = (r: typeof a): string | undefined => (r.ok ? r.event.messageId : undefined)
    expect(id(a)).toBe(id(b))
    expect(new Set([id(a), id(c), id(d)]).size).toBe(3)
    expect(new RowMapper(base).map({ userId: 'u1', message_id: 'm-1' }, 2)).toMatchObject({ event: { messageId: 'm-1' } })
  })
})

describe('RowMapper, track', () => {
  const track: MappingOptions = { ...base, type: 'track' }

  it('takes the event name from its column and types CSV properties', () => {
    const result = new RowMapper(track).map({
      email: 'ann@example.com', event: 'Order Completed', revenue: '42.50', items: '3', zip: '02134', gift: 'false', order_id: 'A-1',
    }, 9)
    expect(result.ok && result.event).toMatchObject({
      type: 'track', event: 'Order Completed',
      properties: { revenue: 42.5, items: 3, zip: '02134', gift: false, order_id: 'A-1' },
      context: { library: { name: 'tessera-import' }, traits: { email: 'ann@example.com' } },
    })
  })

  it('keeps JSON values of JSONL objects as they are', () => {
    const result = new RowMapper({ ...track, textValues: false }).map({ userId: 'u1', event: 'X', code: '007', n: 5 }, 1)
    expect(result.ok && result.event.properties).toEqual({ code: '007', n: 5 })
  })

  it('needs an event column and an event name', () => {
    expect(() => new RowMapper(track).checkColumns(['userId', 'what'])).toThrow(/--event-column/)
    const mapper = new RowMapper({ ...track, eventColumn: 'what' })
    mapper.checkColumns(['userId', 'what'])
    expect(mapper.map({ userId: 'u1', what: '' }, 4)).toEqual({ ok: false, reason: 'no event name: the what column is empty' })
  })
})

describe('value helpers', () => {
  it('typedValue converts only plain numbers and booleans', () => {
    expect([typedValue('12'), typedValue('-3.5'), typedValue('0'), typedValue('0042'), typedValue('1e5'), typedValue('true'), typedValue('TRUE')])
      .toEqual([12, -3.5, 0, '0042', '1e5', true, 'TRUE'])
  })
  it('parseTimestamp reads ISO, epoch seconds and milliseconds', () => {
    expect(parseTimestamp('2024-05-01T10:00:00Z')).toBe('2024-05-01T10:00:00.000Z')
    expect(parseTimestamp('1714557600000')).toBe('2024-05-01T10:00:00.000Z')
    expect(parseTimestamp('2024-05-01 10:00')).toMatch(/^2024-05-01T/)
    expect(parseTimestamp('Wed, 01 May 2024 10:00:00 GMT')).toBe('2024-05-01T10:00:00.000Z')
    expect(parseTimestamp('42')).toBeUndefined()
    expect(parseTimestamp('01/05/2024')).toBeUndefined()
    expect(parseTimestamp('2024-13-45')).toBeUndefined()
  })
  it('segmentCall keeps an existing messageId and fills a missing one', () => {
    expect(segmentCall({ type: 'track', userId: 'u', event: 'E', messageId: 'm' }, 1, base).messageId).toBe('m')
    expect(segmentCall({ type: 'track', userId: 'u', event: 'E' }, 1, base).messageId).toMatch(/^imp_/)
  })
})
