import { describe, expect, it } from 'vitest'
import { canonicalJson } from './canonical-json.js'

describe('canonicalJson (RFC 8785)', () => {
  it('sorts keys by UTF-16 code units at every level and drops whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: true, y: null }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}')
    // U+20AC (€) sorts before U+1F600 (😀, a surrogate pair starting 0xD83D) by code units, after "a".
    expect(canonicalJson({ '\u{1F600}': 1, '\u20ac': 2, a: 3 })).toBe('{"a":3,"\u20ac":2,"\u{1F600}":1}')
  })

  it('writes numbers as ECMAScript does, so semantically equal numbers give the same bytes', () => {
    expect(canonicalJson([1e2, 100, -0, 0.1, 1e21])).toBe('[100,100,0,0.1,1e+21]')
    expect(canonicalJson(JSON.parse('{"n":1.0E2}') as Record<string, number>)).toBe(canonicalJson({ n: 100 }))
  })

  it('keeps distinct Unicode forms distinct (NFC and NFD are different text)', () => {
    expect(canonicalJson('\u00e9')).not.toBe(canonicalJson('e\u0301'))
  })

  it('refuses values JSON cannot carry', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(/no representation/)
    expect(() => canonicalJson(Number.POSITIVE_INFINITY)).toThrow(/no representation/)
  })
})
