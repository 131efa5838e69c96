import { describe, expect, it } from 'vitest'
import { parseIsoDate } from './iso-date.js'

describe('parseIsoDate', () => {
  it.each([
    ['2024-05-01T12:00:00.000Z', Date.UTC(2024, 4, 1, 12)],
    ['2024-05-01T12:00:00Z', Date.UTC(2024, 4, 1, 12)],
    ['2024-05-01T14:00:00+02:00', Date.UTC(2024, 4, 1, 12)],
    ['2024-05-01T14:00:00+0200', Date.UTC(2024, 4, 1, 12)],
    ['2024-05-01T07:30:00-04:30', Date.UTC(2024, 4, 1, 12)],
    ['2024-05-01T12:00:00.123456Z', Date.UTC(2024, 4, 1, 12, 0, 0, 123)],
    ['2024-05-01T12:00:00.5Z', Date.UTC(2024, 4, 1, 12, 0, 0, 500)],
    ['2024-05-01T12:00Z', Date.UTC(2024, 4, 1, 12)],
    ['2024-05-01T12:00:00', Date.UTC(2024, 4, 1, 12)], // no zone: UTC, whatever the server's TZ
    ['2024-05-01', Date.UTC(2024, 4, 1)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
  ])('reads %s', (text, expected) => {
    expect(parseIsoDate(text)).toBe(expected)
  })

  it('agrees with Date on every form Date.prototype.toISOString writes, from year 0 to 9999', () => {
    const min = Date.parse('0000-01-01T00:00:00.000Z')
    const max = Date.parse('9999-12-31T23:59:59.999Z')
    let seed = 7
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 16807) % 2147483647
      const ms = Math.floor(min + (seed / 2147483647) * (max - min))
      expect(parseIsoDate(new Date(ms).toISOString())).toBe(ms)
    }
  })

  it('does not read years 0-99 as 19xx', () => {
    expect(new Date(parseIsoDate('0050-06-01T00:00:00Z')!).getUTCFullYear()).toBe(50)
  })

  it.each([
    'yesterday', '1714564800', '', '2024-5-1', '2024-05-01 12:00:00', '2023-02-29', '2024-04-31', '2024-13-01',
    '2024-05-01T24:00:00Z', '2024-05-01T12:60:00Z', '2024-05-01T12:00:00+24:00', '2024-05-01T12:00:00 Z', 'May 1, 2024',
  ])('refuses %j', (text) => {
    expect(parseIsoDate(text)).toBeUndefined()
  })
})
