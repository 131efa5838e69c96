import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { REDACTED, createMasker } from './masking.js'
import { createResidency, DEFAULT_RESIDENCY } from './residency.js'

const key = randomBytes(32)
const mask = createMasker(key)

describe('masking', () => {
  it('hashes with the key: stable for one key, different for another, not the plain SHA-256', () => {
    expect(mask('hash', 'ann@example.com')).toBe(mask('hash', 'ann@example.com'))
    expect(mask('hash', 'ann@example.com')).not.toBe(createMasker(randomBytes(32))('hash', 'ann@example.com'))
    expect(mask('hash', 'ann@example.com')).toMatch(/^hmac:[A-Za-z0-9_-]{22}$/)
    expect(mask('hash', 42)).not.toBe(mask('hash', '42x'))
  })

  it('shows part of a value: e-mail, phone, other text, numbers', () => {
    expect(mask('partial', 'ann@example.com')).toBe('a***@example.com')
    expect(mask('partial', '+1 (415) 555-0142')).toBe('***42')
    expect(mask('partial', 'Berlin')).toBe('B***')
    expect(mask('partial', 'ab')).toBe('***')
    expect(mask('partial', 1234.5)).toBe('1000–10000')
    expect(mask('partial', -7)).toBe('-10–-1')
    expect(mask('partial', true)).toBe(REDACTED)
  })

  it('redacts anything, and leaves null alone', () => {
    expect(mask('redact', { a: 1 })).toBe(REDACTED)
    expect(mask('redact', null)).toBeNull()
    expect(() => createMasker(Buffer.alloc(8))).toThrow(/at least 32 bytes/)
  })
})

describe('residency', () => {
  const regionOf = createResidency(DEFAULT_RESIDENCY)
  it('maps a country trait to its region, takes a region trait as is, and says UNKNOWN otherwise', () => {
    expect(regionOf({ address: { country: 'de' } })).toBe('EU')
    expect(regionOf({ address: { country: 'US' } })).toBe('US')
    expect(regionOf({ region: 'eu', address: { country: 'US' } })).toBe('EU')
    expect(regionOf({ country: 'GB' })).toBe('UK')
    expect(regionOf({})).toBe('UNKNOWN')
    expect(regionOf(JSON.parse('{"__proto__": {"region": "EU"}}') as Record<string, never>)).toBe('UNKNOWN')
  })
})
