/**
 * @module The StateBackend contract suite: the behaviour every state adapter (SQLite, PostgreSQL) must show,
 * store by store and through identity resolution. Call {@link runStateBackendContract} from the adapter's
 * test file; adapter-only behaviour (files, connections, concurrency between processes) stays there.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { rawEvent } from '../../test/support/factories.js'
import { DEFAULT_IDENTIFIER_TYPES } from '../config/identity-types.js'
import type { RawEvent } from '../core/event.js'
import { compileIdentityRules } from '../identity/identity-rules.js'
import { resolveBatch, type BatchResolution } from '../identity/resolve-batch.js'
import { unmergeProfile } from '../identity/unmerge.js'
import { decideReviewItem } from '../identity/review.js'
import { routeKey, type UnmergeNotice } from '../profiles/profile-messages.js'
import { RealtimeMatching } from '../matching/realtime.js'
import { trainedPersonModel } from '../matching/testing/realtime-model.js'
import type { ProfileRecord, TimelineEvent } from '../profiles/profile-store.js'
import type { StateBackend } from './state-backend.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PseudonymousIdentifiers, isSealedMatchRecord } from '../identity/identifier-codec.js'
import { Keyring } from '../governance/crypto/keyring.js'
import { LocalKeyFile } from '../governance/crypto/local-key-file.js'
import { SqliteDataKeyStore } from './sqlite/data-key-store.js'
import { RevealingProfileReader } from '../profiles/revealing-profile-reader.js'
import { ProfileSealing } from '../profiles/profile-sealing.js'
import { sealedState } from '../profiles/sealed-profiles.js'
import { SAFE_DEFAULT, createClassifier } from '../governance/classification.js'

/** A fresh, empty backend under test and how to dispose of it (close it, delete its files or schema). */
export interface StateBackendFixture {
  readonly backend: StateBackend
  readonly cleanup: () => Promise<void>
}

const rules = compileIdentityRules(DEFAULT_IDENTIFIER_TYPES, 'US')

export function profile(id: string, patch: Partial<ProfileRecord> = {}): ProfileRecord {
  return {
    id, createdAt: 1, firstSeen: 1, lastSeen: 1, traits: {}, traitTimes: {}, eventCount: 0, sourceCounts: {},
    eventCounts: {}, mergedInto: null, updatedAt: 1, ...patch,
  }
}

function timeline(profileId: string, n: number, at = 1000): TimelineEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    profileId, messageId: `m${String(i).padStart(3, '0')}`, sourceId: 'web', type: 'track', name: 'x',
    timestamp: at + Math.floor(i / 2), // pairs share a timestamp: pagination must not lose ties
    payload: JSON.stringify({ i }),
  }))
}

/**
 * Resolves and applies a batch as the pipeline does: new profiles are stored with their created-at, and
 * merged losers point to their winner.
 */
export async function resolveAndApply(backend: StateBackend, events: readonly RawEvent[]): Promise<BatchResolution> {
  return backend.transaction(async (tx) => {
    const result = await resolveBatch([...events], rules, tx.identity,
      async (ids) => new Map([...(await tx.profiles.get(ids))].map(([id, p]) => [id, p.createdAt])))
    await tx.identity.apply(result.changes)
    const created = result.resolutions.filter((r) => r.created).map((r, i) => profile(r.profileId, { createdAt: i, firstSeen: 0, lastSeen: 0, updatedAt: 0 }))
    await tx.profiles.put(created)
    const losers = result.resolutions.flatMap((r) => r.merged.map((loser) => ({ loser, winner: r.profileId })))
    const stored = await tx.profiles.get(losers.map((l) => l.loser))
    await tx.profiles.put(losers.map(({ loser, winner }) => ({ ...(stored.get(loser) ?? profile(loser)), mergedInto: winner })))
    return result
  })
}

export function runStateBackendContract(name: string, create: () => Promise<StateBackendFixture>): void {
  describe(`StateBackend contract: ${name}`, () => {
    let fixture: StateBackendFixture | undefined
    const backend = (): StateBackend => fixture!.backend
    const run = (events: RawEvent[]): Promise<BatchResolution> => resolveAndApply(backend(), events)
    beforeEach(async () => {
      fixture = await create()
      await fixture.backend.migrate()
    })
    afterEach(async () => {
      await fixture?.cleanup()
      fixture = undefined
    })

    describe('pseudonymous identifiers', () => {
      let keysDir: string
      let keyStore: SqliteDataKeyStore
      beforeEach(async () => {
        keysDir = mkdtempSync(join(tmpdir(), 'tessera-contract-keys-'))
        keyStore = new SqliteDataKeyStore(join(keysDir, 'keys.db'))
        await keyStore.migrate()
      })
      afterEach(async () => {
        await keyStore.close()
        rmSync(keysDir, { recursive: true, force: true })
      })
      const openKeyring = (): Promise<Keyring> => Keyring.open({
        kms: LocalKeyFile.load({ keyFile: join(keysDir, 'master.key'), env: {}, create: true }), store: keyStore, cacheTtlMs: 60_000,
      })
      const codec = async (): Promise<PseudonymousIdentifiers> => new PseudonymousIdentifiers(await openKeyring())

      it('records the proposed scheme on an empty graph once, and keeps clear keys for a graph written before schemes', async () => {
        expect(await backend().identifierScheme('hmac-sha256:aaaa')).toBe('hmac-sha256:aaaa')
        expect(await backend().identifierScheme('clear')).toBe('hmac-sha256:aaaa')
        await backend().reset()
        expect(await backend().identifierScheme('clear')).toBe('clear')
        await backend().reset()
        await run([rawEvent('identify', { userId: 'legacy' })])
        await backend().transaction((tx) => tx.identity.recordUnmerge({
          profileId: 'p', kind: 'identifier', target: 'user_id:legacy', principal: 'cli:test', reason: '', result: [], time: 1,
        }, [['user_id:legacy', 'user_id:other']]))
        // A reset keeps the scheme of a state whose operators' split rules name its keys.
        await backend().reset()
        expect(await backend().identifierScheme('hmac-sha256:bbbb')).toBe('clear')
      })

      it('resolves through pseudonymous keys only, and keeps each clear value sealed for the reader', async () => {
        const ids = await codec()
        const pseudoRules = compileIdentityRules(DEFAULT_IDENTIFIER_TYPES, 'US', Infinity, ids)
        const events = [
          rawEvent('identify', { userId: 'u-ann', anonymousId: 'a-ann', traits: { email: 'Ann@Example.com' } }),
          rawEvent('identify', { userId: 'u-ann', traits: { email: 'not-an-address' } }),
          rawEvent('alias', { userId: 'u-ann', previousId: 'a-ann' }),
        ]
        const result = await backend().transaction(async (tx) => {
          const r = await resolveBatch(events, pseudoRules, tx.identity, null)
          const values = await ids.seal([...r.changes.nodes, ...r.changes.rejections].map((n) => ({ key: n.key, value: r.clearValues.get(n.key)!, profileId: n.profileId })))
          await tx.identity.apply({ ...r.changes, values })
          return r
        })
        expect(new Set(result.resolutions.map((r) => r.profileId)).size).toBe(1)
        const keys = result.changes.nodes.map((n) => n.key)
        expect(keys).toHaveLength(3)
        for (const k of keys) expect(k).toMatch(/^(user_id|anonymous_id|email):~[A-Za-z0-9_-]{22}$/)
        expect(result.changes.rejections.map((r) => r.key)).toEqual([ids.storedKey('email', 'not-an-address')])
        const reader = backend().reader()
        try {
          const pid = result.resolutions[0]!.profileId
          expect(await reader.profileIdByIdentifier('email', ids.storedValue('email', 'ann@example.com'))).toBe(pid)
          const sealed = await reader.identifierValues([...keys, ids.storedKey('email', 'not-an-address'), 'email:~unknown'])
          expect(sealed.size).toBe(4)
          for (const v of sealed.values()) expect(v).not.toMatch(/ann@example\.com|u-ann|a-ann|not-an-address/) // the clear values, not any "ann" a random envelope can hold
          const clear = await ids.reveal([...sealed].map(([key, s]) => ({ key, sealed: s })))
          expect([...clear.values()].sort()).toEqual(['anonymous_id:a-ann', 'email:ann@example.com', 'email:not-an-address', 'user_id:u-ann'])
          const revealing = new RevealingProfileReader(reader, ids)
          expect((await revealing.identities(pid)).map((n) => `${n.type}:${n.value}`).sort()).toEqual(['anonymous_id:a-ann', 'email:ann@example.com', 'user_id:u-ann'])
          expect(await revealing.profileIdByIdentifier('user_id', 'u-ann')).toBe(pid)
          expect((await revealing.rejections(pid)).map((r) => r.key)).toEqual(['email:not-an-address'])
        } finally {
          await reader.close()
        }
        // The same values resolve to the same profile in a later batch (the pseudonyms are stable).
        const again = await backend().transaction((tx) => resolveBatch([rawEvent('track', { anonymousId: 'a-ann', event: 'x' })], pseudoRules, tx.identity, null))
        expect(again.resolutions[0]!.profileId).toBe(result.resolutions[0]!.profileId)
      })

      describe('sealed profiles', () => {
        const keyring = (): Promise<Keyring> => Keyring.open({
          kms: LocalKeyFile.load({ keyFile: join(keysDir, 'master.key'), env: {}, create: true }), store: keyStore, cacheTtlMs: 60_000,
        })
        const classifier = createClassifier({ fields: {}, default: SAFE_DEFAULT })
        const SECRET = { email: 'canary-seal@example.com', street: 'Canary Street 7', note: 'canary-note-71', prop: 'canary-prop-71' }
        const traits = { plan: 'pro', email: SECRET.email, address: { city: 'Lyon', street: SECRET.street }, note: SECRET.note, tags: ['a'] }
        const event = (profileId: string, messageId: string, at: number): TimelineEvent => ({
          profileId, messageId, sourceId: 'web', type: 'track', name: 'Order', timestamp: at,
          payload: JSON.stringify({ type: 'track', messageId, properties: { comment: SECRET.prop } }),
        })
        const stored = async (): Promise<string> => {
          // The rows as stored, read around the sealing (the adapter's own store and reader).
          const raw = await backend().transaction((tx) => tx.profiles.get(['p1', 'p2']))
          const reader = backend().reader()
          try {
            const events = [...(await reader.events('p1', { limit: 10 })).events, ...(await reader.events('p2', { limit: 10 })).events]
            const traitRows = await reader.profileTraits({ limit: 10 })
            const timelineRows = await backend().transaction((tx) => tx.identity.timeline(['p1', 'p2']))
            return JSON.stringify([[...raw.values()], events, traitRows, timelineRows])
          } finally {
            await reader.close()
          }
        }

        it('seals confidential traits and every timeline payload under the profile\'s key; the sealing reader and the pipeline see them whole', async () => {
          const sealing = new ProfileSealing({ keyring: await keyring(), classifier, seal: true })
          const sealed = sealedState(backend(), sealing)
          await sealed.transaction(async (tx) => {
            await tx.profiles.put([profile('p1', { traits }), profile('p2', { traits: { plan: 'free' } })])
            await tx.profiles.appendEvents([event('p1', 'm1', 1000), event('p1', 'm2', 1001)])
          })
          // Stored: the clear part only in traits, the rest sealed; no canary anywhere in what the adapter returns.
          const raw = (await backend().transaction((tx) => tx.profiles.get(['p1', 'p2'])))
          expect(raw.get('p1')!.traits).toEqual({ plan: 'pro', address: { city: 'Lyon' } })
          expect(raw.get('p1')!.sealedTraits).toMatch(/^[A-Za-z0-9_-]{43}\.[0-9a-f]{16}\.[A-Za-z0-9_-]+$/)
          expect(raw.get('p2')!.sealedTraits).toBeUndefined()
          const dump = await stored()
          for (const value of Object.values(SECRET)) expect(dump).not.toContain(value)
          const rawReader = backend().reader()
          expect((await rawReader.events('p1', { limit: 10 })).events.every((e) => e.sealed !== undefined && Object.keys(e.event).length === 0)).toBe(true)
          await rawReader.close()

          expect((await sealed.transaction((tx) => tx.profiles.get(['p1']))).get('p1')!.traits).toEqual(traits)
          const reader = sealed.reader()
          try {
            expect((await reader.profile('p1'))!.traits).toEqual(traits)
            expect((await reader.profile('p1'))!.sealedTraits).toBeUndefined()
            expect((await reader.profileTraits({ limit: 10 })).map((r) => r.traits)).toEqual([traits, { plan: 'free' }])
            const page = await reader.events('p1', { limit: 10 })
            expect(page.events.map((e) => [e.messageId, (e.event.properties as { comment: string }).comment])).toEqual([['m2', SECRET.prop], ['m1', SECRET.prop]])
            // Counts run on the clear column; a sealed trait is refused by its classification (whether or not any profile holds it).
            expect(await reader.countProfiles([{ column: 'traits', path: ['address', 'city'], op: '=', value: 'Lyon' }])).toBe(1)
            expect(await reader.countProfiles([{ column: 'traits', path: ['plan'], op: 'exists', value: null }])).toBe(2)
            await expect(reader.countProfiles([{ column: 'traits', path: ['email'], op: 'exists', value: null }])).rejects.toThrow(/traits\.email: traits classified confidential are stored sealed/)
            await expect(reader.countProfiles([{ column: 'traits', path: ['never_seen'], op: '=', value: 'x' }])).rejects.toThrow(/cannot count by traits\.never_seen/)
          } finally {
            await reader.close()
          }
          // The unmerge rebuild and trimmed events read the payloads opened.
          const rows = await sealed.transaction((tx) => tx.identity.timeline(['p1']))
          expect(rows.map((r) => JSON.parse(r.payload).properties.comment)).toEqual([SECRET.prop, SECRET.prop])
          const trimmed = await sealed.transaction((tx) => tx.control.takeTrimmed(['p1'], 1))
          expect(trimmed.map((r) => JSON.parse(r.payload).messageId)).toEqual(['m1'])
        })

        it('reads rows moved to a merge winner, old clear rows, and drops what a shredded key sealed', async () => {
          const ring = await keyring()
          const sealing = new ProfileSealing({ keyring: ring, classifier, seal: true })
          const sealed = sealedState(backend(), sealing)
          // A row written in clear before sealing was turned on, and one sealed under the loser's key.
          await backend().transaction(async (tx) => {
            await tx.profiles.put([profile('win', { traits: { email: 'old@example.com', plan: 'pro' } })])
            await tx.profiles.appendEvents([{ ...event('win', 'clear-1', 900), payload: JSON.stringify({ clear: true }) }])
          })
          await sealed.transaction(async (tx) => {
            await tx.profiles.put([profile('lose', { traits })])
            await tx.profiles.appendEvents([event('lose', 'sealed-1', 1000)])
            await tx.profiles.put([{ ...profile('lose', { traits }), mergedInto: 'win' }])
            await tx.profiles.moveEvents([{ from: 'lose', to: 'win' }])
          })
          const reader = sealed.reader()
          try {
            expect((await reader.profile('win'))!.traits).toEqual({ email: 'old@example.com', plan: 'pro' })
            expect((await reader.events('win', { limit: 10 })).events.map((e) => e.messageId)).toEqual(['sealed-1', 'clear-1'])
            // A clear profile is sealed when it is next written.
            await sealed.transaction(async (tx) => tx.profiles.put([...(await tx.profiles.get(['win'])).values()]))
            expect((await backend().transaction((tx) => tx.profiles.get(['win']))).get('win')!.traits).toEqual({ plan: 'pro' })
            expect((await reader.profile('win'))!.traits).toEqual({ email: 'old@example.com', plan: 'pro' })
            // Erasure shreds the keys of every profile merged into the person: the loser's rows no longer open.
            await ring.shred(['lose'])
            const after = await reader.events('win', { limit: 10 })
            expect(after.events.map((e) => e.messageId)).toEqual(['clear-1'])
            expect((await reader.profile('lose'))!.traits).toEqual({ plan: 'pro', address: { city: 'Lyon' } })
          } finally {
            await reader.close()
          }
        })

        it('with encryption off writes in clear, still opens what was sealed, and counts any trait', async () => {
          const ring = await keyring()
          await sealedState(backend(), new ProfileSealing({ keyring: ring, classifier, seal: true })).transaction((tx) => tx.profiles.put([profile('p1', { traits })]))
          const off = sealedState(backend(), new ProfileSealing({ keyring: ring, classifier, seal: false }))
          const reader = off.reader()
          try {
            expect((await reader.profile('p1'))!.traits).toEqual(traits)
            await off.transaction(async (tx) => {
              await tx.profiles.put([...(await tx.profiles.get(['p1'])).values()])
              await tx.profiles.appendEvents([event('p1', 'm1', 1000)])
            })
            const raw = (await backend().transaction((tx) => tx.profiles.get(['p1']))).get('p1')!
            expect(raw.traits).toEqual(traits)
            expect(raw.sealedTraits).toBeUndefined()
            expect((await reader.events('p1', { limit: 10 })).events[0]!.sealed).toBeUndefined()
            expect(await reader.countProfiles([{ column: 'traits', path: ['email'], op: 'exists', value: null }])).toBe(1)
          } finally {
            await reader.close()
          }
        })
      })

      /** Resolves a batch with real-time matching on over pseudonymous rules, and applies it. */
      const matchingResolver = (ids: PseudonymousIdentifiers) => {
        const pseudoRules = compileIdentityRules(DEFAULT_IDENTIFIER_TYPES, 'US', Infinity, ids)
        const matching = new RealtimeMatching(trainedPersonModel(), { autoMerge: 0.99, review: 0.5, maxBlockSize: 100 })
        return (events: RawEvent[]): Promise<BatchResolution> => backend().transaction(async (tx) => {
          const result = await resolveBatch(events, pseudoRules, tx.identity, null, matching)
          await tx.identity.apply(result.changes)
          return result
        })
      }

      it('matches through pseudonymous blocking keys (the persisted index holds HMACs of them)', async () => {
        const ids = await codec()
        const resolve = matchingResolver(ids)
        const traits = { given: 'annabel', surname: 'sondergeld', dob: '1984-03-12', city: 'leeds' }
        const first = await resolve([rawEvent('identify', { sourceId: 'crm', traits: { ...traits, email: 'ann1@example.org' } })])
        const written = first.changes.matchRecords!.flatMap((r) => r.keys)
        expect(written.length).toBeGreaterThan(0)
        for (const k of written) expect(k).toMatch(/^~[A-Za-z0-9_-]{22}$/)
        const candidates = await backend().transaction((tx) => tx.identity.matchCandidates(written, 100))
        expect(candidates).toHaveLength(1)
        // The stored record (normalised names, date of birth, city) is sealed under the profile's data key.
        const pid = first.resolutions[0]!.profileId
        const [stored] = await backend().transaction((tx) => tx.identity.matchRecords([pid]))
        for (const s of [candidates[0]!.fields, stored!.fields]) {
          expect(isSealedMatchRecord(s)).toBe(true)
          expect(s).not.toMatch(/annabel|sondergeld|1984|leeds/)
        }
        expect((await ids.openMatchRecords([stored!]))[0]).toMatch(/annabel.*leeds/)
        const second = await resolve([rawEvent('identify', { sourceId: 'crm', traits: { ...traits, surname: 'sondergelt', email: 'ann2@example.org' } })])
        expect(second.resolutions[0]!.profileId).toBe(pid)
        // The profile's record after the merge is sealed again (not left in clear by the rewrite).
        const [after] = await backend().transaction((tx) => tx.identity.matchRecords([pid]))
        expect(isSealedMatchRecord(after!.fields)).toBe(true)
        expect(after!.fields).not.toBe(stored!.fields)
      })

      it('reads a match record written in clear before records were sealed, and a shredded profile has no record', async () => {
        const ring = await openKeyring()
        const ids = new PseudonymousIdentifiers(ring)
        const resolve = matchingResolver(ids)
        const traits = { given: 'isolde', surname: 'quarrington', dob: '1975-06-30', city: 'ripon' }
        const first = await resolve([rawEvent('identify', { sourceId: 'crm', traits: { ...traits, email: 'iq1@example.org' } })])
        const pid = first.resolutions[0]!.profileId
        const write = first.changes.matchRecords![0]!
        // As an older Tessera stored it: the same record and keys, the fields in clear.
        const [clear] = await ids.openMatchRecords([write])
        await backend().transaction((tx) => tx.identity.apply({ nodes: [], repoints: [], edges: [], merges: [], rejections: [], matchRecords: [{ ...write, fields: clear! }] }))
        expect((await backend().transaction((tx) => tx.identity.matchRecords([pid])))[0]!.fields).toBe(clear)
        const second = await resolve([rawEvent('identify', { sourceId: 'crm', traits: { ...traits, surname: 'quarringtan', email: 'iq2@example.org' } })])
        expect(second.resolutions[0]!.profileId).toBe(pid)
        // Once the person is erased (their profiles' data keys shredded), a copy of the record left behind matches nobody.
        const third = await resolve([rawEvent('identify', { sourceId: 'crm', traits: { ...traits, given: 'olive', surname: 'fenwick', email: 'of1@example.org' } })])
        const other = third.resolutions[0]!.profileId
        await ring.shred([other])
        const fourth = await resolve([rawEvent('identify', { sourceId: 'crm', traits: { ...traits, given: 'olive', surname: 'fenwik', email: 'of2@example.org' } })])
        expect(fourth.resolutions[0]!.profileId).not.toBe(other)
        expect(fourth.resolutions[0]!.created).toBe(true)
      })
    })

    describe('stores', () => {
      it('migrates idempotently', async () => {
        await backend().migrate()
        await backend().transaction((tx) => tx.profiles.put([profile('p1')]))
        await backend().migrate()
        expect((await backend().transaction((tx) => tx.profiles.get(['p1']))).size).toBe(1)
      })

      it('rolls back everything a failed transaction wrote', async () => {
        await expect(backend().transaction(async (tx) => {
          await tx.profiles.put([profile('p1')])
          await tx.offsets.save('g', [{ topic: 't', partition: 0, offset: 5 }])
          throw new Error('boom')
        })).rejects.toThrow('boom')
        const [profiles, offsets] = await backend().transaction(async (tx) => [await tx.profiles.get(['p1']), await tx.offsets.load('g', 't')] as const)
        expect(profiles.size).toBe(0)
        expect(offsets).toEqual([])
      })

      it('round-trips profiles, sessions and offsets, replacing on write', async () => {
        const p = profile('p1', {
          createdAt: 1_780_000_000_123, traits: { name: 'Kim', nested: { a: [1, 'x', null] } }, traitTimes: { name: 5 },
          eventCount: 3, sourceCounts: { web: 3 }, eventCounts: { 'Order Completed': 2, page: 1 }, mergedInto: null,
        })
        await backend().transaction(async (tx) => {
          await tx.profiles.put([profile('p1'), p])
          await tx.sessions.put(new Map([['anon:a', { sessionId: 's1', lastAt: 10, startedAt: 5 }]]))
          await tx.sessions.put(new Map([['anon:a', { sessionId: 's2', lastAt: 20, startedAt: 15 }]]))
          await tx.offsets.save('g', [{ topic: 't', partition: 0, offset: 5 }, { topic: 't', partition: 1, offset: 7 }])
          await tx.offsets.save('g', [{ topic: 't', partition: 0, offset: 9 }])
        })
        const got = await backend().transaction(async (tx) => ({
          profiles: await tx.profiles.get(['p1', 'nope']),
          sessions: await tx.sessions.get(['anon:a', 'anon:b']),
          offsets: await tx.offsets.load('g', 't'),
        }))
        expect(got.profiles.get('p1')).toEqual(p)
        expect([...got.sessions]).toEqual([['anon:a', { sessionId: 's2', lastAt: 20, startedAt: 15 }]])
        expect([...got.offsets].sort((a, b) => a.partition - b.partition)).toEqual([
          { topic: 't', partition: 0, offset: 9 }, { topic: 't', partition: 1, offset: 7 },
        ])
      })

      it('pages a timeline newest first without losing events that share a timestamp', async () => {
        await backend().transaction(async (tx) => {
          await tx.profiles.put([profile('p1')])
          await tx.profiles.appendEvents(timeline('p1', 25))
          await tx.profiles.appendEvents(timeline('p1', 2)) // a redelivered event is stored once
        })
        const reader = backend().reader()
        const seen: string[] = []
        let after: { timestamp: number; messageId: string } | undefined
        for (;;) {
          const page = await reader.events('p1', { limit: 4, ...(after ? { after } : {}) })
          seen.push(...page.events.map((e) => e.messageId))
          if (!page.next) break
          after = page.next
        }
        expect(seen).toHaveLength(25)
        expect(new Set(seen).size).toBe(25)
        expect(seen[0]).toBe('m024')
        await reader.close()
      })

      it('keeps only the newest events when trimming a timeline', async () => {
        await backend().transaction(async (tx) => {
          await tx.profiles.appendEvents(timeline('p1', 10))
          await tx.profiles.appendEvents(timeline('p2', 3))
          await tx.profiles.trimEvents(['p1', 'p2'], 4)
        })
        const reader = backend().reader()
        expect((await reader.events('p1', { limit: 100 })).events.map((e) => e.messageId)).toEqual(['m009', 'm008', 'm007', 'm006'])
        expect((await reader.events('p2', { limit: 100 })).events).toHaveLength(3)
        await reader.close()
      })

      it('moves a merged profile’s timeline and flattens merge chains', async () => {
        await backend().transaction(async (tx) => {
          await tx.profiles.put([profile('a'), profile('b', { mergedInto: 'c' }), profile('c')])
          await tx.profiles.appendEvents(timeline('c', 2))
          await tx.profiles.moveEvents([{ from: 'c', to: 'a' }])
          await tx.profiles.put([profile('c', { mergedInto: 'a' })])
        })
        const reader = backend().reader()
        expect(await reader.canonicalId('b')).toBe('a')
        expect((await reader.profile('b'))?.mergedInto).toBe('a')
        expect((await reader.events('a', { limit: 10 })).events).toHaveLength(2)
        expect(await reader.canonicalId('nope')).toBeNull()
        await reader.close()
      })

      it('applies chained moves in order', async () => {
        await backend().transaction(async (tx) => {
          await tx.profiles.put([profile('x'), profile('y'), profile('z'), profile('w', { mergedInto: 'x' })])
          await tx.profiles.appendEvents([...timeline('x', 2), ...timeline('y', 3, 5000)])
          await tx.profiles.moveEvents([{ from: 'x', to: 'y' }, { from: 'y', to: 'z' }])
        })
        const reader = backend().reader()
        expect((await reader.events('z', { limit: 10 })).events).toHaveLength(5)
        expect((await reader.events('x', { limit: 10 })).events).toHaveLength(0)
        expect((await reader.profile('w'))?.mergedInto).toBe('z')
        await reader.close()
      })

      it('answers edges, merges and rejections of a profile', async () => {
        await backend().transaction(async (tx) => {
          await tx.identity.apply({
            nodes: [
              { key: 'user_id:u', type: 'user_id', value: 'u', profileId: 'p', firstSeen: 1 },
              { key: 'anonymous_id:a', type: 'anonymous_id', value: 'a', profileId: 'p', firstSeen: 1 },
            ],
            repoints: [],
            edges: [{ from: 'user_id:u', to: 'anonymous_id:a', rule: 'identify', messageId: 'm1', sourceId: 'web', eventTime: 1, confidence: 1 }],
            merges: [{ winner: 'p', loser: 'q', messageId: 'm1', rule: 'identify', eventTime: 1 }],
            rejections: [{ key: 'email:test@test.com', messageId: 'm1', reason: 'blocked_value', profileId: 'p', eventTime: 1 }],
          })
          expect(await tx.identity.existingEdges(['anonymous_id:a|user_id:u', 'x|y'])).toEqual(new Set(['anonymous_id:a|user_id:u']))
        })
        const reader = backend().reader()
        expect(await reader.edges('p')).toEqual([expect.objectContaining({ from: 'user_id:u', to: 'anonymous_id:a', rule: 'identify', confidence: 1 })])
        expect(await reader.merges('p')).toEqual([expect.objectContaining({ loser: 'q' })])
        expect(await reader.merges('q')).toHaveLength(1)
        expect(await reader.rejections('p')).toEqual([expect.objectContaining({ reason: 'blocked_value' })])
        expect(await reader.profileIdByIdentifier('anonymous_id', 'a')).toBe('p')
        expect(await reader.identities('p')).toEqual([
          { key: 'anonymous_id:a', type: 'anonymous_id', value: 'a', profileId: 'p', firstSeen: 1 },
          { key: 'user_id:u', type: 'user_id', value: 'u', profileId: 'p', firstSeen: 1 },
        ])
        await reader.close()
      })

      it('forgets dedupe keys older than the window, and reset clears all derived state', async () => {
        await backend().transaction(async (tx) => {
          await tx.dedupe.remember(['old'], 100)
          await tx.dedupe.remember(['new'], 10_000)
          expect(await tx.dedupe.purge(5_000)).toBe(1)
          expect(await tx.dedupe.seen(['old', 'new'])).toEqual(new Set(['new']))
          await tx.profiles.put([profile('p')])
        })
        await backend().reset()
        const reader = backend().reader()
        expect(await reader.stats()).toEqual({ profiles: 0, identifiers: 0, events: 0, merges: 0 })
        await reader.close()
      })
    })

    describe('profile control records (partitioned profile updates)', () => {
      it('queues records in order, and removes published ones', async () => {
        await backend().transaction((tx) => tx.control.enqueue([{ key: 'p1', value: 'a' }, { key: 'p2', value: 'b' }], 1))
        await backend().transaction((tx) => tx.control.enqueue([{ key: 'p1', value: 'c' }], 2))
        const queued = await backend().transaction((tx) => tx.control.pending(10))
        expect(queued.map((q) => [q.key, q.value])).toEqual([['p1', 'a'], ['p2', 'b'], ['p1', 'c']])
        expect((await backend().transaction((tx) => tx.control.pending(2))).map((q) => q.value)).toEqual(['a', 'b'])
        await backend().transaction(async (tx) => {
          await tx.control.published([queued[0]!.seq, queued[1]!.seq])
          await tx.control.published([queued[0]!.seq]) // another publisher got there first
        })
        expect((await backend().transaction((tx) => tx.control.pending(10))).map((q) => q.value)).toEqual(['c'])
      })

      it('round-trips routes and trimmed counts, replacing on write', async () => {
        const notice = (unmerge: number): UnmergeNotice => ({
          control: 'unmerge', profile: 'p1', unmerge, kept: 'p0', members: ['p0', 'p1'], parts: [{ profileId: 'p0', keys: ['k'], createdAt: 1 }], detached: null, time: 5,
        })
        const counts = { eventCount: 2, eventCounts: { x: 2 }, sourceCounts: { web: 2 }, firstSeen: 10, lastSeen: 20, traitTimes: { name: 15 } }
        await backend().transaction(async (tx) => {
          await tx.control.putRoutes([{ profileId: 'p1', notice: notice(1) }])
          await tx.control.putRoutes([{ profileId: 'p1', notice: notice(2) }])
          await tx.control.putTrimmed([{ profileId: 'p1', ...counts, eventCount: 1 }])
          await tx.control.putTrimmed([{ profileId: 'p1', ...counts }])
        })
        const got = await backend().transaction(async (tx) => ({ routes: await tx.control.routes(['p1', 'p2']), trimmed: await tx.control.trimmed(['p1', 'p2']) }))
        expect([...got.routes]).toEqual([['p1', { profileId: 'p1', notice: notice(2) }]])
        expect([...got.trimmed]).toEqual([['p1', { profileId: 'p1', ...counts }]])
      })

      it('trims a timeline and returns what it removed, oldest first; deletes single events', async () => {
        await backend().transaction(async (tx) => {
          await tx.profiles.appendEvents(timeline('p1', 6))
          await tx.profiles.appendEvents(timeline('p2', 2))
        })
        const removed = await backend().transaction((tx) => tx.control.takeTrimmed(['p1', 'p2'], 4))
        expect(removed.map((e) => [e.profileId, e.messageId])).toEqual([['p1', 'm000'], ['p1', 'm001']])
        expect(removed[0]).toMatchObject({ sourceId: 'web', type: 'track', name: 'x', timestamp: 1000, payload: JSON.stringify({ i: 0 }) })
        await backend().transaction((tx) => tx.control.deleteEvents([{ profileId: 'p1', messageId: 'm005', sourceId: 'web' }, { profileId: 'p2', messageId: 'nope', sourceId: 'web' }]))
        const rows = await backend().transaction((tx) => tx.identity.timeline(['p1', 'p2']))
        expect(rows.map((r) => `${r.profileId}:${r.messageId}`)).toEqual(['p1:m002', 'p1:m003', 'p2:m000', 'p2:m001', 'p1:m004'].sort((x, y) => {
          const t = (k: string): number => Number(k.slice(-3)) >> 1
          return t(x) - t(y) || (x.slice(3) < y.slice(3) ? -1 : x.slice(3) > y.slice(3) ? 1 : 0)
        }))
      })
    })

    describe('identity resolution', () => {
      it('merges anonymous browsing on two devices when both identify as the same user', async () => {
        const first = await run([rawEvent('page', { anonymousId: 'laptop' }), rawEvent('screen', { anonymousId: 'phone' })])
        const laptop = first.resolutions[0]!.profileId
        const phone = first.resolutions[1]!.profileId
        expect(laptop).not.toBe(phone)
        const second = await run([
          rawEvent('identify', { anonymousId: 'laptop', userId: 'u1' }),
          rawEvent('identify', { anonymousId: 'phone', userId: 'u1' }),
        ])
        expect(second.resolutions[0]!.profileId).toBe(laptop)
        expect(second.resolutions[1]!.profileId).toBe(laptop) // the older profile wins
        expect(second.resolutions[1]!.merged).toEqual([phone])
        expect(second.changes.merges).toHaveLength(1)
        const owners = await backend().transaction((tx) => tx.identity.lookup(['anonymous_id:phone', 'user_id:u1', 'anonymous_id:laptop']))
        expect(new Set(owners.values())).toEqual(new Set([laptop]))
      })

      it('never merges two profiles with different user_ids (merge protection) and drops the linking identifier', async () => {
        await run([rawEvent('identify', { anonymousId: 'family-pc', userId: 'alice' })])
        const r = await run([rawEvent('identify', { anonymousId: 'family-pc', userId: 'bob' })])
        const bob = r.resolutions[0]!
        const owners = await backend().transaction((tx) => tx.identity.lookup(['user_id:alice', 'user_id:bob', 'anonymous_id:family-pc']))
        expect(owners.get('user_id:bob')).toBe(bob.profileId)
        expect(owners.get('user_id:alice')).not.toBe(bob.profileId)
        expect(owners.get('anonymous_id:family-pc')).toBe(owners.get('user_id:alice'))
        expect(r.changes.rejections).toEqual([expect.objectContaining({ key: 'anonymous_id:family-pc', reason: 'merge_protection' })])
        expect(r.changes.merges).toHaveLength(0)
      })

      it('refuses a merge through a shared e-mail when the two sides hold different user_ids', async () => {
        await run([rawEvent('identify', { userId: 'alice', traits: { email: 'Shared@Example.org' } })])
        const r = await run([rawEvent('identify', { userId: 'bob', traits: { email: 'shared@example.org' } })])
        expect(r.changes.merges).toHaveLength(0)
        expect(r.changes.rejections.map((x) => x.key)).toEqual(['email:shared@example.org'])
      })

      it('alias links previousId to userId and records the edge with its rule and event', async () => {
        const a = await run([rawEvent('page', { anonymousId: 'anon-7' })])
        const alias = rawEvent('alias', { userId: 'u7', previousId: 'anon-7' })
        const r = await run([alias])
        expect(r.resolutions[0]!.profileId).toBe(a.resolutions[0]!.profileId)
        expect(r.changes.edges).toEqual([expect.objectContaining({ from: 'user_id:u7', to: 'anonymous_id:anon-7', rule: 'alias', messageId: alias.messageId })])
      })

      it('records each link once in the edge log', async () => {
        const r1 = await run([rawEvent('identify', { anonymousId: 'z', userId: 'uz' })])
        const r2 = await run([rawEvent('track', { anonymousId: 'z', userId: 'uz', event: 'x' })])
        expect(r1.changes.edges).toHaveLength(1)
        expect(r2.changes.edges).toHaveLength(0)
      })

      it('merges three profiles in one batch and repoints every identifier to the survivor', async () => {
        const first = await run([
          rawEvent('page', { anonymousId: 'm1' }), rawEvent('page', { anonymousId: 'm2' }), rawEvent('page', { anonymousId: 'm3' }),
        ])
        const [p1] = first.resolutions.map((r) => r.profileId)
        await run([
          rawEvent('identify', { anonymousId: 'm2', userId: 'mu' }),
          rawEvent('identify', { anonymousId: 'm3', userId: 'mu' }),
          rawEvent('identify', { anonymousId: 'm1', userId: 'mu' }),
        ])
        const owners = await backend().transaction((tx) => tx.identity.lookup(['anonymous_id:m1', 'anonymous_id:m2', 'anonymous_id:m3', 'user_id:mu']))
        expect(new Set(owners.values())).toEqual(new Set([p1]))
        const reader = backend().reader()
        expect((await reader.identities(p1!)).map((n) => n.key).sort()).toEqual(['anonymous_id:m1', 'anonymous_id:m2', 'anonymous_id:m3', 'user_id:mu'])
        expect((await reader.stats()).merges).toBe(2)
        await reader.close()
      })
    })

    describe('graph guards and unmerge', () => {
      it('stores contacts, quarantines and split rules, and answers them per key and window', async () => {
        await backend().transaction((tx) => tx.identity.apply({
          nodes: [], repoints: [], edges: [], merges: [], rejections: [],
          contacts: [{ key: 'device_id:d1', profileId: 'pa', time: 100 }, { key: 'device_id:d1', profileId: 'pb', time: 200 },
            { key: 'device_id:d1', profileId: 'pa', time: 300 }, { key: 'email:x@example.org', profileId: 'pc', time: 50 }],
          quarantines: [{ key: 'device_id:d1', profiles: 4, threshold: 3, windowMs: 1000, cause: 'supernode_guard', messageId: 'm9', time: 300 }],
        }))
        const contacts = await backend().transaction((tx) => tx.identity.contacts([{ key: 'device_id:d1', since: 250 }, { key: 'email:x@example.org', since: 0 }]))
        expect(contacts).toEqual(new Map([['device_id:d1', new Set(['pa'])], ['email:x@example.org', new Set(['pc'])]]))
        const seq = await backend().transaction((tx) => tx.identity.recordUnmerge({
          profileId: 'pa', kind: 'identifier', target: 'email:x@example.org', principal: 'token:ops', reason: 'r',
          result: [{ profileId: 'pa', identifiers: ['user_id:a'] }, { profileId: 'pz', identifiers: ['email:x@example.org'] }], time: 5,
        }, [['email:x@example.org', 'user_id:a']]))
        const guards = await backend().transaction((tx) => tx.identity.guards(['device_id:d1', 'user_id:a', 'anonymous_id:none']))
        expect([...guards.quarantined]).toEqual(['device_id:d1'])
        expect(guards.splits).toEqual(new Map([['user_id:a', new Set(['email:x@example.org'])]]))
        const list = await backend().transaction((tx) => tx.identity.quarantineList({ limit: 10 }))
        expect(list).toEqual([expect.objectContaining({ key: 'device_id:d1', profiles: 4, threshold: 3, windowMs: 1000, messageId: 'm9', time: 300 })])
        const unmerges = await backend().transaction((tx) => tx.identity.unmerges('pz'))
        expect(unmerges).toEqual([expect.objectContaining({ seq, profileId: 'pa', principal: 'token:ops', result: expect.arrayContaining([expect.objectContaining({ profileId: 'pz' })]) })])
      })

      it('unmerges a profile inside a transaction and keeps the parts apart afterwards', async () => {
        const first = await run([
          rawEvent('identify', { anonymousId: 'un-a', traits: { email: 'fam@example.org' } }),
          rawEvent('identify', { anonymousId: 'un-b', traits: { email: 'fam@example.org' } }),
        ])
        const pid = first.resolutions[0]!.profileId
        expect(first.resolutions[1]!.profileId).toBe(pid)
        await backend().transaction((tx) => tx.profiles.appendEvents(first.resolutions.map((_, i) => ({
          profileId: pid, messageId: `um${i}`, sourceId: 'web', type: 'identify', name: 'identify', timestamp: 10 + i,
          payload: JSON.stringify({ type: 'identify', messageId: `um${i}`, sourceId: 'web', timestamp: new Date(10 + i).toISOString(),
            receivedAt: new Date(10 + i).toISOString(), anonymousId: i === 0 ? 'un-a' : 'un-b', traits: { email: 'fam@example.org' } }),
        }))))
        await backend().transaction((tx) => tx.profiles.put([profile(pid, { eventCount: 2 })]))
        const edges = await backend().transaction((tx) => tx.identity.edgesAmong(['anonymous_id:un-a', 'anonymous_id:un-b', 'email:fam@example.org']))
        expect(edges).toHaveLength(2)
        const out = await backend().transaction((tx) => unmergeProfile(tx, rules, {
          profileId: pid, target: { identifier: 'email:fam@example.org' }, principal: 'token:ops', reason: 'family', now: 1,
        }))
        expect(out.profiles.map((p) => [p.identifiers, p.eventCount])).toEqual([
          [['email:fam@example.org'], 0], [['anonymous_id:un-a'], 1], [['anonymous_id:un-b'], 1],
        ])
        const owners = await backend().transaction((tx) => tx.identity.lookup(['anonymous_id:un-a', 'anonymous_id:un-b', 'email:fam@example.org']))
        expect(new Set(owners.values()).size).toBe(3)
        const rows = await backend().transaction((tx) => tx.identity.timeline(out.profiles.map((p) => p.profileId)))
        expect(new Set(rows.map((r) => r.profileId)).size).toBe(2)
        const again = await run([rawEvent('identify', { anonymousId: 'un-b', traits: { email: 'fam@example.org' } })])
        expect(again.changes.merges).toEqual([])
        expect(again.changes.rejections.map((r) => [r.key, r.reason])).toEqual([['email:fam@example.org', 'split_rule']])
      })

      it('with partitioned profile updates, splits the graph and queues a notice for every member and part, leaving profile rows to their owners', async () => {
        const a = await run([rawEvent('identify', { anonymousId: 'pu-a', traits: { email: 'pu@example.org' } })])
        const b = await run([rawEvent('identify', { anonymousId: 'pu-b' })])
        const merged = await run([rawEvent('identify', { anonymousId: 'pu-b', traits: { email: 'pu@example.org' } })])
        // Either may win (the helper's created-at ties are broken by id): call the survivor pa.
        const pa = merged.resolutions[0]!.profileId
        const pb = merged.resolutions[0]!.merged[0]!
        expect([pa, pb].sort()).toEqual([a.resolutions[0]!.profileId, b.resolutions[0]!.profileId].sort())
        expect(await backend().transaction((tx) => tx.identity.mergeLog([pb]))).toEqual([expect.objectContaining({ winner: pa, loser: pb })])
        const rows = await backend().transaction((tx) => tx.profiles.get([pa, pb]))
        // Asked by the loser's id: the identity side's merge log leads to the survivor.
        const out = await backend().transaction((tx) => unmergeProfile(tx, rules, {
          profileId: pb, target: { identifier: 'email:pu@example.org' }, principal: 'token:ops', reason: 'r', now: 7,
        }, { profileUpdates: 'partitioned' }))
        expect(out).toMatchObject({ profileId: pa, rebuild: 'queued', complete: null })
        expect(out.profiles.map((p) => [p.identifiers, p.eventCount])).toEqual([
          [['email:pu@example.org'], null], [['anonymous_id:pu-a'], null], [['anonymous_id:pu-b'], null],
        ])
        expect(out.profiles.find((p) => p.kept)?.profileId).toBe(pa)
        expect(await backend().transaction((tx) => tx.profiles.get([pa, pb]))).toEqual(rows)
        const queued = await backend().transaction((tx) => tx.control.pending(100))
        const notices = queued.map((q) => JSON.parse(q.value) as UnmergeNotice)
        const parts = out.profiles.map((p) => p.profileId)
        expect(queued.map((q) => q.key)).toEqual([pa, pb, ...parts.filter((p) => p !== pa)])
        for (const n of notices) {
          expect(n).toMatchObject({ control: 'unmerge', unmerge: out.seq, kept: pa, members: [pa, pb], detached: routeKey('email:pu@example.org') })
          expect(n.parts.map((p) => p.keys)).toEqual(out.profiles.map((p) => p.identifiers.map(routeKey)))
        }
        await backend().transaction((tx) => tx.control.published(queued.slice(0, 2).map((q) => q.seq)))
        expect((await backend().transaction((tx) => tx.control.pending(100))).map((q) => q.seq)).toEqual(queued.slice(2).map((q) => q.seq))
      })

    describe('real-time matching', () => {
      const noChanges = { nodes: [], repoints: [], edges: [], merges: [], rejections: [] }

      it('looks candidates up by blocking key, skips blocks over the cap, and drops merged-away profiles', async () => {
        await backend().transaction((tx) => tx.identity.apply({
          ...noChanges,
          matchRecords: [
            { profileId: 'pa', fields: '["a"]', keys: ['k-common', 'k-a'] },
            { profileId: 'pb', fields: '["b"]', keys: ['k-common', 'k-b'] },
            { profileId: 'pc', fields: '["c"]', keys: ['k-common'] },
          ],
        }))
        const sizes = await backend().transaction((tx) => tx.identity.matchBlockSizes(['k-common', 'k-a', 'k-none'], 2))
        expect(sizes).toEqual(new Map([['k-common', 3], ['k-a', 1], ['k-none', 0]]))
        const byKey = await backend().transaction((tx) => tx.identity.matchCandidates(['k-a', 'k-common'], 2))
        expect(byKey).toEqual([{ profileId: 'pa', fields: '["a"]', keys: ['k-a'] }])
        const all = await backend().transaction((tx) => tx.identity.matchCandidates(['k-common'], 3))
        expect(all.map((r) => r.profileId).sort()).toEqual(['pa', 'pb', 'pc'])
        // Each profile comes once, with every looked-up key it holds (a key asked twice counts once).
        const both = await backend().transaction((tx) => tx.identity.matchCandidates(['k-common', 'k-a', 'k-b', 'k-a'], 3))
        expect(both.map((r) => [r.profileId, [...r.keys].sort()]).sort()).toEqual([['pa', ['k-a', 'k-common']], ['pb', ['k-b', 'k-common']], ['pc', ['k-common']]])
        // A changed record replaces its keys; a repoint removes the loser from the index.
        await backend().transaction((tx) => tx.identity.apply({
          ...noChanges, repoints: [{ from: 'pc', to: 'pa' }], matchRecords: [{ profileId: 'pb', fields: '["b2"]', keys: ['k-b2'] }],
        }))
        const after = await backend().transaction((tx) => tx.identity.matchCandidates(['k-common', 'k-b', 'k-b2'], 10))
        expect(after.sort((x, y) => (x.profileId < y.profileId ? -1 : 1))).toEqual([
          { profileId: 'pa', fields: '["a"]', keys: ['k-common'] }, { profileId: 'pb', fields: '["b2"]', keys: ['k-b2'] },
        ])
        expect(await backend().transaction((tx) => tx.identity.matchRecords(['pb', 'pc']))).toEqual([{ profileId: 'pb', fields: '["b2"]' }])
      })

      it('queues reviews, decides each once, and a rejection writes a do-not-link pair', async () => {
        await backend().transaction((tx) => tx.identity.apply({
          ...noChanges,
          reviews: [
            { profileA: 'pz', profileB: 'py', probability: 0.9, weight: 3.2, messageId: 'm1', eventTime: 10 },
            { profileA: 'pa', profileB: 'pb', probability: 0.85, weight: 2.5, messageId: 'm2', eventTime: 20 },
          ],
        }))
        const open = await backend().transaction((tx) => tx.identity.reviewList({ limit: 10, status: 'open' }))
        expect(open.map((r) => [r.profileA, r.profileB, r.probability, r.status])).toEqual([['pz', 'py', 0.9, 'open'], ['pa', 'pb', 0.85, 'open']])
        const rejected = await backend().transaction((tx) => tx.identity.decideReview(open[0]!.seq, 'rejected', 'token:ops', 99))
        expect(rejected).toMatchObject({ seq: open[0]!.seq, status: 'open' })
        expect(await backend().transaction((tx) => tx.identity.decideReview(open[0]!.seq, 'accepted', 'token:ops', 100))).toBeNull()
        expect(await backend().transaction((tx) => tx.identity.doNotLink(['py']))).toEqual(new Set(['py|pz']))
        expect(await backend().transaction((tx) => tx.identity.doNotLink(['pa']))).toEqual(new Set())
        const decided = await backend().transaction((tx) => tx.identity.reviewList({ limit: 10, status: 'rejected' }))
        expect(decided).toEqual([expect.objectContaining({ profileA: 'pz', status: 'rejected', principal: 'token:ops', decidedAt: 99 })])
        expect(await backend().transaction((tx) => tx.identity.reviewList({ limit: 1, afterSeq: open[0]!.seq }))).toEqual([expect.objectContaining({ profileA: 'pa' })])
      })

      it('a rejected review keeps the two profiles apart through an identifier they share later, until it is reopened', async () => {
        const a = await run([rawEvent('identify', { anonymousId: 'rv-a', traits: { email: 'rv-a@example.org' } })])
        const b = await run([rawEvent('identify', { anonymousId: 'rv-b' })])
        const [pa, pb] = [a.resolutions[0]!.profileId, b.resolutions[0]!.profileId]
        await backend().transaction((tx) => tx.identity.apply({ ...noChanges, reviews: [{ profileA: pa, profileB: pb, probability: 0.8, weight: 2, messageId: 'm', eventTime: 1 }] }))
        const [item] = await backend().transaction((tx) => tx.identity.reviewList({ limit: 1, status: 'open' }))
        await backend().transaction((tx) => decideReviewItem(tx, rules, { seq: item!.seq, decision: 'reject', principal: 'token:ops', now: 2 }))
        // The second person's device now carries the first one's e-mail: the link is refused and recorded, no merge
        // (the event goes with its highest-priority identifier, the e-mail, as with any refused link).
        const link = (): RawEvent => rawEvent('identify', { anonymousId: 'rv-b', traits: { email: 'rv-a@example.org' } })
        const refused = await run([link()])
        expect(refused.changes.merges).toEqual([])
        expect(refused.resolutions[0]!.profileId).toBe(pa)
        expect(refused.changes.rejections.map((r) => [r.key, r.reason, r.profileId])).toEqual([['anonymous_id:rv-b', 'split_rule', pa]])
        const owners = await backend().transaction((tx) => tx.identity.lookup(['anonymous_id:rv-b', 'email:rv-a@example.org']))
        expect([owners.get('anonymous_id:rv-b'), owners.get('email:rv-a@example.org')]).toEqual([pb, pa])
        expect(await backend().transaction((tx) => tx.identity.reopenReview(item!.seq + 1000))).toBeNull()
        const reopened = await backend().transaction((tx) => decideReviewItem(tx, rules, { seq: item!.seq, decision: 'reopen', principal: 'token:ops', now: 3 }))
        expect(reopened).toMatchObject({ status: 'open' })
        expect(await backend().transaction((tx) => tx.identity.doNotLink([pa]))).toEqual(new Set())
        expect(await backend().transaction((tx) => tx.identity.reviewList({ limit: 10, status: 'open' }))).toEqual([expect.objectContaining({ seq: item!.seq, principal: null })])
        const linked = await run([link()])
        expect(linked.changes.merges.map((m) => [m.winner, m.loser].sort())).toEqual([[pa, pb].sort()])
      })

      it('merges a typo of a stored person through the persisted index, with a scored edge', async () => {
        const matching = new RealtimeMatching(trainedPersonModel(), { autoMerge: 0.99, review: 0.5, maxBlockSize: 100 })
        const resolve = (events: RawEvent[]): Promise<BatchResolution> => backend().transaction(async (tx) => {
          const result = await resolveBatch(events, rules, tx.identity, null, matching)
          await tx.identity.apply(result.changes)
          return result
        })
        const traits = { given: 'annabel', surname: 'sondergeld', dob: '1984-03-12', city: 'leeds' }
        const first = await resolve([rawEvent('identify', { sourceId: 'crm', traits: { ...traits, email: 'ann1@example.org' } })])
        const second = await resolve([rawEvent('identify', { sourceId: 'crm', traits: { ...traits, surname: 'sondergelt', email: 'ann2@example.org' } })])
        expect(second.resolutions[0]!.profileId).toBe(first.resolutions[0]!.profileId)
        const edges = await backend().transaction((tx) => tx.identity.edgesAmong(['email:ann1@example.org', 'email:ann2@example.org']))
        expect(edges).toEqual([expect.objectContaining({ rule: 'probabilistic' })])
        expect(edges[0]!.confidence).toBeGreaterThanOrEqual(0.99)
        expect(edges[0]!.confidence).toBeLessThan(1)
      })
    })
    })
  })
}
