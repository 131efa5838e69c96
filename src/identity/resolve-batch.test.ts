import { describe, expect, it } from 'vitest'
import { DEFAULT_IDENTIFIER_TYPES } from '../config/identity-types.js'
import { rawEvent, useTempStateBackend } from '../../test/support/factories.js'
import { compileIdentityRules } from './identity-rules.js'
import { resolveBatch, type BatchResolution } from './resolve-batch.js'
import type { RawEvent } from '../core/event.js'

const rules = compileIdentityRules(DEFAULT_IDENTIFIER_TYPES, 'US')

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
    const owners = await temp.backend().transaction((tx) => tx.identity.lookup(['anonymous_id:phone', 'user_id:u1', 'anonymous_id:laptop']))
    expect(new Set(owners.values())).toEqual(new Set([laptop]))
  })

  it('never merges two profiles with different user_ids (merge protection) and drops the linking identifier', async () => {
    await run([rawEvent('identify', { anonymousId: 'family-pc', userId: 'alice' })])
    const r = await run([rawEvent('identify', { anonymousId: 'family-pc', userId: 'bob' })])
    const bob = r.resolutions[0]!
    const owners = await temp.backend().transaction((tx) => tx.identity.lookup(['user_id:alice', 'user_id:bob', 'anonymous_id:family-pc']))
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
