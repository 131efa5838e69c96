/**
 * @module Contract suites for the privacy operations' store methods, run on SQLite and PostgreSQL: the ε budget
 * ledger of the PrivacyStore, and the filtered profile count of the ProfileReader.
 */
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { tempDir } from '../../test/support/factories.js'
import { SqliteAuditStore } from '../storage/sqlite/audit-store.js'
import { AuditLog } from './audit-log.js'
import { createCheckpointSigner, loadOrCreateSigningKey } from './checkpoint.js'
import { SAFE_DEFAULT, createClassifier } from './classification.js'
import { runRetention } from './retention/retention-job.js'
import type { RetentionStore, TraitSealing } from './retention/retention-store.js'
import { Keyring } from './crypto/keyring.js'
import { LocalKeyFile } from './crypto/local-key-file.js'
import { SqliteDataKeyStore } from '../storage/sqlite/data-key-store.js'
import { ProfileSealing } from '../profiles/profile-sealing.js'
import { sealedState } from '../profiles/sealed-profiles.js'
import type { ErasureStore } from './dsar/erasure-store.js'
import { rawEvent } from '../../test/support/factories.js'
import { resolveAndApply } from '../storage/state-backend.contract.js'
import type { IdentifierCondition, ProfileReader } from '../profiles/profile-reader.js'
import type { IdentifierNode } from '../identity/identity-store.js'
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

    it('stores data-subject requests and their outcome, and a suppression list', async () => {
      const r = {
        id: 'r1', type: 'erasure' as const, identifier: 'email:a@example.com', jurisdiction: 'EU', regime: 'gdpr' as const, status: 'received' as const,
        receivedAt: 1000, dueAt: 2000, basis: 'GDPR', requestedBy: 'token:p', detail: { x: 1 }, result: null, completedAt: null,
        acknowledgeBy: 1500, acknowledgement: null, extension: null,
      }
      await f.store.createRequest(r)
      await f.store.createRequest({ ...r, id: 'r2', receivedAt: 1500 })
      expect(await f.store.getRequest('r1')).toEqual(r)
      expect(await f.store.getRequest('nope')).toBeNull()
      expect((await f.store.listRequests(10)).map((x) => x.id)).toEqual(['r2', 'r1'])
      await f.store.finishRequest('r1', { status: 'completed', result: { profiles: 1 }, completedAt: 3000, identifier: '(erased)', detail: {} })
      expect(await f.store.getRequest('r1')).toMatchObject({ status: 'completed', result: { profiles: 1 }, completedAt: 3000, identifier: '(erased)', detail: {} })
      expect(await f.store.redactRequests(['email:a@example.com', 'email:other'])).toBe(1)
      expect(await f.store.getRequest('r2')).toMatchObject({ identifier: '(erased)', detail: {} })
      expect(await f.store.hasSuppressions()).toBe(false)
      await f.store.addSuppressions(['h1', 'h2'], 'r1', 3000)
      expect(await f.store.hasSuppressions()).toBe(true)
      await f.store.addSuppressions(['h2'], 'r2', 3001)
      expect([...await f.store.suppressed(['h2', 'h3', 'h1'])].sort()).toEqual(['h1', 'h2'])
      expect(await f.store.suppressed([])).toEqual(new Set())
    })

    it('records one acknowledgement and one extension per request, and an erasure blanks the extension reason', async () => {
      const r = {
        id: 'r3', type: 'access' as const, identifier: 'email:c@example.com', jurisdiction: 'US-CA', regime: 'ccpa' as const, status: 'received' as const,
        receivedAt: 1000, dueAt: 5000, basis: 'CCPA', requestedBy: 'token:p', detail: {}, result: null, completedAt: null,
        acknowledgeBy: 2000, acknowledgement: null, extension: null,
      }
      await f.store.createRequest(r)
      expect(await f.store.acknowledgeRequest('r3', { at: 1200, via: 'channel webhook http://127.0.0.1' })).toBe(true)
      expect(await f.store.acknowledgeRequest('r3', { at: 1300, via: 'recorded: letter' })).toBe(false)
      expect(await f.store.acknowledgeRequest('nope', { at: 1300, via: 'recorded: letter' })).toBe(false)
      const extension = { at: 1400, firstDueAt: 5000, basis: 'CCPA +45', reason: 'many systems to search for this person', via: 'recorded: e-mail' }
      expect(await f.store.extendRequest('r3', 9000, extension)).toBe(true)
      expect(await f.store.extendRequest('r3', 12_000, { ...extension, reason: 'again' })).toBe(false)
      expect(await f.store.getRequest('r3')).toEqual({ ...r, dueAt: 9000, acknowledgement: { at: 1200, via: 'channel webhook http://127.0.0.1' }, extension })
      await f.store.redactRequests(['email:c@example.com'])
      expect(await f.store.getRequest('r3')).toMatchObject({
        acknowledgement: { at: 1200, via: 'channel webhook http://127.0.0.1' }, extension: { ...extension, reason: '(erased)', via: 'recorded: (erased)' },
      })
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

function profileRecord(id: string, patch: Partial<ProfileRecord>): ProfileRecord {
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
        profileRecord('p1', { traits: { plan: 'pro', age: 30, vip: true, address: { city: 'Paris' } }, eventCount: 5, eventCounts: { 'Order Completed': 2, signup: 1 }, sourceCounts: { web: 5 } }),
        profileRecord('p2', { traits: { plan: 'free', age: '30', vip: false }, eventCount: 1, eventCounts: { signup: 1 }, sourceCounts: { ios: 1 } }),
        profileRecord('p3', { traits: { plan: 'pro', age: 45.5, "it's": "x'; DROP TABLE profiles; --" }, eventCount: 0 }),
        profileRecord('p4', { traits: { plan: 'pro', age: 50 }, eventCount: 9, mergedInto: 'p1' }),
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
    it('leaves out profiles by their identifiers: any of them refused, or not all of them allowed', async () => {
      const node = (key: string, profileId: string): IdentifierNode => ({ key, type: key.slice(0, key.indexOf(':')), value: key.slice(key.indexOf(':') + 1), profileId, firstSeen: 1 })
      await f.backend.transaction((tx) => tx.identity.apply({
        nodes: [node('user_id:a', 'p1'), node('email:a@example.com', 'p1'), node('user_id:b', 'p2'), node('user_id:c', 'p3'), node('email:c@example.com', 'p3')],
        repoints: [], edges: [], merges: [], rejections: [],
      }))
      const counted = (consent: IdentifierCondition[], text = ''): Promise<number> => f.reader().countProfiles(parseCountFilter(text), consent)
      expect(await counted([{ identifiers: 'none', keys: [] }])).toBe(3)
      expect(await counted([{ identifiers: 'none', keys: ['email:a@example.com'] }])).toBe(2)
      expect(await counted([{ identifiers: 'none', keys: ['email:a@example.com', 'user_id:c'] }], 'traits.plan = "pro"')).toBe(0)
      expect(await counted([{ identifiers: 'all', keys: [] }])).toBe(0)
      expect(await counted([{ identifiers: 'all', keys: ['user_id:a', 'user_id:b', 'user_id:c'] }])).toBe(1)
      expect(await counted([{ identifiers: 'all', keys: ['user_id:a', 'email:a@example.com', 'user_id:b'] }, { identifiers: 'none', keys: ['user_id:b'] }])).toBe(1)
      expect(await counted([{ identifiers: 'none', keys: ["user_id:a' OR 1=1 --"] }])).toBe(3)
    })
  })
}

export interface RetentionFixture {
  readonly backend: StateBackend
  /** The backend's RetentionStore; `sealing` opens and reseals sealed traits. */
  readonly store: (sealing?: TraitSealing) => Promise<RetentionStore>
  readonly cleanup: () => Promise<void>
}

const DAY = 86_400_000

/** Retention through the job (fake clock, real classifier and audit log) on a backend's RetentionStore. */
export function runRetentionContract(name: string, create: () => Promise<RetentionFixture>): void {
  describe(`RetentionStore contract and retention job: ${name}`, () => {
    let f: RetentionFixture
    let t: ReturnType<typeof tempDir>
    const now = Date.UTC(2025, 5, 1)
    beforeEach(async () => {
      f = await create()
      t = tempDir()
      await f.backend.migrate()
      await f.backend.transaction(async (tx) => {
        await tx.profiles.put([
          profileRecord('p1', {
            traits: { plan: 'pro', country: 'FR', email: 'canary@example.com', address: { city: 'Paris', street: '1 rue' } },
            traitTimes: { plan: now - 400 * DAY, country: now - 100 * DAY, email: now - 1000 * DAY, address: now - 95 * DAY },
          }),
          profileRecord('p2', { traits: { plan: 'free', country: 'DE' }, traitTimes: { plan: now - 10 * DAY, country: now - 10 * DAY } }),
        ])
        await tx.profiles.appendEvents([
          { profileId: 'p1', messageId: 'old', sourceId: 'web', type: 'track', name: 'x', timestamp: now - 396 * DAY, payload: '{}' },
          { profileId: 'p1', messageId: 'new', sourceId: 'web', type: 'track', name: 'x', timestamp: now - 394 * DAY, payload: '{}' },
        ])
      })
    })
    afterEach(async () => {
      await f.cleanup()
      t.cleanup()
    })

    /** A real audit log in the test's directory, on the test's clock (retention records what it deleted there). */
    const openTestAudit = async (clock: { now: () => number }): Promise<{ auditStore: SqliteAuditStore; audit: AuditLog }> => {
      const auditStore = new SqliteAuditStore({ path: join(t.dir, 'audit.db') })
      await auditStore.migrate()
      const audit = await AuditLog.open({
        store: auditStore, clock, signer: createCheckpointSigner('test/audit', loadOrCreateSigningKey(join(t.dir, 'key.pem'))),
        checkpointEvery: 100, checkpointIntervalMs: 60_000,
      })
      return { auditStore, audit }
    }

    it('deletes exactly the values of expired categories, records counts in the audit log, and a dry run deletes nothing', async () => {
      const clock = { now: () => now }
      const { auditStore, audit } = await openTestAudit(clock)
      const store = await f.store()
      const options = {
        store, clock, audit, actor: { type: 'cli' as const, id: 'test' },
        classifier: createClassifier({ fields: {}, default: SAFE_DEFAULT }),
        config: { schedules: { behavioral: 395, location: 90 }, intervalMinutes: 0 },
      }
      const dry = await runRetention(options, true)
      expect(dry).toMatchObject({ dryRun: true, events: { behavioral: 1 }, traits: { behavioral: 1, location: 2 }, profilesChanged: 1 })
      const reader = f.backend.reader()
      expect((await reader.profile('p1'))?.traits.plan).toBe('pro')
      const report = await runRetention(options, false)
      expect(report).toMatchObject({ dryRun: false, events: { behavioral: 1 }, traits: { behavioral: 1, location: 2 }, profilesChanged: 1 })
      const p1 = await reader.profile('p1')
      // plan (behavioral, 400 d) and country, address.city (location, > 90 d) go; e-mail (contact: no schedule) and street stay.
      expect(p1?.traits).toEqual({ email: 'canary@example.com', address: { street: '1 rue' } })
      expect(Object.keys(p1?.traitTimes ?? {}).sort()).toEqual(['address', 'email'])
      expect((await reader.profile('p2'))?.traits).toEqual({ plan: 'free', country: 'DE' })
      expect((await reader.events('p1', { limit: 10 })).events.map((e) => e.messageId)).toEqual(['new'])
      expect(await runRetention(options, false)).toMatchObject({ events: { behavioral: 0 }, traits: {}, profilesChanged: 0 })
      const entries = await auditStore.search({ kind: 'retention.run', limit: 10 })
      expect(entries).toHaveLength(3)
      expect(entries[1]!.text).toContain('"location":2')
      expect(entries.map((e) => e.text).join('')).not.toContain('Paris')
      await store.close()
      await audit.close()
      await auditStore.close()
    })

    it('edits sealed traits: opens them, drops the expired leaves, seals the rest again, and expires sealed timeline rows', async () => {
      const keyStore = new SqliteDataKeyStore(join(t.dir, 'keys.db'))
      await keyStore.migrate()
      const keyring = await Keyring.open({ kms: LocalKeyFile.load({ keyFile: join(t.dir, 'master.key'), env: {}, create: true }), store: keyStore, cacheTtlMs: 60_000 })
      const sealing = new ProfileSealing({ keyring, classifier: createClassifier({ fields: {}, default: SAFE_DEFAULT }), seal: true })
      const sealed = sealedState(f.backend, sealing)
      await sealed.transaction(async (tx) => {
        await tx.profiles.put([...(await tx.profiles.get(['p1'])).values()])
        await tx.profiles.appendEvents([{ profileId: 'p1', messageId: 'old-sealed', sourceId: 'web', type: 'track', name: 'x', timestamp: now - 397 * DAY, payload: '{"type":"track"}' }])
      })
      const raw = async (): Promise<ProfileRecord> => (await f.backend.transaction((tx) => tx.profiles.get(['p1']))).get('p1')!
      expect((await raw()).traits).toEqual({ plan: 'pro', country: 'FR', address: { city: 'Paris' } })
      expect((await raw()).sealedTraits).toBeDefined()
      const clock = { now: () => now }
      const { auditStore, audit } = await openTestAudit(clock)
      const store = await f.store(sealing)
      try {
        const report = await runRetention({
          store, clock, audit, actor: { type: 'cli' as const, id: 'test' }, classifier: createClassifier({ fields: {}, default: SAFE_DEFAULT }),
          // contact (e-mail, street: sealed) expires too this time; location (city: clear) does not.
          config: { schedules: { behavioral: 395, contact: 90 }, intervalMinutes: 0 },
        }, false)
        expect(report).toMatchObject({ events: { behavioral: 2 }, traits: { behavioral: 1, contact: 2 }, profilesChanged: 1 })
        const reader = sealed.reader()
        try {
          expect((await reader.profile('p1'))?.traits).toEqual({ country: 'FR', address: { city: 'Paris' } })
          expect((await reader.events('p1', { limit: 10 })).events.map((e) => e.messageId)).toEqual(['new'])
        } finally {
          await reader.close()
        }
        expect((await raw()).sealedTraits).toBeUndefined()
        // A sealed leaf that stays is sealed again (a shorter schedule for location only).
        await sealed.transaction(async (tx) => tx.profiles.put([{ ...(await tx.profiles.get(['p1'])).get('p1')!, traits: { country: 'FR', email: 'kept@example.com' }, traitTimes: { country: now - 100 * DAY, email: now } }]))
        await runRetention({
          store, clock, audit, actor: { type: 'cli' as const, id: 'test' }, classifier: createClassifier({ fields: {}, default: SAFE_DEFAULT }),
          config: { schedules: { location: 90 }, intervalMinutes: 0 },
        }, false)
        expect((await raw()).traits).toEqual({})
        expect((await raw()).sealedTraits).not.toContain('kept@example.com')
        expect((await sealing.openTraits([await raw()]))[0]).toEqual({ email: 'kept@example.com' })
      } finally {
        await store.close()
        await audit.close()
        await auditStore.close()
        await keyStore.close()
      }
    })

    it('reads the consumer offsets a pipeline group stored with its state (how far log retention may go)', async () => {
      const store = await f.store()
      expect(await store.committedOffsets('tessera-pipeline', 'events.raw')).toEqual([])
      await f.backend.transaction((tx) => tx.offsets.save('tessera-pipeline', [{ topic: 'events.raw', partition: 1, offset: 7 }, { topic: 'events.raw', partition: 0, offset: 12 }]))
      await f.backend.transaction((tx) => tx.offsets.save('other', [{ topic: 'events.raw', partition: 0, offset: 1 }]))
      expect(await store.committedOffsets('tessera-pipeline', 'events.raw')).toEqual([{ topic: 'events.raw', partition: 0, offset: 12 }, { topic: 'events.raw', partition: 1, offset: 7 }])
      expect(await store.committedOffsets('tessera-pipeline', 'events.resolved')).toEqual([])
      await store.close()
    })
  })
}

export interface ErasureFixture {
  readonly backend: StateBackend
  readonly store: () => Promise<ErasureStore>
  readonly cleanup: () => Promise<void>
}

/** Erasure of one person from a state built by identity resolution (a merge included), next to a bystander. */
export function runErasureContract(name: string, create: () => Promise<ErasureFixture>): void {
  describe(`ErasureStore contract: ${name}`, () => {
    let f: ErasureFixture
    beforeEach(async () => {
      f = await create()
      await f.backend.migrate()
    })
    afterEach(() => f.cleanup())

    it('deletes the person, the profiles merged into them and every row naming them, and nothing of anyone else', async () => {
      // Two devices browse anonymously, then both identify as the same user: two profiles merged into one.
      await resolveAndApply(f.backend, [rawEvent('page', { anonymousId: 'a1' }), rawEvent('page', { anonymousId: 'a2' })])
      await resolveAndApply(f.backend, [rawEvent('identify', { userId: 'victim', anonymousId: 'a1', traits: { email: 'v@example.com' } })])
      await resolveAndApply(f.backend, [rawEvent('identify', { userId: 'victim', anonymousId: 'a2' })])
      await resolveAndApply(f.backend, [rawEvent('identify', { userId: 'bystander', anonymousId: 'b1' })])
      const reader = f.backend.reader()
      const victim = (await reader.canonicalId((await reader.profileIdByIdentifier('user_id', 'victim'))!))!
      const bystander = (await reader.profileIdByIdentifier('user_id', 'bystander'))!
      await f.backend.transaction(async (tx) => {
        await tx.profiles.put([profileRecord(victim, { traits: { email: 'v@example.com' } }), profileRecord(bystander, {})])
        await tx.profiles.appendEvents([
          { profileId: victim, messageId: 'm1', sourceId: 'web', type: 'track', name: 'x', timestamp: 1, payload: '{"userId":"victim"}' },
          { profileId: bystander, messageId: 'm2', sourceId: 'web', type: 'track', name: 'x', timestamp: 1, payload: '{}' },
        ])
        await tx.sessions.put(new Map([['victim', { sessionId: 's1', lastAt: 1, startedAt: 1 }], ['b1', { sessionId: 's2', lastAt: 1, startedAt: 1 }]]))
      })
      expect((await reader.merges(victim)).length).toBeGreaterThan(0)
      const store = await f.store()
      const result = await store.erase(victim)
      await store.close()
      expect([...result.identifierKeys].sort()).toEqual(['anonymous_id:a1', 'anonymous_id:a2', 'email:v@example.com', 'user_id:victim'])
      expect(result.profileIds.length).toBeGreaterThanOrEqual(1)
      expect(result.deleted.profiles).toBe(result.profileIds.length)
      expect(result.deleted.profile_events).toBe(1)
      expect(result.deleted.sessions).toBe(1)
      for (const [type, value] of [['user_id', 'victim'], ['anonymous_id', 'a1'], ['anonymous_id', 'a2'], ['email', 'v@example.com']] as const) {
        expect(await reader.profileIdByIdentifier(type, value)).toBeNull()
      }
      for (const id of result.profileIds) {
        expect(await reader.profile(id)).toBeNull()
        expect(await reader.merges(id)).toEqual([])
        expect(await reader.edges(id)).toEqual([])
      }
      expect(await reader.profile(bystander)).not.toBeNull()
      expect((await reader.identities(bystander)).map((i) => i.key).sort()).toEqual(['anonymous_id:b1', 'user_id:bystander'])
      expect((await reader.events(bystander, { limit: 10 })).events).toHaveLength(1)
      expect([...(await f.backend.transaction((tx) => tx.sessions.get(['victim', 'b1']))).keys()]).toEqual(['b1'])
    })

    it('erases nothing else for an unknown profile', async () => {
      await resolveAndApply(f.backend, [rawEvent('identify', { userId: 'bystander' })])
      const store = await f.store()
      const result = await store.erase('no-such-profile')
      await store.close()
      expect(result.identifierKeys).toEqual([])
      expect(Object.values(result.deleted).every((n) => n === 0)).toBe(true)
      expect(await f.backend.reader().profileIdByIdentifier('user_id', 'bystander')).not.toBeNull()
    })
  })
}
