/**
 * End to end through HTTP: the identity graph's guards against the failure modes of research/identity.md §4.6
 * (shared devices, placeholder ids, a user_id change with the same e-mail, chains through a shared e-mail, a
 * supernode quarantined, rotating anonymous ids) and unmerge through the admin API and the CLI, on a real Tessera
 * (pipeline in its worker thread, embedded SQLite).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { DEFAULT_IDENTIFIER_TYPES } from '../../src/config/identity-types.js'
import { runUnmerge } from '../../src/cli/unmerge.js'
import { runQuarantine } from '../../src/cli/review.js'
import { ADMIN_TOKEN, startHarness, type Harness } from '../support/tessera-harness.js'

interface Profile {
  id: string; traits: Record<string, unknown>; eventCount: number; eventCounts: Record<string, number>
  identities: { type: string; value: string }[]
}
interface Identities { rejected: { key: string; reason: string }[]; edges: { from: string; to: string }[] }
interface Unmerged {
  profileId: string; unmergeSeq: number; complete: boolean; unattributedEvents: number
  profiles: { profileId: string; kept: boolean; eventCount: number; identifiers: string[] }[]
}

const PRIVACY_TOKEN = 'tsa_test_privacy_officer_0123'
const ANALYST_TOKEN = 'tsa_test_analyst_token_01234'

describe('identity graph guards and unmerge end to end', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({
      // A low supernode threshold for devices, so four people on one kiosk are enough to see it work.
      identity: { types: DEFAULT_IDENTIFIER_TYPES.map((t) => (t.name === 'device_id' ? { ...t, quarantine: { profiles: 3, window: '30d' } } : t)) },
      adminTokens: [
        { name: 'privacy', token: PRIVACY_TOKEN, roles: ['privacy_officer'], purpose: 'privacy_request' },
        { name: 'analyst', token: ANALYST_TOKEN, roles: ['analyst'], purpose: 'analytics' },
      ],
    })
  })
  afterAll(async () => {
    await h?.close()
  })

  const u = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`
  const lookup = (key: string) => h.admin<Profile>(`/v1/profiles?identifier=${encodeURIComponent(key)}`)
  async function sendAll(calls: [string, Record<string, unknown>][]): Promise<void> {
    for (const [path, body] of calls) expect((await h.send(path, body)).status, path).toBe(200)
    await h.drain()
  }
  async function unmerge(id: string, body: unknown, token = ADMIN_TOKEN): Promise<{ status: number; body: Unmerged & { message?: string } }> {
    const res = await fetch(`${h.url}/v1/profiles/${encodeURIComponent(id)}/unmerge`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as Unmerged & { message?: string } }
  }

  it('never links on placeholder ids (user_id 0, "undefined", test and no-reply e-mails, the all-zero IDFA)', async () => {
    const [a, b] = [u('ph-a'), u('ph-b')]
    for (const anon of [a, b]) {
      await sendAll([['/v1/identify', { anonymousId: anon, userId: '0', traits: { email: 'test@test.com', name: anon } }],
        ['/v1/identify', { anonymousId: anon, userId: 'undefined', traits: { email: 'noreply@shop.example' } }],
        ['/v1/track', { anonymousId: anon, event: 'Opened', context: { device: { advertisingId: '00000000-0000-0000-0000-000000000000' } } }]])
    }
    const [pa, pb] = [(await lookup(`anonymous_id:${a}`)).body, (await lookup(`anonymous_id:${b}`)).body]
    expect(pa.id).not.toBe(pb.id)
    expect(pa.eventCount).toBe(3)
    expect(pa.identities.map((i) => i.type)).toEqual(['anonymous_id'])
    expect((await lookup('user_id:0')).status).toBe(404)
    const ids = await h.admin<Identities>(`/v1/profiles/${pa.id}/identities`)
    expect(new Set(ids.body.rejected.map((r) => r.reason))).toEqual(new Set(['blocked_value']))
  })

  it('a user_id change with the same e-mail gives a new profile, and the e-mail stays with the first user', async () => {
    const [u1, u2, mail] = [u('uc1'), u('uc2'), `${u('same')}@example.org`]
    await sendAll([['/v1/identify', { userId: u1, traits: { email: mail } }], ['/v1/identify', { userId: u2, traits: { email: mail } }]])
    const [p1, p2] = [(await lookup(`user_id:${u1}`)).body, (await lookup(`user_id:${u2}`)).body]
    expect(p1.id).not.toBe(p2.id)
    expect((await lookup(`email:${mail}`)).body.id).toBe(p1.id)
    const ids = await h.admin<Identities>(`/v1/profiles/${p2.id}/identities`)
    expect(ids.body.rejected).toEqual([expect.objectContaining({ key: `email:${mail}`, reason: 'merge_protection' })])
  })

  it('refuses the sixth anonymous_id of a user within a week (limit_exceeded), and the event still counts', async () => {
    const user = u('weekly')
    await sendAll([1, 2, 3, 4, 5, 6].map((n) => ['/v1/identify', { userId: user, anonymousId: `${user}-a${n}` }]))
    const p = (await lookup(`user_id:${user}`)).body
    expect(p.eventCount).toBe(6)
    expect(p.identities.filter((i) => i.type === 'anonymous_id')).toHaveLength(5)
    const ids = await h.admin<Identities>(`/v1/profiles/${p.id}/identities`)
    expect(ids.body.rejected).toEqual([expect.objectContaining({ key: `anonymous_id:${user}-a6`, reason: 'limit_exceeded' })])
  })

  it('keeps the people of a shared device apart, quarantines the device once it reached more than 3 profiles, and reports it', async () => {
    const kiosk = u('kiosk')
    const people = [u('k1'), u('k2'), u('k3'), u('k4')]
    await sendAll(people.map((p) => ['/v1/identify', { userId: p, context: { device: { id: kiosk } } }]))
    const ids = new Set(await Promise.all(people.map(async (p) => (await lookup(`user_id:${p}`)).body.id)))
    expect(ids.size).toBe(4)
    const q = await h.admin<{ quarantined: { key: string; profiles: number; threshold: number; cause: string }[] }>('/v1/identity/quarantine')
    expect(q.status).toBe(200)
    expect(q.body.quarantined).toContainEqual(expect.objectContaining({ key: `device_id:${kiosk}`, profiles: 4, threshold: 3, cause: 'supernode_guard' }))
    // The same list from the command line.
    const printed: string[] = []
    const log = console.log
    const saved = process.env.TESSERA_ADMIN_TOKEN
    console.log = (...args: unknown[]) => void printed.push(args.join(' '))
    process.env.TESSERA_ADMIN_TOKEN = ADMIN_TOKEN
    try {
      expect(await runQuarantine(['--url', h.url])).toBe(0)
    } finally {
      console.log = log
      if (saved === undefined) delete process.env.TESSERA_ADMIN_TOKEN
      else process.env.TESSERA_ADMIN_TOKEN = saved
    }
    expect(printed.join('\n')).toContain(`device_id:${kiosk}: reached 4 profiles (threshold 3`)
    // Quarantined: a new person's e-mail on the kiosk is not linked to the kiosk's first user.
    const mail = `${u('walkin')}@example.org`
    await sendAll([['/v1/identify', { anonymousId: u('walkin'), context: { device: { id: kiosk } }, traits: { email: mail } }]])
    const walkIn = (await lookup(`email:${mail}`)).body
    expect(walkIn.id).not.toBe((await lookup(`user_id:${people[0]}`)).body.id)
    expect(walkIn.identities.map((i) => i.type).sort()).toEqual(['anonymous_id', 'email'])
    const refused = await h.admin<Identities>(`/v1/profiles/${walkIn.id}/identities`)
    expect(refused.body.rejected).toEqual([expect.objectContaining({ key: `device_id:${kiosk}`, reason: 'quarantined' })])
    const metrics = await (await fetch(`${h.url}/metrics`)).text()
    expect(metrics).toMatch(/^tessera_identity_quarantined_identifiers [1-9]/m)
    // The list is audit data: an analyst may not read it.
    const denied = await fetch(`${h.url}/v1/identity/quarantine`, { headers: { authorization: `Bearer ${ANALYST_TOKEN}` } })
    expect(denied.status).toBe(403)
  })

  it('unmerges a chain through a shared e-mail: two people again, each with their own counts, traits and lookups', async () => {
    const [ann, ben, mail] = [u('ann'), u('ben'), `${u('family')}@example.org`]
    await sendAll([
      ['/v1/identify', { anonymousId: ann, traits: { name: 'Ann' } }],
      ['/v1/track', { anonymousId: ann, event: 'Bought' }],
      ['/v1/identify', { anonymousId: ann, traits: { email: mail } }],
      ['/v1/identify', { anonymousId: ben, traits: { name: 'Ben' } }],
      ['/v1/track', { anonymousId: ben, event: 'Browsed' }],
      ['/v1/track', { anonymousId: ben, event: 'Browsed' }],
      ['/v1/identify', { anonymousId: ben, traits: { email: mail } }],
    ])
    const blob = (await lookup(`anonymous_id:${ben}`)).body
    expect((await lookup(`anonymous_id:${ann}`)).body.id).toBe(blob.id)
    expect(blob.eventCount).toBe(7)

    // Only admin and privacy_officer may unmerge.
    expect((await unmerge(blob.id, { identifier: `email:${mail}` }, ANALYST_TOKEN)).status).toBe(403)
    expect((await unmerge(blob.id, { identifier: `email:${mail}`, edge: { from: `email:${mail}`, to: `anonymous_id:${ann}` } })).status).toBe(400)
    expect((await unmerge(blob.id, { identifier: 'email:nobody@example.org' })).status).toBe(404)

    const res = await unmerge(blob.id, { identifier: `email:${mail.toUpperCase()}`, reason: 'family e-mail joined two people' }, PRIVACY_TOKEN)
    expect(res.status).toBe(200)
    expect(res.body.complete).toBe(true)
    expect(res.body.profiles).toHaveLength(3)
    const [pa, pb, pm] = [(await lookup(`anonymous_id:${ann}`)).body, (await lookup(`anonymous_id:${ben}`)).body, (await lookup(`email:${mail}`)).body]
    expect(new Set([pa.id, pb.id, pm.id]).size).toBe(3)
    expect(pa.id).toBe(blob.id)
    expect([pa.eventCount, pb.eventCount, pm.eventCount]).toEqual([3, 4, 0])
    expect(pa.traits).toMatchObject({ name: 'Ann' })
    expect(pb.traits).toMatchObject({ name: 'Ben' })
    expect(pb.eventCounts).toEqual({ identify: 2, Browsed: 2 })
    const events = await h.admin<{ events: unknown[] }>(`/v1/profiles/${pb.id}/events`)
    expect(events.body.events).toHaveLength(4)

    // The split holds for new events, and the unmerge is in the audit log with who asked.
    await sendAll([['/v1/identify', { anonymousId: ben, traits: { email: mail } }]])
    expect((await lookup(`anonymous_id:${ben}`)).body.eventCount).toBe(5)
    expect((await lookup(`email:${mail}`)).body.id).toBe(pm.id)
    const audit = await h.admin<{ entries: { entry: { actor: { id: string }; decision: string; reason?: string; subjects: string[] } }[] }>(
      '/v1/audit/entries?kind=identity.unmerge')
    expect(audit.body.entries.map((e) => e.entry)).toContainEqual(expect.objectContaining({
      actor: expect.objectContaining({ id: 'privacy' }), decision: 'ok', reason: 'family e-mail joined two people', subjects: expect.arrayContaining([pa.id, pb.id]),
    }))
  })

  it('unmerges through the CLI with the admin token, and explains a refusal', async () => {
    const [a, b, mail] = [u('cli-a'), u('cli-b'), `${u('cli')}@example.org`]
    await sendAll([['/v1/identify', { anonymousId: a, traits: { email: mail } }], ['/v1/identify', { anonymousId: b, traits: { email: mail } }]])
    const id = (await lookup(`anonymous_id:${a}`)).body.id
    const saved = process.env.TESSERA_ADMIN_TOKEN
    process.env.TESSERA_ADMIN_TOKEN = ADMIN_TOKEN
    const lines: string[] = []
    const log = console.log
    const error = console.error
    console.log = (...args: unknown[]) => void lines.push(args.join(' '))
    console.error = (...args: unknown[]) => void lines.push(args.join(' '))
    try {
      expect(await runUnmerge([id, '--identifier', 'email:missing@example.org', '--url', h.url])).toBe(1)
      expect(lines.join('\n')).toMatch(/404 .*holds no identifier email:missing@example.org/)
      expect(await runUnmerge([id, '--edge', `email:${mail},anonymous_id:${b}`, '--reason', 'test', '--url', h.url])).toBe(0)
    } finally {
      console.log = log
      console.error = error
      if (saved === undefined) delete process.env.TESSERA_ADMIN_TOKEN
      else process.env.TESSERA_ADMIN_TOKEN = saved
    }
    expect(lines.join('\n')).toMatch(/split into 2/)
    expect((await lookup(`anonymous_id:${b}`)).body.id).not.toBe((await lookup(`anonymous_id:${a}`)).body.id)
  })
})
