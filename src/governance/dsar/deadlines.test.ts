import { describe, expect, it } from 'vitest'
import { acknowledgementDeadline, addMonths, addOneMonth, deadline, extendedDeadline, regimeOf } from './deadlines.js'

const utc = (s: string): number => Date.parse(s)

describe('DSAR deadlines', () => {
  it('GDPR: one calendar month, clamped to the end of a shorter month', () => {
    expect(new Date(deadline('access', 'gdpr', utc('2025-03-15T10:00:00Z')).dueAt).toISOString()).toBe('2025-04-15T10:00:00.000Z')
    expect(new Date(addOneMonth(utc('2025-01-31T00:00:00Z'))).toISOString()).toBe('2025-02-28T00:00:00.000Z')
    expect(new Date(addOneMonth(utc('2024-01-31T00:00:00Z'))).toISOString()).toBe('2024-02-29T00:00:00.000Z')
    expect(new Date(addOneMonth(utc('2025-12-10T00:00:00Z'))).toISOString()).toBe('2026-01-10T00:00:00.000Z')
  })
  it('CCPA: 45 days; an opt-out 15 business days', () => {
    expect(new Date(deadline('erasure', 'ccpa', utc('2025-03-03T09:00:00Z')).dueAt).toISOString()).toBe('2025-04-17T09:00:00.000Z')
    // Monday 3 March 2025 + 15 business days = Monday 24 March.
    expect(new Date(deadline('opt_out', 'ccpa', utc('2025-03-03T09:00:00Z')).dueAt).toISOString()).toBe('2025-03-24T09:00:00.000Z')
    // From a Friday: the weekend does not count.
    expect(new Date(deadline('opt_out', 'ccpa', utc('2025-03-07T09:00:00Z')).dueAt).toISOString()).toBe('2025-03-28T09:00:00.000Z')
  })
  it('CCPA: receipt acknowledged within 10 business days (know, delete, correct); GDPR and opt-outs set no such step', () => {
    // Friday 7 March 2025 + 10 business days = Friday 21 March.
    expect(new Date(acknowledgementDeadline('access', 'ccpa', utc('2025-03-07T09:00:00Z'))!.dueAt).toISOString()).toBe('2025-03-21T09:00:00.000Z')
    expect(acknowledgementDeadline('erasure', 'ccpa', 0)?.basis).toMatch(/§7021\(a\)/)
    expect(acknowledgementDeadline('opt_out', 'ccpa', 0)).toBeNull()
    expect(acknowledgementDeadline('access', 'gdpr', 0)).toBeNull()
  })
  it('one extension: GDPR two further months from the first deadline, CCPA 45 days more, none for a CCPA opt-out', () => {
    expect(new Date(extendedDeadline('access', 'gdpr', utc('2025-02-28T00:00:00Z'))!.dueAt).toISOString()).toBe('2025-04-28T00:00:00.000Z')
    expect(new Date(extendedDeadline('erasure', 'gdpr', utc('2025-12-31T00:00:00Z'))!.dueAt).toISOString()).toBe('2026-02-28T00:00:00.000Z')
    expect(new Date(extendedDeadline('correct', 'ccpa', utc('2025-04-17T09:00:00Z'))!.dueAt).toISOString()).toBe('2025-06-01T09:00:00.000Z')
    expect(extendedDeadline('opt_out', 'ccpa', 0)).toBeNull()
    expect(extendedDeadline('opt_out', 'gdpr', 0)).not.toBeNull()
    expect(new Date(addMonths(utc('2024-01-31T00:00:00Z'), 13)).toISOString()).toBe('2025-02-28T00:00:00.000Z')
  })
  it('maps jurisdictions and refuses unknown ones', () => {
    expect(regimeOf('EU')).toBe('gdpr')
    expect(regimeOf('US-CA')).toBe('ccpa')
    expect(() => regimeOf('US-TX')).toThrow(/not a jurisdiction/)
  })
})
