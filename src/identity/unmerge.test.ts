import { describe, expect, it } from 'vitest'
import { DEFAULT_IDENTIFIER_TYPES } from '../config/identity-types.js'
import type { RawEvent } from '../core/event.js'
import { rawEvent } from '../../test/support/factories.js'
import { useTempStateBackend } from '../../test/support/temp-state-backend.js'
import { createResolveIdentityStage } from '../pipeline/stages/resolve-identity.js'
import { createUpdateProfilesStage } from '../pipeline/stages/update-profiles.js'
import type { WorkItem } from '../pipeline/stage.js'
import { eventTime } from './resolve-batch.js'
import { compileIdentityRules } from './identity-rules.js'
import { components, unmergeProfile, type UnmergeTarget } from './unmerge.js'

const rules = compileIdentityRules(DEFAULT_IDENTIFIER_TYPES, 'US')

describe('components', () => {
  it('groups keys connected by edges and leaves isolated keys alone', () => {
    expect(components(['a', 'b', 'c', 'd'], [{ from: 'a', to: 'c' }, { from: 'c', to: 'a' }])).toEqual([['a', 'c'], ['b'], ['d']])
  })
})

describe('unmergeProfile (inline profile updates, SQLite)', () => {
  const temp = useTempStateBackend()

  /** Runs events through the real identity and profile stages, one batch. */
  async function pipeline(events: RawEvent[], timelineLimit = 0): Promise<string[]> {
    const stages = [createResolveIdentityStage(rules), createUpdateProfilesStage({ timelineLimit })]
    return temp.backend().transaction(async (tx) => {
      const items: WorkItem[] = events.map((event, offset) => ({
        record: { topic: 'events.raw', partition: 0, offset, key: null, value: '', timestamp: 0 }, event, time: eventTime(event), enrichment: {},
      }))
      const batch = { items, tx, now: 1, counts: {} }
      for (const stage of stages) await stage.run(batch)
      return items.map((i) => i.profileId!)
    })
  }

  const unmerge = (profileId: string, target: UnmergeTarget) => temp.backend().transaction((tx) =>
    unmergeProfile(tx, rules, { profileId, target, principal: 'token:test', reason: 'shared e-mail', now: 2 }))
  const owner = (key: string) => temp.backend().transaction(async (tx) => (await tx.identity.lookup([key])).get(key))
  const profileOf = async (id: string) => (await temp.backend().transaction((tx) => tx.profiles.get([id]))).get(id)!

  /** Ann and Ben both typed the family e-mail; one profile holds both people. */
  async function blob(limit = 0): Promise<string> {
    const ids = await pipeline([
      rawEvent('identify', { anonymousId: 'ann-phone', traits: { name: 'Ann' } }),
      rawEvent('track', { anonymousId: 'ann-phone', event: 'Ann Bought' }),
      rawEvent('identify', { anonymousId: 'ann-phone', traits: { email: 'family@example.org' } }),
      rawEvent('identify', { anonymousId: 'ben-laptop', traits: { name: 'Ben' } }),
      rawEvent('track', { anonymousId: 'ben-laptop', event: 'Ben Browsed' }),
      rawEvent('track', { anonymousId: 'ben-laptop', event: 'Ben Browsed' }),
      rawEvent('identify', { anonymousId: 'ben-laptop', traits: { email: 'family@example.org' } }),
    ], limit)
    expect(new Set([ids[0], ids[6]]).size).toBe(1)
    return ids[0]!
  }

  it('detaches an identifier: each person gets their own profile, counts, traits and lookups', async () => {
    const pid = await blob()
    expect((await profileOf(pid)).eventCount).toBe(7)
    const out = await unmerge(pid, { identifier: 'email:family@example.org' })
    expect(out.complete).toBe(true)
    expect(out.profiles).toHaveLength(3)
    const ann = out.profiles.find((p) => p.identifiers.includes('anonymous_id:ann-phone'))!
    const ben = out.profiles.find((p) => p.identifiers.includes('anonymous_id:ben-laptop'))!
    const mail = out.profiles.find((p) => p.identifiers.includes('email:family@example.org'))!
    expect(ann.profileId).toBe(pid)
    expect(ann.kept).toBe(true)
    expect([ann.eventCount, ben.eventCount, mail.eventCount]).toEqual([3, 4, 0])
    expect(ann.traits).toMatchObject({ name: 'Ann' })
    expect(ben.traits).toMatchObject({ name: 'Ben' })
    expect((await profileOf(ben.profileId)).eventCounts).toEqual({ identify: 2, 'Ben Browsed': 2 })
    expect(await owner('anonymous_id:ben-laptop')).toBe(ben.profileId)
    expect(await owner('anonymous_id:ann-phone')).toBe(pid)
    expect(await owner('email:family@example.org')).toBe(mail.profileId)
    const timelines = await temp.backend().transaction((tx) => tx.identity.timeline([pid, ben.profileId]))
    expect(timelines.filter((r) => r.profileId === ben.profileId)).toHaveLength(4)
    const log = await temp.backend().transaction((tx) => tx.identity.unmerges(ben.profileId))
    expect(log).toEqual([expect.objectContaining({ profileId: pid, kind: 'identifier', principal: 'token:test', reason: 'shared e-mail' })])

    // The split holds: Ben typing the e-mail again does not merge him with Ann or the e-mail.
    const again = await pipeline([rawEvent('identify', { anonymousId: 'ben-laptop', traits: { email: 'family@example.org' } })])
    expect(again[0]).toBe(ben.profileId)
    expect(await owner('email:family@example.org')).toBe(mail.profileId)
    expect((await profileOf(ben.profileId)).eventCount).toBe(5)
  })

  it('removes an edge when that splits the profile, and refuses one that does not', async () => {
    const ids = await pipeline([
      rawEvent('identify', { userId: 'u-1', anonymousId: 'e-a', traits: { email: 'e1@example.org' } }),
      rawEvent('identify', { anonymousId: 'e-a', traits: { email: 'e1@example.org' } }),
      rawEvent('identify', { anonymousId: 'e-b', traits: { email: 'e1@example.org' } }),
    ])
    const pid = ids[0]!
    await expect(unmerge(pid, { edge: { from: 'anonymous_id:e-b', to: 'user_id:u-1' } })).rejects.toThrow(/no edge between/)
    // u-1, e-a and the e-mail form a triangle: removing one side leaves them connected.
    await expect(unmerge(pid, { edge: { from: 'user_id:u-1', to: 'email:e1@example.org' } })).rejects.toThrow(/does not split/)
    const out = await unmerge(pid, { edge: { from: 'email:e1@example.org', to: 'anonymous_id:e-b' } })
    expect(out.profiles.map((p) => p.identifiers)).toEqual([['anonymous_id:e-a', 'email:e1@example.org', 'user_id:u-1'], ['anonymous_id:e-b']])
    // The event that carried both ends of the removed edge stays with its highest-priority identifier (the e-mail).
    expect(out.profiles.map((p) => p.eventCount)).toEqual([3, 0])
    expect(await owner('anonymous_id:e-b')).toBe(out.profiles[1]!.profileId)
  })

  it('says so when the timeline was trimmed, and keeps the unattributed events on the kept profile', async () => {
    const pid = await blob(3)
    const out = await unmerge(pid, { identifier: 'email:family@example.org' })
    expect(out.complete).toBe(false)
    expect(out.unattributedEvents).toBe(4)
    expect(out.profiles.reduce((n, p) => n + (p.eventCount ?? 0), 0)).toBe(7)
    // Only Ben's last three events were kept; the older ones (Ann's and Ben's identify) cannot be attributed, so
    // the kept profile carries their counters and the trait values they left (name: Ben, set by a trimmed event).
    const kept = out.profiles.find((p) => p.kept)!
    expect(kept.eventCount).toBe(4)
    expect(kept.traits).toMatchObject({ name: 'Ben' })
    expect(out.profiles.find((p) => p.identifiers.includes('anonymous_id:ben-laptop'))!.eventCount).toBe(3)
  })

  it('refuses an identifier the profile does not hold, and an unknown profile', async () => {
    const pid = await blob()
    await expect(unmerge(pid, { identifier: 'email:nobody@example.org' })).rejects.toThrow(/holds no identifier/)
    await expect(unmerge('p_missing', { identifier: 'email:family@example.org' })).rejects.toThrow(/not found/)
  })
})
