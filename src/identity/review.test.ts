import { describe, expect, it } from 'vitest'
import { DEFAULT_IDENTIFIER_TYPES } from '../config/identity-types.js'
import { rawEvent } from '../../test/support/factories.js'
import { useTempStateBackend } from '../../test/support/temp-state-backend.js'
import { profile, resolveAndApply } from '../storage/state-backend.contract.js'
import { compileIdentityRules } from './identity-rules.js'
import { decideReviewItem } from './review.js'

const rules = compileIdentityRules(DEFAULT_IDENTIFIER_TYPES, 'US')

describe('decideReviewItem (SQLite)', () => {
  const temp = useTempStateBackend()

  async function queue(events: Parameters<typeof rawEvent>[1][]): Promise<{ a: string; b: string; seq: number }> {
    const [ra, rb] = [await resolveAndApply(temp.backend(), [rawEvent('identify', events[0])]), await resolveAndApply(temp.backend(), [rawEvent('identify', events[1])])]
    const [a, b] = [ra.resolutions[0]!.profileId, rb.resolutions[0]!.profileId]
    await temp.backend().transaction(async (tx) => {
      await tx.profiles.put([profile(a, { createdAt: 1, eventCount: 2, traits: { given: 'ann' } }), profile(b, { createdAt: 2, eventCount: 1, traits: { city: 'york' } })])
      await tx.identity.apply({ nodes: [], repoints: [], edges: [], merges: [], rejections: [], reviews: [{ profileA: a, profileB: b, probability: 0.9, weight: 3, messageId: 'm', eventTime: 5 }] })
    })
    const [item] = await temp.backend().transaction((tx) => tx.identity.reviewList({ limit: 10, status: 'open' }))
    return { a, b, seq: item!.seq }
  }

  it('accept merges the younger profile into the older one, with a scored edge and a merge by the principal', async () => {
    const { a, b, seq } = await queue([{ anonymousId: 'x1' }, { anonymousId: 'x2' }])
    const out = await temp.backend().transaction((tx) => decideReviewItem(tx, rules, { seq, decision: 'accept', principal: 'token:ops', now: 10 }))
    expect(out).toMatchObject({ status: 'accepted', profileId: a, merged: b })
    const owners = await temp.backend().transaction((tx) => tx.identity.lookup(['anonymous_id:x1', 'anonymous_id:x2']))
    expect(new Set(owners.values())).toEqual(new Set([a]))
    const rows = await temp.backend().transaction((tx) => tx.profiles.get([a, b]))
    expect(rows.get(a)).toMatchObject({ eventCount: 3, traits: { given: 'ann', city: 'york' } })
    expect(rows.get(b)!.mergedInto).toBe(a)
    const edges = await temp.backend().transaction((tx) => tx.identity.edgesAmong(['anonymous_id:x1', 'anonymous_id:x2']))
    expect(edges).toEqual([expect.objectContaining({ rule: 'probabilistic', confidence: 0.9, sourceId: 'token:ops', messageId: `review:${seq}` })])
  })

  it('refuses to merge two different user_ids, and leaves the item open', async () => {
    const { seq } = await queue([{ userId: 'u1' }, { userId: 'u2' }])
    await expect(temp.backend().transaction((tx) => decideReviewItem(tx, rules, { seq, decision: 'accept', principal: 'token:ops', now: 10 })))
      .rejects.toMatchObject({ code: 'TESSERA_CONFLICT', message: expect.stringMatching(/user_id/) })
    expect(await temp.backend().transaction((tx) => tx.identity.reviewList({ limit: 10, status: 'open' }))).toHaveLength(1)
  })

  it('reject records a do-not-link pair; a decided item cannot be decided again', async () => {
    const { a, b, seq } = await queue([{ anonymousId: 'y1' }, { anonymousId: 'y2' }])
    expect(await temp.backend().transaction((tx) => decideReviewItem(tx, rules, { seq, decision: 'reject', principal: 'token:ops', now: 10 }))).toMatchObject({ status: 'rejected', profileId: null })
    expect(await temp.backend().transaction((tx) => tx.identity.doNotLink([a]))).toEqual(new Set([a < b ? `${a}|${b}` : `${b}|${a}`]))
    await expect(temp.backend().transaction((tx) => decideReviewItem(tx, rules, { seq, decision: 'accept', principal: 'token:ops', now: 11 })))
      .rejects.toMatchObject({ code: 'TESSERA_NOT_FOUND' })
  })
})
