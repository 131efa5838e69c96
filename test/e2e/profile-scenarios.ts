/**
 * @module The profile scenarios of the end-to-end suite: events in through the tracking API, unified profiles
 * out of the admin API, against a real Tessera (pipeline in its worker thread). Each store mode runs them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import type { Harness } from '../support/tessera-harness.js'

interface Profile {
  id: string; status: string; mergedInto?: string; traits: Record<string, unknown>; eventCount: number
  identities: { type: string; value: string }[]; sourceCounts: Record<string, number>; eventCounts: Record<string, number>
  firstSeen: string; lastSeen: string
}

/**
 * The profile scenarios, run against a Tessera that `start` launches (once for the whole suite).
 * @example runProfileScenarios('embedded mode', () => startHarness())
 */
export function runProfileScenarios(name: string, start: () => Promise<Harness>): void {
  describe(`profiles end to end (${name})`, () => {
    let h: Harness
    beforeAll(async () => {
      h = await start()
    })
    afterAll(async () => {
      await h?.close()
    })

    const byIdentifier = (id: string) => h.admin<Profile>(`/v1/profiles?identifier=${encodeURIComponent(id)}`)

    it('accepts every call type and builds a profile with traits, counters and a timeline', async () => {
      const anon = `anon-${randomUUID()}`
      const user = `user-${randomUUID()}`
      const calls: [string, Record<string, unknown>][] = [
        ['/v1/page', { anonymousId: anon, name: 'Home', properties: { url: 'https://shop.example/?utm_source=news&utm_campaign=fall' } }],
        ['/v1/screen', { anonymousId: anon, name: 'Cart' }],
        ['/v1/identify', { anonymousId: anon, userId: user, traits: { email: 'Kim@Example.org', name: 'Kim' } }],
        ['/v1/track', { userId: user, event: 'Order Completed', properties: { revenue: 42 } }],
        ['/v1/group', { userId: user, groupId: 'acme', traits: { name: 'Acme' } }],
        ['/v1/alias', { userId: user, previousId: anon }],
      ]
      for (const [path, body] of calls) {
        const res = await h.send(path, body)
        expect(res.status, path).toBe(200)
        expect(await res.json()).toEqual({ success: true })
      }
      await h.drain()
      const { status, body } = await byIdentifier(`email:kim@example.org`)
      expect(status).toBe(200)
      expect(body.traits).toMatchObject({ email: 'Kim@Example.org', name: 'Kim' })
      expect(body.eventCount).toBe(6)
      expect(body.eventCounts).toMatchObject({ page: 1, screen: 1, identify: 1, 'Order Completed': 1, group: 1, alias: 1 })
      expect(body.identities.map((i) => `${i.type}:${i.value}`).sort()).toEqual([`anonymous_id:${anon}`, 'email:kim@example.org', `user_id:${user}`].sort())
      const events = await h.admin<{ events: { type: string; event: { enrichment: { campaign?: Record<string, string>; sessionId?: string } } }[] }>(`/v1/profiles/${body.id}/events`)
      expect(events.body.events).toHaveLength(6)
      const page = events.body.events.find((e) => e.type === 'page')!
      expect(page.event.enrichment.campaign).toEqual({ source: 'news', name: 'fall' })
      expect(page.event.enrichment.sessionId).toBeTruthy()
    })

    it('merges anonymous activity on two devices into one profile once both identify, and the old id points to the survivor', async () => {
      const laptop = `laptop-${randomUUID()}`
      const phone = `phone-${randomUUID()}`
      const user = `u-${randomUUID()}`
      await h.send('/v1/batch', { batch: [
        { type: 'page', anonymousId: laptop, name: 'Pricing', context: { userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36' } },
        { type: 'screen', anonymousId: phone, name: 'Home', context: { device: { id: `dev-${phone}` } } },
      ] })
      await h.drain()
      const phoneBefore = (await byIdentifier(`anonymous_id:${phone}`)).body.id
      const laptopBefore = (await byIdentifier(`anonymous_id:${laptop}`)).body.id
      expect(phoneBefore).not.toBe(laptopBefore)

      await h.send('/v1/identify', { anonymousId: laptop, userId: user, traits: { plan: 'pro' }, timestamp: new Date(Date.now() - 1000).toISOString() })
      await h.send('/v1/identify', { anonymousId: phone, userId: user, traits: { plan: 'team' }, timestamp: new Date().toISOString() })
      await h.drain()
      // Both identifies were on different partitions (keyed by anonymousId), so either profile may be the
      // older one by a millisecond: the survivor is whichever holds all identifiers, the other points to it.
      const merged = await byIdentifier(`anonymous_id:${phone}`)
      const survivor = merged.body.id
      expect([laptopBefore, phoneBefore]).toContain(survivor)
      const loser = survivor === laptopBefore ? phoneBefore : laptopBefore
      expect((await byIdentifier(`anonymous_id:${laptop}`)).body.id).toBe(survivor)
      expect((await byIdentifier(`user_id:${user}`)).body.id).toBe(survivor)
      expect((await byIdentifier(`device_id:dev-${phone}`)).body.id).toBe(survivor)
      expect(merged.body.eventCount).toBe(4)
      expect(merged.body.traits.plan).toBe('team') // the newer write wins, whatever order they were processed in
      const old = await h.admin<Profile>(`/v1/profiles/${loser}`)
      expect(old.status).toBe(200)
      expect(old.body).toMatchObject({ id: loser, status: 'merged', mergedInto: survivor })
      const followed = await h.admin<Profile>(`/v1/profiles/${loser}?follow=true`)
      expect(followed.body.id).toBe(survivor)
      const timeline = await h.admin<{ events: unknown[] }>(`/v1/profiles/${loser}/events`)
      expect(timeline.body.events).toHaveLength(4)
      const identities = await h.admin<{ edges: { rule: string }[]; merges: { loser: string }[] }>(`/v1/profiles/${survivor}/identities`)
      expect(identities.body.merges).toEqual([expect.objectContaining({ loser })])
      expect(identities.body.edges.length).toBeGreaterThanOrEqual(3)
    })

    it('keeps two users who share a computer apart (merge protection on user_id)', async () => {
      const pc = `family-pc-${randomUUID()}`
      const alice = `alice-${randomUUID()}`
      const bob = `bob-${randomUUID()}`
      await h.send('/v1/identify', { anonymousId: pc, userId: alice, traits: { name: 'Alice' } })
      await h.drain()
      await h.send('/v1/identify', { anonymousId: pc, userId: bob, traits: { name: 'Bob' } })
      await h.drain()
      const a = await byIdentifier(`user_id:${alice}`)
      const b = await byIdentifier(`user_id:${bob}`)
      expect(a.body.id).not.toBe(b.body.id)
      expect(a.body.traits.name).toBe('Alice')
      expect(b.body.traits.name).toBe('Bob')
      const rejected = await h.admin<{ rejected: { key: string; reason: string }[] }>(`/v1/profiles/${b.body.id}/identities`)
      expect(rejected.body.rejected).toEqual([expect.objectContaining({ key: `anonymous_id:${pc}`, reason: 'merge_protection' })])
    })

    it('never links on placeholder values', async () => {
      const a = `a-${randomUUID()}`
      const b = `b-${randomUUID()}`
      await h.send('/v1/batch', { batch: [
        { type: 'identify', anonymousId: a, userId: 'null', traits: { email: 'test@test.com' } },
        { type: 'identify', anonymousId: b, userId: 'null', traits: { email: 'test@test.com' } },
      ] })
      await h.drain()
      const pa = await byIdentifier(`anonymous_id:${a}`)
      const pb = await byIdentifier(`anonymous_id:${b}`)
      expect(pa.body.id).not.toBe(pb.body.id)
      expect((await byIdentifier('email:test@test.com')).status).toBe(404)
      expect((await byIdentifier('user_id:null')).status).toBe(404)
    })

    it('counts a retried messageId once', async () => {
      const anon = `dup-${randomUUID()}`
      const event = { type: 'track', anonymousId: anon, event: 'Clicked', messageId: `m-${randomUUID()}` }
      for (let i = 0; i < 3; i++) expect((await h.send('/v1/batch', { batch: [event] })).status).toBe(200)
      await h.send('/v1/track', { ...event, type: undefined })
      await h.drain()
      const p = await byIdentifier(`anonymous_id:${anon}`)
      expect(p.body.eventCount).toBe(1)
    })

    it('corrects a client clock that runs two hours fast', async () => {
      const anon = `skew-${randomUUID()}`
      const fast = Date.now() + 2 * 3_600_000
      const before = Date.now()
      await h.send('/v1/track', { anonymousId: anon, event: 'Skewed', timestamp: new Date(fast - 5000).toISOString(), sentAt: new Date(fast).toISOString() })
      await h.drain()
      const p = await byIdentifier(`anonymous_id:${anon}`)
      const seen = Date.parse(p.body.lastSeen)
      expect(seen).toBeGreaterThanOrEqual(before - 5000 - 1000)
      expect(seen).toBeLessThanOrEqual(Date.now())
      const events = await h.admin<{ events: { event: { originalTimestamp: string } }[] }>(`/v1/profiles/${p.body.id}/events`)
      expect(Date.parse(events.body.events[0]!.event.originalTimestamp)).toBe(fast - 5000)
    })

    it('rejects bad requests with a clear error and does not create profiles from them', async () => {
      const anon = `bad-${randomUUID()}`
      const res = await h.send('/v1/batch', { batch: [{ type: 'track', anonymousId: anon, event: 'ok' }, { type: 'track', anonymousId: anon }] })
      expect(res.status).toBe(400)
      const body = (await res.json()) as { field: string; problems: { field: string }[] }
      expect(body.problems.map((p) => p.field)).toContain('.batch[1].event')
      expect((await h.send('/v1/track', '{"event": ')).status).toBe(400)
      expect((await fetch(h.url + '/v1/track', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status).toBe(401)
      await h.drain()
      expect((await byIdentifier(`anonymous_id:${anon}`)).status).toBe(404)
    })

    it('protects the admin API with the admin token', async () => {
      expect((await fetch(h.url + '/v1/profiles/x')).status).toBe(401)
      expect((await fetch(h.url + '/v1/profiles/x', { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401)
      expect((await h.admin('/v1/profiles/does-not-exist')).status).toBe(404)
    })

    it('serves health, readiness, metrics and the OpenAPI document', async () => {
      expect((await fetch(h.url + '/healthz')).status).toBe(200)
      expect((await fetch(h.url + '/readyz')).status).toBe(200)
      const metrics = await (await fetch(h.url + '/metrics')).text()
      expect(metrics).toContain('tessera_events_accepted_total')
      expect(metrics).toContain('tessera_pipeline_events_total')
      expect(metrics).toContain('tessera_pipeline_lag_events')
      const doc = (await (await fetch(h.url + '/docs/json')).json()) as { paths: Record<string, unknown> }
      expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/batch', '/v1/track', '/v1/profiles/{id}', '/v1/profiles']))
    })
  })
}
