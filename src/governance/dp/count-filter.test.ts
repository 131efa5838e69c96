import { describe, expect, it } from 'vitest'
import { classificationPath, parseCountFilter } from './count-filter.js'

describe('parseCountFilter', () => {
  it('parses traits, counters and the event total', () => {
    expect(parseCountFilter('traits.plan = "pro" and events.signup >= 1 and eventCount > 2.5 and traits.address.city exists and sources.web != 0')).toEqual([
      { column: 'traits', path: ['plan'], op: '=', value: 'pro' },
      { column: 'eventCounts', path: ['signup'], op: '>=', value: 1 },
      { column: 'eventCount', path: [], op: '>', value: 2.5 },
      { column: 'traits', path: ['address', 'city'], op: 'exists', value: null },
      { column: 'sourceCounts', path: ['web'], op: '!=', value: 0 },
    ])
  })
  it('reads quoted event names and escaped quotes in values', () => {
    expect(parseCountFilter('events["Order Completed"] > 0 AND traits.name = "a \\"b\\""')).toEqual([
      { column: 'eventCounts', path: ['Order Completed'], op: '>', value: 0 },
      { column: 'traits', path: ['name'], op: '=', value: 'a "b"' },
    ])
  })
  it('counts everything with an empty filter', () => {
    expect(parseCountFilter('')).toEqual([])
  })
  it.each([
    ['traits.plan = pro', /not a value/],
    ['profile.id = "x"', /not a field/],
    ['traits.plan', /expected an operator/],
    ['traits.plan = "a" or traits.x = 1', /joined with "and"/],
    ['traits.plan > "a"', /compares numbers only/],
    ['events.x = "a"', /counters compare with numbers/],
    ['events.x exists', /traits only/],
    ['traits.a;drop = 1', /unexpected/],
    ["traits.a' = 1", /unexpected/],
    ['traits.plan = "open', /not closed/],
    ['traits. = 1', /names are letters/],
    ['events.a.b > 1', /takes one name/],
    ['traits.x = 1 and', /expected a condition/],
  ])('refuses %j with a clear message', (text, message) => {
    expect(() => parseCountFilter(text)).toThrow(message)
  })
  it('limits conditions and length', () => {
    expect(() => parseCountFilter(Array.from({ length: 9 }, (_, i) => `traits.a${i} exists`).join(' and '))).toThrow(/more than 8/)
    expect(() => parseCountFilter(`traits.a = "${'x'.repeat(1000)}"`)).toThrow(/longer than/)
  })
  it('names the classification path of each field', () => {
    const [a, b, c, d] = parseCountFilter('traits.address.city exists and events.x > 0 and sources.web > 0 and eventCount > 0')
    expect([a, b, c, d].map((x) => classificationPath(x!))).toEqual(['traits.address.city', 'profile.eventcounts.x', 'profile.sourcecounts.web', 'profile.eventcount'])
  })
})
