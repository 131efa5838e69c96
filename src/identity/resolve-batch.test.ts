import { describe, expect, it } from 'vitest'
import { DEFAULT_IDENTIFIER_TYPES, type IdentifierTypeConfig } from '../config/identity-types.js'
import { rawEvent } from '../../test/support/factories.js'
import { useTempStateBackend } from '../../test/support/temp-state-backend.js'
import { compileIdentityRules } from './identity-rules.js'
import { resolveBatch, type BatchResolution } from './resolve-batch.js'
import type { RawEvent } from '../core/event.js'
import { createResolveIdentityStage } from '../pipeline/stages/resolve-identity.js'
import type { WorkItem } from '../pipeline/stage.js'

const rules = compileIdentityRules(DEFAULT_IDENTIFIER_TYPES, 'US')

// The storage-facing behaviour of resolution (merges, merge protection, the edge log) is part of the
// StateBackend contract (src/storage/state-backend.contract.ts) and runs on every adapter; these tests cover
// the rules themselves, on SQLite.
describe('resolveBatch (deterministic identity graph on SQLite)', () => {
  const temp = useTempStateBackend()

  /** Resolves and applies a batch, recording created-at for new profiles as the pipeline does. */
  async function run(events: RawEvent[]): Promise<BatchResolution> {
    return temp.backend().transaction(async (tx) => {
      const result = await resolveBatch(events, rules, tx.identity, async (ids) => new Map([...(await tx.profiles.get(ids))].map(([id, p]) => [id, p.createdAt])))
      await tx.identity.apply(result.changes)
      const created = result.resolutions.filter((r) => r.created).map((r, i) => ({
        id: r.profileId, createdAt: i, firstSeen: 0, lastSeen: 0, traits: {}, traitTimes: {}, eventCount: 0,
        sourceCounts: {}, eventCounts: {}, mergedInto: null, updatedAt: 0,
      }))
      await tx.profiles.put(created)
      return result
    })
  }

  it('gives one profile to events sharing an identifier, and a new one otherwise', async () => {
    const r = await run([
      rawEvent('page', { anonymousId: 'a1' }),
      rawEvent('page', { anonymousId: 'a1' }),
      rawEvent('page', { anonymousId: 'a2' }),
    ])
    expect(r.resolutions[0]!.profileId).toBe(r.resolutions[1]!.profileId)
    expect(r.resolutions[2]!.profileId).not.toBe(r.resolutions[0]!.profileId)
  })

  it('does not link on blocked placeholder values', async () => {
    const r = await run([
      rawEvent('identify', { anonymousId: 'x1', userId: '0', traits: { email: 'test@test.com' } }),
      rawEvent('identify', { anonymousId: 'x2', userId: '0', traits: { email: 'TEST@test.com' } }),
      rawEvent('track', { anonymousId: '00000000-0000-0000-0000-000000000000', event: 'x' }),
    ])
    expect(r.resolutions[0]!.profileId).not.toBe(r.resolutions[1]!.profileId)
    expect(r.changes.nodes.map((n) => n.key).sort()).toEqual(['anonymous_id:x1', 'anonymous_id:x2'])
    expect(r.changes.rejections.filter((x) => x.reason === 'blocked_value').map((x) => x.key)).toContain('user_id:0')
  })

  it('normalises e-mails and phones before linking', async () => {
    const r = await run([
      rawEvent('identify', { anonymousId: 'p1', traits: { email: ' Ann@Example.COM ', phone: '(415) 555-2671' } }),
      rawEvent('identify', { anonymousId: 'p2', traits: { email: 'ann@example.com' } }),
      rawEvent('identify', { anonymousId: 'p3', traits: { phone: '+1 415 555 2671' } }),
    ])
    expect(new Set(r.resolutions.map((x) => x.profileId)).size).toBe(1)
    expect(r.changes.nodes.map((n) => n.key)).toContain('phone:+14155552671')
  })

  it('reads custom identifier types from context.externalIds', async () => {
    const custom = compileIdentityRules([...DEFAULT_IDENTIFIER_TYPES, {
      name: 'crm_id', priority: 2, limit: 1, unique: true, normalize: 'trim', blocked: [], blockedPatterns: [], paths: ['traits.crm_id'],
    }], 'US')
    const events = [
      rawEvent('identify', { anonymousId: 'c1', context: { externalIds: [{ id: 'CRM-9', type: 'crm_id', collection: 'users', encoding: 'none' }] } }),
      rawEvent('identify', { anonymousId: 'c2', traits: { crm_id: 'CRM-9' } }),
    ]
    const r = await temp.backend().transaction(async (tx) => resolveBatch(events, custom, tx.identity, async () => new Map()))
    expect(r.resolutions[0]!.profileId).toBe(r.resolutions[1]!.profileId)
  })

  describe('graph guards', () => {
    const day = 86_400_000
    const at = (ms: number): string => new Date(Date.parse('2027-01-01T00:00:00Z') + ms).toISOString()
    const withTypes = (patch: (t: IdentifierTypeConfig) => IdentifierTypeConfig) =>
      compileIdentityRules(DEFAULT_IDENTIFIER_TYPES.map(patch), 'US')
    async function runWith(custom: ReturnType<typeof compileIdentityRules>, events: RawEvent[]): Promise<BatchResolution> {
      return temp.backend().transaction(async (tx) => {
        const result = await resolveBatch(events, custom, tx.identity, null)
        await tx.identity.apply(result.changes)
        return result
      })
    }

    it('limits anonymous_ids to 5 a week: the sixth in a week is refused (limit_exceeded), a week later it links', async () => {
      const evs = [1, 2, 3, 4, 5, 6].map((n) => rawEvent('identify', { userId: 'weekly', anonymousId: `w${n}`, timestamp: at(n * 1000) }))
      const r = await run(evs)
      expect(new Set(r.resolutions.map((x) => x.profileId)).size).toBe(1)
      expect(r.changes.rejections).toEqual([expect.objectContaining({ key: 'anonymous_id:w6', reason: 'limit_exceeded', profileId: r.resolutions[0]!.profileId })])
      const later = await run([rawEvent('identify', { userId: 'weekly', anonymousId: 'w7', timestamp: at(8 * day) })])
      expect(later.changes.rejections).toEqual([])
      expect(later.changes.nodes.map((n) => n.key)).toEqual(['anonymous_id:w7'])
    })

    it('without a window the limit counts every value ever seen', async () => {
      const ever = withTypes((t) => (t.name === 'anonymous_id' ? { ...t, window: 'ever', limit: 2 } : t))
      await runWith(ever, [1, 2].map((n) => rawEvent('identify', { userId: 'ever', anonymousId: `e${n}`, timestamp: at(n) })))
      const r = await runWith(ever, [rawEvent('identify', { userId: 'ever', anonymousId: 'e3', timestamp: at(400 * day) })])
      expect(r.changes.rejections.map((x) => [x.key, x.reason])).toEqual([['anonymous_id:e3', 'limit_exceeded']])
    })

    it('quarantines a shared device id once it has reached more than N profiles, then stops linking on it', async () => {
      const strict = withTypes((t) => (t.name === 'device_id' ? { ...t, quarantine: { profiles: 3, window: '30d' } } : t))
      const users = ['ann', 'ben', 'cat', 'dan']
      const first = await runWith(strict, users.map((u, i) => rawEvent('identify', { userId: u, context: { device: { id: 'ipad-1' } }, timestamp: at(i * 1000) })))
      // ann owns the device; ben, cat and dan are refused it (merge protection) and each is a contact.
      expect(first.changes.rejections.filter((x) => x.reason === 'merge_protection')).toHaveLength(3)
      expect(first.changes.quarantines).toEqual([expect.objectContaining({ key: 'device_id:ipad-1', profiles: 4, threshold: 3, cause: 'supernode_guard' })])
      const list = await temp.backend().transaction((tx) => tx.identity.quarantineList({ limit: 10 }))
      expect(list.map((q) => q.key)).toEqual(['device_id:ipad-1'])
      // Next batch: an event with the device and a new e-mail does not link them; the device alone goes to its profile.
      const annProfile = first.resolutions[0]!.profileId
      const next = await runWith(strict, [
        rawEvent('identify', { context: { device: { id: 'ipad-1' } }, traits: { email: 'eve@example.org' }, timestamp: at(10_000) }),
        rawEvent('track', { event: 'Tapped', context: { device: { id: 'ipad-1' } }, timestamp: at(11_000) }),
      ])
      expect(next.resolutions[0]!.profileId).not.toBe(annProfile)
      expect(next.changes.edges).toEqual([])
      expect(next.changes.rejections.map((x) => [x.key, x.reason])).toEqual([['device_id:ipad-1', 'quarantined']])
      expect(next.resolutions[1]!.profileId).toBe(annProfile)
    })

    it('does not quarantine an identifier whose merges were allowed (one person, many browsers)', async () => {
      const strict = withTypes((t) => (t.name === 'email' ? { ...t, quarantine: { profiles: 2, window: '30d' } } : t))
      const r = await runWith(strict, [1, 2, 3, 4].flatMap((n) => [
        rawEvent('page', { anonymousId: `br${n}`, timestamp: at(n * 10) }),
        rawEvent('identify', { anonymousId: `br${n}`, traits: { email: 'many@example.org' }, timestamp: at(n * 10 + 1) }),
      ]))
      expect(r.changes.merges.length).toBeGreaterThan(0)
      expect(r.changes.quarantines).toEqual([])
    })

    it('refuses an identifier that would grow a profile past its size cap (component_cap), and the merge it would cause', async () => {
      const capped = withTypes((t) => ({ ...t, maxProfileIdentifiers: 3 }))
      const a = await runWith(capped, [rawEvent('identify', { userId: 'capped', traits: { email: 'c1@example.org', phone: '+14155550001' }, timestamp: at(1) })])
      const r = await runWith(capped, [
        rawEvent('identify', { userId: 'capped', context: { device: { id: 'dev-cap' } }, timestamp: at(2) }),
        rawEvent('page', { anonymousId: 'side', timestamp: at(3) }),
        rawEvent('identify', { anonymousId: 'side', traits: { email: 'c1@example.org' }, timestamp: at(4) }),
      ])
      expect(r.resolutions[0]!.profileId).toBe(a.resolutions[0]!.profileId)
      expect(r.changes.rejections.map((x) => [x.key, x.reason])).toEqual([['device_id:dev-cap', 'component_cap'], ['anonymous_id:side', 'component_cap']])
      expect(r.changes.merges).toEqual([])
    })

    it('applies the global size cap (identity.maxProfileSize) whatever the types allow', async () => {
      const capped = compileIdentityRules(DEFAULT_IDENTIFIER_TYPES, 'US', 3)
      const a = await runWith(capped, [rawEvent('identify', { userId: 'gcap', traits: { email: 'g1@example.org', phone: '+14155550002' }, timestamp: at(1) })])
      const r = await runWith(capped, [
        rawEvent('identify', { userId: 'gcap', context: { device: { id: 'dev-gcap' } }, timestamp: at(2) }),
        rawEvent('page', { anonymousId: 'gside', timestamp: at(3) }),
        rawEvent('identify', { anonymousId: 'gside', traits: { email: 'g1@example.org' }, timestamp: at(4) }),
      ])
      expect(r.resolutions[0]!.profileId).toBe(a.resolutions[0]!.profileId)
      expect(r.changes.rejections.map((x) => [x.key, x.reason])).toEqual([['device_id:dev-gcap', 'component_cap'], ['anonymous_id:gside', 'component_cap']])
    })

    it('quarantines a supernode within the batch that reveals it, from the event that crossed the threshold on', async () => {
      const strict = withTypes((t) => (t.name === 'device_id' ? { ...t, quarantine: { profiles: 3, window: '30d' } } : t))
      const stage = createResolveIdentityStage(strict, { profileAges: 'identifiers' })
      const events = [
        ...['ann', 'ben', 'cat', 'dan'].map((u, i) => rawEvent('identify', { userId: u, context: { device: { id: 'ipad-2' } }, timestamp: at(i * 1000) })),
        // Same batch, after dan crossed the threshold: a walk-in's e-mail on the kiosk must not join ann.
        rawEvent('identify', { anonymousId: 'walk-in', context: { device: { id: 'ipad-2' } }, traits: { email: 'eve2@example.org' }, timestamp: at(5000) }),
      ]
      const items: WorkItem[] = events.map((event, i) => ({
        record: { topic: 'events.raw', partition: 0, offset: i, key: event.messageId, value: '', timestamp: 0 }, event, time: Date.parse(event.timestamp), enrichment: {},
      }))
      const counts: Record<string, number> = {}
      await temp.backend().transaction((tx) => stage.run({ items, tx, now: 0, counts }))
      const [ann, , , , walkIn] = items.map((i) => i.profileId!)
      expect(walkIn).not.toBe(ann)
      const stored = await temp.backend().transaction(async (tx) => ({
        owner: await tx.identity.lookup(['device_id:ipad-2', 'email:eve2@example.org']),
        quarantined: await tx.identity.quarantineList({ limit: 10 }),
      }))
      // ann linked the device before it was a supernode; the quarantine is recorded once, by the event that crossed.
      expect(stored.owner.get('device_id:ipad-2')).toBe(ann)
      expect(stored.owner.get('email:eve2@example.org')).toBe(walkIn)
      expect(stored.quarantined).toEqual([expect.objectContaining({ key: 'device_id:ipad-2', profiles: 4, messageId: events[3]!.messageId })])
    })

    it('honours a split rule: two identifiers an unmerge separated never share a profile again', async () => {
      const first = await runWith(rules, [rawEvent('identify', { userId: 'sp1', traits: { email: 'sp@example.org' }, timestamp: at(1) })])
      await temp.backend().transaction(async (tx) => {
        await tx.identity.recordUnmerge({
          profileId: first.resolutions[0]!.profileId, kind: 'identifier', target: 'email:sp@example.org', principal: 'token:test', reason: 'test',
          result: [], time: 1,
        }, [['email:sp@example.org', 'user_id:sp1']])
        await tx.identity.apply({ nodes: [{ key: 'email:sp@example.org', type: 'email', value: 'sp@example.org', profileId: 'p_detached', firstSeen: 1 }], repoints: [], edges: [], merges: [], rejections: [] })
      })
      const r = await runWith(rules, [rawEvent('identify', { userId: 'sp1', traits: { email: 'sp@example.org' }, timestamp: at(2) })])
      expect(r.resolutions[0]!.profileId).toBe(first.resolutions[0]!.profileId)
      expect(r.changes.merges).toEqual([])
      expect(r.changes.rejections.map((x) => [x.key, x.reason])).toEqual([['email:sp@example.org', 'split_rule']])
    })
  })
})
