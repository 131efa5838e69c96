/**
 * @module Contract suites for the privacy operations' store methods, run on SQLite and PostgreSQL: the ε budget
 * ledger of the PrivacyStore, and the filtered profile count of the ProfileReader.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ProfileReader } from '../profiles/profile-reader.js'
import type { ProfileRecord } from '../profiles/profile-store.js'
import type { StateBackend } from '../storage/state-backend.js'
import { parseCountFilter } from './dp/count-filter.js'
import type { PrivacyStore } from './privacy-store.js'

export interface PrivacyStoreFixture {
  readonly store: PrivacyStore
  readonly cleanup: () => Promise<void>
}

export function runPrivacyStoreContract(name: string, create: () => Promise<PrivacyStoreFixture>): void {
  describe(`PrivacyStore contract: ${name}`, () => {
    let f: PrivacyStoreFixture
    beforeEach(async () => {
      f = await create()
      await f.store.migrate()
      await f.store.migrate()
    })
    afterEach(() => f.cleanup())

    it('spends budget up to the limit and no further, per principal and period', async () => {
      const spend = (principal: string, periodStart: number, micros: number): ReturnType<PrivacyStore['spendBudget']> =>
        f.store.spendBudget({ principal, periodStart, micros, limitMicros: 1_000_000 })
      expect(await spend('ann', 0, 600_000)).toEqual({ ok: true, spentMicros: 600_000 })
      expect(await spend('ann', 0, 400_000)).toEqual({ ok: true, spentMicros: 1_000_000 })
      expect(await spend('ann', 0, 1)).toEqual({ ok: false, spentMicros: 1_000_000 })
      expect(await spend('bob', 0, 1_000_000)).toEqual({ ok: true, spentMicros: 1_000_000 })
      expect(await spend('ann', 86_400_000, 2_000_000)).toEqual({ ok: false, spentMicros: 0 })
      expect(await f.store.budgetSpent('ann', 86_400_000)).toBe(0)
      expect(await f.store.budgetSpent('ann', 0)).toBe(1_000_000)
    })

    it('refuses a zero or negative spend (it would give budget back)', async () => {
      await expect(f.store.spendBudget({ principal: 'ann', periodStart: 0, micros: -5, limitMicros: 10 })).rejects.toThrow(RangeError)
      await expect(f.store.spendBudget({ principal: 'ann', periodStart: 0, micros: 0, limitMicros: 10 })).rejects.toThrow(RangeError)
    })

    it('lets exactly the spends that fit pass when they race', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, () => f.store.spendBudget({ principal: 'c', periodStart: 0, micros: 300_000, limitMicros: 1_000_000 })))
      expect(results.filter((r) => r.ok)).toHaveLength(3)
      expect(await f.store.budgetSpent('c', 0)).toBe(900_000)
    })
  })
}

export interface ProfileCountFixture {
  readonly backend: StateBackend
  readonly reader: () => ProfileReader
  readonly cleanup: () => Promise<void>
}

function profile(id: string, patch: Partial<ProfileRecord>): ProfileRecord {
  return {
    id, createdAt: 1, firstSeen: 1, lastSeen: 1, traits: {}, traitTimes: {}, eventCount: 0, sourceCounts: {},
    eventCounts: {}, mergedInto: null, updatedAt: 1, ...patch,
  }
}

export function runProfileCountContract(name: string, create: () => Promise<ProfileCountFixture>): void {
  describe(`ProfileReader.countProfiles contract: ${name}`, () => {
    let f: ProfileCountFixture
    beforeEach(async () => {
      f = await create()
      await f.backend.migrate()
      await f.backend.transaction((tx) => tx.profiles.put([
        profile('p1', { traits: { plan: 'pro', age: 30, vip: true, address: { city: 'Paris' } }, eventCount: 5, eventCounts: { 'Order Completed': 2, signup: 1 }, sourceCounts: { web: 5 } }),
        profile('p2', { traits: { plan: 'free', age: '30', vip: false }, eventCount: 1, eventCounts: { signup: 1 }, sourceCounts: { ios: 1 } }),
        profile('p3', { traits: { plan: 'pro', age: 45.5, "it's": "x'; DROP TABLE profiles; --" }, eventCount: 0 }),
        profile('p4', { traits: { plan: 'pro', age: 50 }, eventCount: 9, mergedInto: 'p1' }),
      ]))
    })
    afterEach(() => f.cleanup())
    const count = (text: string): Promise<number> => f.reader().countProfiles(parseCountFilter(text))

    it('counts surviving profiles only', async () => {
      expect(await count('')).toBe(3)
    })
    it('compares text, numbers and booleans only with values of the same JSON type', async () => {
      expect(await count('traits.plan = "pro"')).toBe(2)
      expect(await count('traits.plan != "pro"')).toBe(1)
      expect(await count('traits.age >= 30')).toBe(2)
      expect(await count('traits.age = 30')).toBe(1)
      expect(await count('traits.age = "30"')).toBe(1)
      expect(await count('traits.age > 40.1')).toBe(1)
      expect(await count('traits.vip = true')).toBe(1)
      expect(await count('traits.vip != true')).toBe(1)
    })
    it('reads nested traits, existence and counters (absent counts as 0)', async () => {
      expect(await count('traits.address.city = "Paris"')).toBe(1)
      expect(await count('traits.address.city exists')).toBe(1)
      expect(await count('traits.vip exists')).toBe(2)
      expect(await count('events["Order Completed"] > 0')).toBe(1)
      expect(await count('events.signup >= 1 and eventCount < 3')).toBe(1)
      expect(await count('events.signup = 0')).toBe(1)
      expect(await count('sources.web > 0')).toBe(1)
    })
    it('treats quotes in values as data, never as SQL', async () => {
      expect(await count(`traits.plan = "x' OR 1=1 --"`)).toBe(0)
      expect(await count('')).toBe(3)
    })
  })
}
