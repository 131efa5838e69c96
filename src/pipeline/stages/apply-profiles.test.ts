import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { MemoryEventLog } from '../../log/memory/memory-event-log.js'
import { TOPICS, type AppendRecord } from '../../log/event-log.js'
import { routeKey, type MergeNotice, type UnmergeNotice } from '../../profiles/profile-messages.js'
import { SqliteStateBackend } from '../../storage/sqlite/sqlite-backend.js'
import { seededRandom } from '../../core/seeded-random.js'
import { rawEvent, tempDir } from '../../../test/support/factories.js'
import { DEFAULT_IDENTIFIER_TYPES } from '../../config/identity-types.js'
import { compileIdentityRules } from '../../identity/identity-rules.js'
import { createApplyProfilesStage, profileMessageCodec, type ProfileItem } from './apply-profiles.js'

const PARTITIONS = 3
const rules = compileIdentityRules(DEFAULT_IDENTIFIER_TYPES, 'US')

/**
 * What identity resolution publishes for a random history: events keyed by the profile they resolved to at the
 * time, and a merge notice keyed by each loser. Returns the records and the expected event count per survivor.
 */
function history(random: () => number, events: number): { records: AppendRecord[]; expected: Map<string, number>; root: (id: string) => string } {
  const parent = new Map<string, string>()
  const root = (id: string): string => {
    let r = id
    while (parent.has(r)) r = parent.get(r)!
    return r
  }
  const live: string[] = []
  const count = new Map<string, number>()
  const records: AppendRecord[] = []
  for (let n = 0; n < events; n++) {
    let id: string
    const merged: string[] = []
    if (live.length === 0 || random() < 0.25) {
      id = `p${n}`
      live.push(id)
    } else {
      id = live[Math.floor(random() * live.length)]!
      if (live.length > 1 && random() < 0.3) {
        const others = live.filter((l) => l !== id)
        const loser = others[Math.floor(random() * others.length)]!
        parent.set(loser, id)
        live.splice(live.indexOf(loser), 1)
        merged.push(loser)
        count.set(id, (count.get(id) ?? 0) + (count.get(loser) ?? 0))
        count.delete(loser)
      }
    }
    count.set(id, (count.get(id) ?? 0) + 1)
    const event = { ...rawEvent('track', { userId: id, event: `e${n % 4}`, messageId: `m${n}` }), profileId: id, enrichment: {} }
    records.push({ key: id, value: JSON.stringify(event) })
    for (const loser of merged) {
      const notice: MergeNotice = { control: 'merge', from: loser, into: id, messageId: `m${n}`, time: Date.parse(event.timestamp) }
      records.push({ key: loser, value: JSON.stringify(notice) })
    }
  }
  return { records, expected: count, root }
}

describe('apply-profiles (partitioned profile updates)', () => {
  let log: MemoryEventLog
  let state: SqliteStateBackend
  let cleanup: () => void

  beforeEach(async () => {
    const t = tempDir()
    cleanup = t.cleanup
    log = new MemoryEventLog()
    await log.ensureTopic(TOPICS.resolved, PARTITIONS)
    state = new SqliteStateBackend({ path: join(t.dir, 'state.db'), sync: 'normal' })
    await state.migrate()
  })
  afterEach(async () => {
    await state.close()
    cleanup()
  })

  /**
   * Owners of the partitions take turns in a random order with random batch sizes; some batches fail after their
   * forwards and folds went out (rolled back, then done again), and some records were published twice.
   */
  async function runOwners(random: () => number, timelineLimit = 0): Promise<void> {
    const stage = createApplyProfilesStage({ output: log, timelineLimit, rules })
    const position = Array.from({ length: PARTITIONS }, () => 0)
    for (let round = 0; round < 100_000; round++) {
      const ends = await log.endOffsets(TOPICS.resolved)
      const pending = ends.filter((e) => e.offset > position[e.partition]!)
      if (pending.length === 0) return
      const { partition } = pending[Math.floor(random() * pending.length)]!
      const records = await log.read(TOPICS.resolved, partition, position[partition]!, 1 + Math.floor(random() * 6))
      const items = records.map((r) => profileMessageCodec.parse(r) as ProfileItem)
      const attempt = async (fail: boolean): Promise<void> => {
        await state.transaction(async (tx) => {
          await stage.run({ items: items.map((i) => profileMessageCodec.fresh(i)), tx, now: Date.now(), counts: {} })
          if (fail) throw new Error('crash before commit')
        })
      }
      if (random() < 0.15) await expect(attempt(true)).rejects.toThrow('crash before commit')
      await attempt(false)
      position[partition] = records[records.length - 1]!.offset + 1
    }
    throw new Error('owners did not drain the topic')
  }

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`converges to one profile per person with exact counts and timelines, whatever the interleaving (seed ${seed})`, async () => {
      const random = seededRandom(seed)
      const { records, expected, root } = history(random, 120)
      // Several identity workers publish concurrently, so a profile's records may arrive out of causal order (an
      // event for a profile after the notice that merged it away); some were published twice (a batch redone
      // after a crash before its commit).
      const published = records.map((r, n) => ({ r, at: n + random() * 8 })).sort((a, b) => a.at - b.at).map((x) => x.r)
      const withCopies = published.flatMap((r) => (random() < 0.1 ? [r, r] : [r]))
      for (const r of withCopies) await log.append(TOPICS.resolved, [r])
      await runOwners(random)

      const reader = state.reader()
      try {
        let total = 0
        for (const [id, count] of expected) {
          const profile = await reader.profile(id)
          expect(profile?.mergedInto, `profile ${id}`).toBeNull()
          expect(profile?.eventCount, `eventCount of ${id}`).toBe(count)
          const page = await reader.events(id, { limit: 1000 })
          expect(page.events, `timeline of ${id}`).toHaveLength(count)
          expect(new Set(page.events.map((e) => e.messageId)).size).toBe(count)
          total += count
        }
        expect(total).toBe(120)
        // Every loser points (possibly through other losers) to its survivor.
        for (let n = 0; n < 120; n++) {
          const id = `p${n}`
          const profile = await reader.profile(id)
          if (profile === null || expected.has(id)) continue
          expect(await reader.canonicalId(id), `canonical id of ${id}`).toBe(root(id))
        }
        expect((await reader.stats()).events).toBe(120)
      } finally {
        await reader.close()
      }
    })
  }

  /**
   * One component of three profiles merged into one (p2 into p1, p1 into p0) and then unmerged into three parts by
   * anonymous id: events of the old component on every member's partition, the merge notices, the unmerge notices
   * (each after every record resolved to its profile before the unmerge, as the outbox guarantees), and events
   * resolved to the parts afterwards. Owners run in random order (so forwards and folds of the old component are still
   * in flight when the notices arrive), some batches crash after their appends, and some records arrive twice.
   */
  function unmergeHistory(random: () => number, events: number): { records: AppendRecord[]; expected: Map<string, number> } {
    const partOf = new Map([['a0', 'p0'], ['a1', 'p0'], ['a2', 'n1'], ['a3', 'n2']])
    const expected = new Map([['p0', 0], ['n1', 0], ['n2', 0]])
    /** An event carrying a random anonymous id, keyed by `profileId` (by its part when null: resolved after the unmerge). */
    const ev = (key: string | null, n: number): AppendRecord => {
      const anon = `a${Math.floor(random() * 4)}`
      const profileId = key ?? partOf.get(anon)!
      expected.set(partOf.get(anon)!, expected.get(partOf.get(anon)!)! + 1)
      const traits = { last: `m${n}` }
      const event = { ...rawEvent(n % 3 === 0 ? 'identify' : 'track', { anonymousId: anon, event: 'Clicked', messageId: `m${n}`, traits }), profileId, enrichment: {} }
      return { key: profileId, value: JSON.stringify(event) }
    }
    const merge = (from: string, into: string, n: number): AppendRecord => {
      const notice: MergeNotice = { control: 'merge', from, into, messageId: `merge-${from}`, time: n }
      return { key: from, value: JSON.stringify(notice) }
    }
    // Before the unmerge: events of p2, then p2 merges into p1, events of p1, p1 merges into p0, events of p0. Each
    // profile's records are on its own partition; several identity workers publish concurrently, so an event may
    // come after the notice that merged its profile away (it is forwarded), but never after the unmerge notice.
    const before: AppendRecord[][] = [[], [], []]
    let n = 0
    const third = Math.floor(events / 3)
    const at = (i: number): void => void before[i]!.push(ev(`p${i}`, n))
    for (; n < third; n++) at(Math.floor(random() * 3))
    before[2]!.push(merge('p2', 'p1', n))
    for (; n < 2 * third; n++) at(Math.floor(random() * 2))
    before[1]!.push(merge('p1', 'p0', n))
    for (; n < 2 * third + Math.floor(third / 2); n++) at(0)
    const parts = [
      { profileId: 'p0', keys: ['anonymous_id:a0', 'anonymous_id:a1'].map(routeKey), createdAt: 0 },
      { profileId: 'n1', keys: ['anonymous_id:a2'].map(routeKey), createdAt: 0 },
      { profileId: 'n2', keys: ['anonymous_id:a3'].map(routeKey), createdAt: 0 },
    ]
    const notice = (profile: string): AppendRecord => {
      const u: UnmergeNotice = { control: 'unmerge', profile, unmerge: 7, kept: 'p0', members: ['p0', 'p1', 'p2'], parts, detached: null, time: n }
      return { key: profile, value: JSON.stringify(u) }
    }
    const shuffled = (q: AppendRecord[]): AppendRecord[] => q.map((r, i) => ({ r, at: i + random() * 6 })).sort((a, b) => a.at - b.at).map((x) => x.r)
    const records: AppendRecord[] = []
    const queues = [...before.map((q, i) => [...shuffled(q), notice(`p${i}`)]), [notice('n1')], [notice('n2')]]
    while (queues.some((q) => q.length > 0)) {
      const q = queues.filter((x) => x.length > 0)
      records.push(q[Math.floor(random() * q.length)]!.shift()!)
    }
    // After the unmerge: events resolved to the parts by their identifiers.
    for (; n < events; n++) records.push(ev(null, n))
    return { records, expected }
  }

  for (const seed of [11, 12, 13, 14, 15, 16]) {
    it(`splits an unmerged component between its parts with exact counts, records still in flight (seed ${seed})`, async () => {
      const random = seededRandom(seed)
      const { records, expected } = unmergeHistory(random, 90)
      for (const r of records.flatMap((x) => (random() < 0.1 ? [x, x] : [x]))) await log.append(TOPICS.resolved, [r])
      await runOwners(random)
      const reader = state.reader()
      try {
        for (const [id, count] of expected) {
          const profile = await reader.profile(id)
          expect(profile?.mergedInto ?? null, `profile ${id}`).toBeNull()
          const page = await reader.events(id, { limit: 1000 })
          expect(profile?.eventCount ?? 0, `eventCount of ${id}`).toBe(count)
          expect(page.events.map((e) => e.messageId).sort(), `timeline of ${id}`).toHaveLength(count)
          for (const e of page.events) expect((e.event as { profileId: string }).profileId).toBe(id)
        }
        expect((await reader.stats()).events).toBe(90)
        expect(await reader.canonicalId('p2')).toBe('p0')
      } finally {
        await reader.close()
      }
    })
  }

  for (const seed of [21, 22, 23, 24]) {
    it(`keeps the trimmed events of every member on the kept part, and every other count exact (seed ${seed})`, async () => {
      const random = seededRandom(seed)
      const { records, expected } = unmergeHistory(random, 90)
      for (const r of records.flatMap((x) => (random() < 0.1 ? [x, x] : [x]))) await log.append(TOPICS.resolved, [r])
      await runOwners(random, 4)
      const reader = state.reader()
      try {
        const counts = new Map<string, number>()
        for (const id of expected.keys()) counts.set(id, (await reader.profile(id))?.eventCount ?? 0)
        // Nothing is lost or counted twice; the parts that do not keep the id get only events a timeline still had.
        expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(90)
        expect(counts.get('n1')).toBeLessThanOrEqual(expected.get('n1')!)
        expect(counts.get('n2')).toBeLessThanOrEqual(expected.get('n2')!)
        expect(counts.get('p0')).toBeGreaterThanOrEqual(expected.get('p0')!)
        const p0 = (await reader.profile('p0'))!
        expect(Object.values(p0.eventCounts).reduce((a, b) => a + b, 0)).toBe(p0.eventCount)
        expect(Object.values(p0.sourceCounts).reduce((a, b) => a + b, 0)).toBe(p0.eventCount)
      } finally {
        await reader.close()
      }
    })
  }

  it('sends a poison record to the dead letter through the codec, with the reason', () => {
    const parsed = profileMessageCodec.parse({ topic: TOPICS.resolved, partition: 0, offset: 0, key: 'k', value: '{"control":"fold","from":"a"}', timestamp: 0 })
    expect(parsed).toEqual({ poison: expect.stringContaining('fold record without from/into') })
  })
})
