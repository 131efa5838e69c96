/** The official Segment Node client, unchanged but for its host, sends to Tessera over real HTTP. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Analytics } from '@segment/analytics-node'
import { randomUUID } from 'node:crypto'
import { startHarness, WRITE_KEY, type Harness } from '../support/tessera-harness.js'

describe('@segment/analytics-node against a running Tessera', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h?.close()
  })

  it('produces the expected unified profile', async () => {
    const analytics = new Analytics({ writeKey: WRITE_KEY, host: h.url, flushAt: 5, maxRetries: 2 })
    const errors: unknown[] = []
    analytics.on('error', (e) => errors.push(e))
    const anonymousId = `segment-anon-${randomUUID()}`
    const userId = `segment-user-${randomUUID()}`
    analytics.page({ anonymousId, name: 'Landing', properties: { url: 'https://example.com/?utm_source=ads' } })
    analytics.track({ anonymousId, event: 'Product Viewed', properties: { sku: 'A-1' } })
    analytics.identify({ anonymousId, userId, traits: { email: 'Segment.User@Example.com', firstName: 'Seg' } })
    analytics.track({ userId, event: 'Order Completed', properties: { revenue: 99.5, currency: 'EUR' } })
    analytics.group({ userId, groupId: 'g-1', traits: { name: 'Group One' } })
    analytics.screen({ userId, name: 'Settings' })
    analytics.alias({ userId, previousId: anonymousId })
    await analytics.closeAndFlush({ timeout: 10_000 })
    expect(errors).toEqual([])
    await h.drain()

    const res = await h.admin<{
      id: string; traits: Record<string, unknown>; eventCount: number; eventCounts: Record<string, number>; sourceCounts: Record<string, number>
      identities: { type: string; value: string }[]
    }>(`/v1/profiles?identifier=user_id:${userId}`)
    expect(res.status).toBe(200)
    expect(res.body.eventCount).toBe(7)
    expect(res.body.traits).toEqual({ email: 'Segment.User@Example.com', firstName: 'Seg' })
    expect(res.body.eventCounts).toEqual({ page: 1, 'Product Viewed': 1, identify: 1, 'Order Completed': 1, group: 1, screen: 1, alias: 1 })
    expect(res.body.sourceCounts).toEqual({ default: 7 })
    expect(res.body.identities.map((i) => `${i.type}:${i.value}`).sort()).toEqual(
      [`anonymous_id:${anonymousId}`, 'email:segment.user@example.com', `user_id:${userId}`].sort(),
    )
    const byEmail = await h.admin<{ id: string }>('/v1/profiles?identifier=email:SEGMENT.USER@example.com')
    expect(byEmail.body.id).toBe(res.body.id)
  })
})
