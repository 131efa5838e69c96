import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { MemoryEventLog } from '../../log/memory/memory-event-log.js'
import { TOPICS, type AppendRecord } from '../../log/event-log.js'
import type { MergeNotice } from '../../profiles/profile-messages.js'
import { SqliteStateBackend } from '../../storage/sqlite/sqlite-backend.js'
import { seededRandom } from '../../core/seeded-random.js'
import { rawEvent, tempDir } from '../../../test/support/factories.js'
import { createApplyProfilesStage, profileMessageCodec, type ProfileItem } from './apply-profiles.js'

const PARTITIONS = 3

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
  async function runOwners(random: () => number): Promise<void> {
    const stage = createApplyProfilesStage({ output: log, timelineLimit: 0 })
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

  it('sends a poison record to the dead letter through the codec, with the reason', () => {
    const parsed = profileMessageCodec.parse({ topic: TOPICS.resolved, partition: 0, offset: 0, key: 'k', value: '{"control":"fold","from":"a"}', timestamp: 0 })
    expect(parsed).toEqual({ poison: expect.stringContaining('fold record without from/into') })
  })
})
