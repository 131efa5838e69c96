import { describe, expect, it } from 'vitest'
import { DEFAULT_IDENTIFIER_TYPES } from '../config/identity-types.js'
import { rawEvent } from '../../test/support/factories.js'
import { useTempStateBackend } from '../../test/support/temp-state-backend.js'
import { compileIdentityRules } from './identity-rules.js'
import { resolveBatch, type BatchResolution } from './resolve-batch.js'
import type { RawEvent } from '../core/event.js'
import { RealtimeMatching } from '../matching/realtime.js'
import { trainedPersonModel } from '../matching/testing/realtime-model.js'

const rules = compileIdentityRules(DEFAULT_IDENTIFIER_TYPES, 'US')
const matching = new RealtimeMatching(trainedPersonModel(), { autoMerge: 0.99, review: 0.5, maxBlockSize: 100 })

/** A CRM record: its e-mail is its only identifier (e-mail is not unique: a person may have several). */
function crm(email: string, traits: Record<string, string>): RawEvent {
  return rawEvent('identify', { sourceId: 'crm', traits: { ...traits, email: `${email}@example.org` } })
}

describe('resolveBatch with real-time probabilistic matching (SQLite)', () => {
  const temp = useTempStateBackend()

  async function run(events: RawEvent[]): Promise<BatchResolution> {
    return temp.backend().transaction(async (tx) => {
      const result = await resolveBatch(events, rules, tx.identity, null, matching)
      await tx.identity.apply(result.changes)
      return result
    })
  }

  const ann = { given: 'annabel', surname: 'sondergeld', dob: '1984-03-12', city: 'leeds' }

  it('merges a typo of a stored person, with a scored edge, across batches (the index is persisted)', async () => {
    const first = await run([crm('crm-1', ann)])
    const second = await run([crm('crm-2', { ...ann, surname: 'sondergelt' })])
    expect(second.resolutions[0]!.profileId).toBe(first.resolutions[0]!.profileId)
    expect(second.resolutions[0]!.created).toBe(false)
    const edge = second.changes.edges.find((e) => e.rule === 'probabilistic')!
    expect(edge.confidence).toBeGreaterThanOrEqual(0.99)
    expect(edge.confidence).toBeLessThan(1)
    expect([edge.from, edge.to].sort()).toEqual(['email:crm-1@example.org', 'email:crm-2@example.org'])
  })

  it('merges within one batch too', async () => {
    const r = await run([crm('crm-1', ann), crm('crm-2', { ...ann, given: 'anabel' })])
    expect(r.resolutions[1]!.profileId).toBe(r.resolutions[0]!.profileId)
  })

  it('keeps the same name with another date of birth apart', async () => {
    const r = await run([crm('crm-1', ann), crm('crm-2', { ...ann, dob: '1991-11-02' })])
    expect(r.resolutions[1]!.profileId).not.toBe(r.resolutions[0]!.profileId)
    expect(r.changes.edges.filter((e) => e.rule === 'probabilistic')).toEqual([])
  })

  it('never overrides a unique identifier: a second user_id on the matched profile is merge protection', async () => {
    // The same person's traits, but both records carry a different user_id: two accounts are two people.
    const first = await run([rawEvent('identify', { userId: 'u-1', traits: ann })])
    const conflicting = await run([rawEvent('identify', { userId: 'u-2', traits: ann })])
    expect(conflicting.resolutions[0]!.profileId).not.toBe(first.resolutions[0]!.profileId)
  })

  it('queues a middle-band pair for review and creates a new profile', async () => {
    const first = await run([rawEvent('identify', { anonymousId: 'a-1', traits: ann })])
    const second = await run([rawEvent('identify', { anonymousId: 'a-2', traits: { given: 'annabel', surname: 'sondergeld', city: 'york' } })])
    expect(second.resolutions[0]!.profileId).not.toBe(first.resolutions[0]!.profileId)
    expect(second.changes.reviews).toHaveLength(1)
    const [item] = await temp.backend().transaction((tx) => tx.identity.reviewList({ limit: 10 }))
    expect(item).toMatchObject({ profileA: first.resolutions[0]!.profileId, profileB: second.resolutions[0]!.profileId, status: 'open' })
    expect(item!.probability).toBeGreaterThanOrEqual(0.5)
    expect(item!.probability).toBeLessThan(0.99)
  })

  it('with preferBlockSize, reads a crowded key only when the narrow keys hold no profile, and still finds the person', async () => {
    const narrow = new RealtimeMatching(trainedPersonModel(), { autoMerge: 0.99, review: 0.5, maxBlockSize: 100, preferBlockSize: 2 })
    let read: string[] = []
    const runWith = (events: RawEvent[]): Promise<BatchResolution> => temp.backend().transaction(async (tx) => {
      // Which keys the candidates are read through (the store itself is the real one).
      const identity = Object.create(tx.identity) as typeof tx.identity
      identity.matchCandidates = (keys, cap) => {
        read = [...keys]
        return tx.identity.matchCandidates(keys, cap)
      }
      for (const m of ['lookup', 'identifiersOf', 'existingEdges', 'guards', 'contacts', 'matchRecords', 'matchBlockSizes'] as const) {
        (identity as unknown as Record<string, unknown>)[m] = (tx.identity[m] as (...a: unknown[]) => unknown).bind(tx.identity)
      }
      const result = await resolveBatch(events, rules, identity, null, narrow)
      await tx.identity.apply(result.changes)
      return result
    })
    // Five other people born the same day: the date of birth alone is a block of six, over preferBlockSize.
    const others = ['oscar', 'freya', 'arthur', 'ivy', 'leo'].map((given, i) => crm(`o-${i}`, { given, surname: `quill${given}`, dob: ann.dob, city: 'york' }))
    const first = await runWith([crm('crm-1', ann), ...others])
    const dobKey = narrow.keysOf(narrow.prepare(crm('x', { dob: ann.dob }))!)[0]!
    expect(await temp.backend().transaction((tx) => tx.identity.matchBlockSizes([dobKey], 100))).toEqual(new Map([[dobKey, 6]]))
    // A typo of Ann: her narrow keys (given + date of birth, date of birth + city...) hold her; the crowded one is not read.
    const typo = await runWith([crm('crm-2', { ...ann, surname: 'sondergelt' })])
    expect(typo.resolutions[0]!.profileId).toBe(first.resolutions[0]!.profileId)
    expect(read.length).toBeGreaterThan(0)
    expect(read).not.toContain(dobKey)
    // A given name whose phonetic code nobody shares: only the crowded key holds anyone, so it is read.
    await runWith([crm('crm-3', { given: 'hannabel', dob: ann.dob })])
    expect(read).toContain(dobKey)
  })
})
