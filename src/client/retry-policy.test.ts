import { describe, expect, it } from 'vitest'
import { parseRetryAfter, retryDelayMs } from './retry-policy.js'

describe('parseRetryAfter', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000)
    expect(parseRetryAfter(' 0 ', 0)).toBe(0)
  })
  it('reads an HTTP date relative to now', () => {
    const now = Date.parse('2024-05-01T10:00:00Z')
    expect(parseRetryAfter('Wed, 01 May 2024 10:00:05 GMT', now)).toBe(5000)
    expect(parseRetryAfter('Wed, 01 May 2024 09:00:00 GMT', now)).toBe(0)
  })
  it('ignores absent or unreadable values', () => {
    expect(parseRetryAfter(null, 0)).toBeUndefined()
    expect(parseRetryAfter('', 0)).toBeUndefined()
    expect(parseRetryAfter('soon', 0)).toBeUndefined()
    expect(parseRetryAfter('-1', 0)).toBeUndefined()
  })
})

describe('retryDelayMs', () => {
  const options = { baseMs: 100, maxMs: 1000, maxRetryAfterMs: 5000 }
  it('honours Retry-After up to the cap', () => {
    expect(retryDelayMs(0, 2000, options)).toBe(2000)
    expect(retryDelayMs(0, 3_600_000, options)).toBe(5000)
  })
  it('backs off exponentially with jitter, bounded', () => {
    expect(retryDelayMs(0, undefined, options, () => 0)).toBe(50)
    expect(retryDelayMs(0, undefined, options, () => 1)).toBe(100)
    expect(retryDelayMs(3, undefined, options, () => 1)).toBe(800)
    expect(retryDelayMs(10, undefined, options, () => 1)).toBe(1000)
    expect(retryDelayMs(10, undefined, options, () => 0)).toBe(500)
  })
})
