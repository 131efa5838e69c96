import { describe, expect, it } from 'vitest'
import { DEFAULT_IDENTIFIER_TYPES } from '../config/identity-types.js'
import { rawEvent } from '../../test/support/factories.js'
import { useTempStateBackend } from '../../test/support/temp-state-backend.js'
import { compileIdentityRules } from './identity-rules.js'
import { resolveBatch, type BatchResolution } from './resolve-batch.js'
import type { RawEvent } from '../core/event.js'

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
})
