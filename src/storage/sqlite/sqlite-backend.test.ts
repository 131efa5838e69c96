import { describe, expect, it } from 'vitest'
import { useTempStateBackend } from '../../../test/support/factories.js'
import type { ProfileRecord, TimelineEvent } from '../../profiles/profile-store.js'

function profile(id: string, patch: Partial<ProfileRecord> = {}): ProfileRecord {
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

describe('SqliteStateBackend', () => {
  const temp = useTempStateBackend()

  it('rolls back everything a failed transaction wrote', async () => {
    await expect(temp.backend().transaction(async (tx) => {
      await tx.profiles.put([profile('p1')])
      await tx.offsets.save('g', [{ topic: 't', partition: 0, offset: 5 }])
      throw new Error('boom')
    })).rejects.toThrow('boom')
    const [profiles, offsets] = await temp.backend().transaction(async (tx) => [await tx.profiles.get(['p1']), await tx.offsets.load('g', 't')] as const)
    expect(profiles.size).toBe(0)
    expect(offsets).toEqual([])
  })

  it('pages a timeline newest first without losing events that share a timestamp', async () => {
    await temp.backend().transaction(async (tx) => {
      await tx.profiles.put([profile('p1')])
      await tx.profiles.appendEvents(timeline('p1', 25))
    })
    const reader = temp.backend().reader()
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
    await temp.backend().transaction(async (tx) => {
      await tx.profiles.appendEvents(timeline('p1', 10))
      await tx.profiles.appendEvents(timeline('p2', 3))
      await tx.profiles.trimEvents(['p1', 'p2'], 4)
    })
    const reader = temp.backend().reader()
    expect((await reader.events('p1', { limit: 100 })).events.map((e) => e.messageId)).toEqual(['m009', 'm008', 'm007', 'm006'])
    expect((await reader.events('p2', { limit: 100 })).events).toHaveLength(3)
    await reader.close()
  })

  it('moves a merged profile’s timeline and flattens merge chains', async () => {
    await temp.backend().transaction(async (tx) => {
      await tx.profiles.put([profile('a'), profile('b', { mergedInto: 'c' }), profile('c')])
      await tx.profiles.appendEvents(timeline('c', 2))
      await tx.profiles.moveEvents([{ from: 'c', to: 'a' }])
      await tx.profiles.put([profile('c', { mergedInto: 'a' })])
    })
    const reader = temp.backend().reader()
    expect(await reader.canonicalId('b')).toBe('a')
    expect((await reader.profile('b'))?.mergedInto).toBe('a')
    expect((await reader.events('a', { limit: 10 })).events).toHaveLength(2)
    expect(await reader.canonicalId('nope')).toBeNull()
    await reader.close()
  })

  it('answers edges, merges and rejections of a profile', async () => {
    await temp.backend().transaction(async (tx) => {
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
    const reader = temp.backend().reader()
    expect(await reader.edges('p')).toEqual([expect.objectContaining({ from: 'user_id:u', to: 'anonymous_id:a', rule: 'identify' })])
    expect(await reader.merges('p')).toEqual([expect.objectContaining({ loser: 'q' })])
    expect(await reader.merges('q')).toHaveLength(1)
    expect(await reader.rejections('p')).toEqual([expect.objectContaining({ reason: 'blocked_value' })])
    expect(await reader.profileIdByIdentifier('anonymous_id', 'a')).toBe('p')
    await reader.close()
  })

  it('forgets dedupe keys older than the window, and reset clears all derived state', async () => {
    await temp.backend().transaction(async (tx) => {
      await tx.dedupe.remember(['old'], 100)
      await tx.dedupe.remember(['new'], 10_000)
      expect(await tx.dedupe.purge(5_000)).toBe(1)
      expect(await tx.dedupe.seen(['old', 'new'])).toEqual(new Set(['new']))
      await tx.profiles.put([profile('p')])
    })
    await temp.backend().reset()
    const reader = temp.backend().reader()
    expect(await reader.stats()).toEqual({ profiles: 0, identifiers: 0, events: 0, merges: 0 })
    await reader.close()
  })
})
