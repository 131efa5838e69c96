/**
 * End to end through HTTP: real-time probabilistic matching in the pipeline (worker thread, embedded SQLite) with
 * a model trained by the real training code and loaded from its file; the review queue through the admin API.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { modelToFile } from '../../src/matching/model-file.js'
import { TRAIT_MATCH_CONFIG, trainedPersonModel } from '../../src/matching/testing/realtime-model.js'
import { ADMIN_TOKEN, startHarness, type Harness } from '../support/tessera-harness.js'
import { runReview } from '../../src/cli/review.js'

interface Profile { id: string; traits: Record<string, unknown> }
interface Identities { edges: { from: string; to: string; rule: string; confidence: number }[] }
interface Review {
  items: { seq: number; status: string; probability: number; principal: string | null; profiles: { profileId: string; traits: Record<string, unknown> | null }[] }[]
  hidden: number
}

const ANALYST_TOKEN = 'tsa_test_analyst_token_01234'

describe('real-time probabilistic matching end to end', () => {
  let h: Harness
  const dir = mkdtempSync(join(tmpdir(), 'rt-match-'))
  beforeAll(async () => {
    const model = join(dir, 'model.json')
    writeFileSync(model, JSON.stringify(modelToFile(trainedPersonModel(), TRAIT_MATCH_CONFIG, 3600)))
    h = await startHarness({
      identity: { matching: { enabled: true, model, autoMerge: 0.99, review: 0.5, maxBlockSize: 100 } },
      adminTokens: [{ name: 'analyst', token: ANALYST_TOKEN, roles: ['analyst'], purpose: 'analytics' }],
    })
  })
  afterAll(async () => {
    await h?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const tag = (): string => randomUUID().slice(0, 8)
  const lookup = (key: string) => h.admin<Profile>(`/v1/profiles?identifier=${encodeURIComponent(key)}`)
  /** A CRM record: its e-mail is its only identifier. */
  async function crm(email: string, traits: Record<string, string>): Promise<void> {
    expect((await h.send('/v1/identify', { anonymousId: `crm-${email}`, traits: { ...traits, email }, context: { source: 'crm' } })).status).toBe(200)
  }
  async function decide(seq: number, decision: 'accept' | 'reject' | 'reopen', token = ADMIN_TOKEN): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${h.url}/v1/identity/review/${seq}/${decision}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }
  /** The audit entries of `kind` naming the profile, once the relay has `n` of them (then checks it stays `n`). */
  async function waitForEntries(kind: string, profileId: string, n: number): Promise<{ entry: { actor: unknown; detail: Record<string, unknown> }; text: string }[]> {
    type Entries = { entries: { entry: { actor: unknown; detail: Record<string, unknown> }; text: string }[] }
    const read = async (): Promise<Entries['entries']> =>
      (await h.admin<Entries>(`/v1/audit/entries?kind=${kind}&profileId=${encodeURIComponent(profileId)}`)).body.entries
    const deadline = Date.now() + 15_000
    while ((await read()).length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
    await new Promise((r) => setTimeout(r, 1200))
    const entries = await read()
    expect(entries).toHaveLength(n)
    return entries
  }
  async function openItemFor(profileId: string): Promise<Review['items'][number]> {
    const list = await h.admin<Review>('/v1/identity/review')
    expect(list.status).toBe(200)
    const item = list.body.items.find((i) => i.profiles.some((p) => p.profileId === profileId))
    expect(item, 'a review item names the new profile').toBeDefined()
    return item!
  }

  it('merges two CRM records of one person with a typo in the name and no shared identifier, with a scored edge', async () => {
    const t = tag()
    const surname = `sondergeld${t.replace(/[^a-z]/g, '')}`
    await crm(`ann1-${t}@example.org`, { given: 'annabel', surname, dob: '1984-03-12', city: 'leeds' })
    await h.drain()
    await crm(`ann2-${t}@example.org`, { given: 'anabel', surname, dob: '1984-03-12', city: 'leeds' })
    await h.drain()
    const [a, b] = [(await lookup(`email:ann1-${t}@example.org`)).body, (await lookup(`email:ann2-${t}@example.org`)).body]
    expect(b.id).toBe(a.id)
    const ids = await h.admin<Identities>(`/v1/profiles/${a.id}/identities`)
    const scored = ids.body.edges.filter((e) => e.rule === 'probabilistic')
    expect(scored).toHaveLength(1)
    expect(scored[0]!.confidence).toBeGreaterThanOrEqual(0.99)
    expect(scored[0]!.confidence).toBeLessThan(1)
    // The auto-merge is in the audit log once (the identity audit relay), by type, never the e-mail.
    const matches = await waitForEntries('identity.match', a.id, 1)
    expect(matches[0]!.entry).toMatchObject({ actor: { type: 'system', id: 'pipeline' } })
    // The scored edge joins each record's earliest identifier (here the CRM's anonymous id or the e-mail): types only.
    for (const type of matches[0]!.entry.detail.identifierTypes as string[]) expect(['anonymous_id', 'email']).toContain(type)
    expect(matches[0]!.entry.detail.probability).toBe(scored[0]!.confidence)
    expect(matches[0]!.text).not.toContain(t)
  })

  it('keeps a person with the same name but another date of birth apart', async () => {
    const t = tag()
    const surname = `brightwater${t.replace(/[^a-z]/g, '')}`
    await crm(`b1-${t}@example.org`, { given: 'oscar', surname, dob: '1970-01-20', city: 'york' })
    await h.drain()
    await crm(`b2-${t}@example.org`, { given: 'oscar', surname, dob: '1996-09-04', city: 'york' })
    await h.drain()
    expect((await lookup(`email:b2-${t}@example.org`)).body.id).not.toBe((await lookup(`email:b1-${t}@example.org`)).body.id)
  })

  it('a unique-identifier conflict wins over a match', async () => {
    const t = tag()
    const traits = { given: 'freya', surname: `quillfeather${t.replace(/[^a-z]/g, '')}`, dob: '1988-05-05', city: 'bath' }
    expect((await h.send('/v1/identify', { userId: `u1-${t}`, traits })).status).toBe(200)
    await h.drain()
    expect((await h.send('/v1/identify', { userId: `u2-${t}`, traits })).status).toBe(200)
    await h.drain()
    expect((await lookup(`user_id:u2-${t}`)).body.id).not.toBe((await lookup(`user_id:u1-${t}`)).body.id)
  })

  it('queues a middle-band pair for review; accept merges it, recorded with the principal', async () => {
    const t = tag()
    const surname = `marchbanks${t.replace(/[^a-z]/g, '')}`
    await crm(`m1-${t}@example.org`, { given: 'isla', surname, dob: '1979-12-01', city: 'york' })
    await h.drain()
    await crm(`m2-${t}@example.org`, { given: 'isla', surname, city: 'york' })
    await h.drain()
    const [p1, p2] = [(await lookup(`email:m1-${t}@example.org`)).body, (await lookup(`email:m2-${t}@example.org`)).body]
    expect(p2.id).not.toBe(p1.id)
    const item = await openItemFor(p2.id)
    expect(item.probability).toBeGreaterThanOrEqual(0.5)
    expect(item.probability).toBeLessThan(0.99)
    expect(item.profiles.map((p) => p.traits?.['given'])).toEqual(['isla', 'isla'])
    // An analyst may not see or decide review items: the queue itself is refused (deny by default), not shown empty.
    const analystList = await fetch(`${h.url}/v1/identity/review`, { headers: { authorization: `Bearer ${ANALYST_TOKEN}` } })
    expect(analystList.status).toBe(403)
    expect((await decide(item.seq, 'accept', ANALYST_TOKEN)).status).toBe(403)
    const accepted = await decide(item.seq, 'accept')
    expect(accepted).toMatchObject({ status: 200, body: { status: 'accepted', profileId: p1.id, merged: p2.id } })
    // The merge is audited once more by the relay, as caused by the review (no identity.match for its scored edge).
    const merges = await waitForEntries('identity.merge', p2.id, 1)
    expect(merges[0]!.entry).toMatchObject({ actor: { type: 'system', id: 'review' }, detail: { winner: p1.id, loser: p2.id, reviewSeq: item.seq } })
    expect(await waitForEntries('identity.match', p2.id, 0)).toEqual([])
    expect((await lookup(`email:m2-${t}@example.org`)).body.id).toBe(p1.id)
    expect((await decide(item.seq, 'accept')).status).toBe(404)
    const done = await h.admin<Review>('/v1/identity/review?status=accepted')
    expect(done.body.items.find((i) => i.seq === item.seq)).toMatchObject({ principal: expect.stringMatching(/^token:/) })
  })

  it('reject keeps a middle-band pair apart for good', async () => {
    const t = tag()
    const surname = `thistlewood${t.replace(/[^a-z]/g, '')}`
    await crm(`r1-${t}@example.org`, { given: 'leo', surname, dob: '1965-07-30', city: 'york' })
    await h.drain()
    await crm(`r2-${t}@example.org`, { given: 'leo', surname, city: 'york' })
    await h.drain()
    const [p1, p2] = [(await lookup(`email:r1-${t}@example.org`)).body, (await lookup(`email:r2-${t}@example.org`)).body]
    const item = await openItemFor(p2.id)
    expect((await decide(item.seq, 'reject')).body).toMatchObject({ status: 'rejected' })
    expect((await decide(item.seq, 'accept')).status).toBe(404)
    // More activity of the second record does not bring the pair back.
    await crm(`r2-${t}@example.org`, { given: 'leo', surname, city: 'york' })
    await h.drain()
    const open = await h.admin<Review>('/v1/identity/review')
    expect(open.body.items.filter((i) => i.profiles.some((p) => p.profileId === p2.id))).toEqual([])
    expect((await lookup(`email:r2-${t}@example.org`)).body.id).not.toBe(p1.id)
  })

  it('a rejected pair does not merge later through a shared e-mail; reopening the item lifts the rule', async () => {
    const t = tag()
    const surname = `ashcombe${t.replace(/[^a-z]/g, '')}`
    await crm(`s1-${t}@example.org`, { given: 'ivy', surname, dob: '1990-02-14', city: 'hull' })
    await h.drain()
    await crm(`s2-${t}@example.org`, { given: 'ivy', surname, city: 'hull' })
    await h.drain()
    const [p1, p2] = [(await lookup(`email:s1-${t}@example.org`)).body, (await lookup(`email:s2-${t}@example.org`)).body]
    const item = await openItemFor(p2.id)
    expect((await decide(item.seq, 'reject')).body).toMatchObject({ status: 'rejected' })
    // The second record's device now signs in with the first record's e-mail: deterministic, and still refused.
    expect((await h.send('/v1/identify', { anonymousId: `crm-s2-${t}@example.org`, traits: { email: `s1-${t}@example.org` } })).status).toBe(200)
    await h.drain()
    expect((await lookup(`anonymous_id:crm-s2-${t}@example.org`)).body.id).not.toBe((await lookup(`email:s1-${t}@example.org`)).body.id)
    const rejected = [
      ...(await h.admin<{ rejected: { key: string; reason: string }[] }>(`/v1/profiles/${p1.id}/identities`)).body.rejected,
      ...(await h.admin<{ rejected: { key: string; reason: string }[] }>(`/v1/profiles/${p2.id}/identities`)).body.rejected,
    ]
    expect(rejected).toContainEqual(expect.objectContaining({ reason: 'split_rule' }))
    // Only a rejected item can be reopened; an analyst may not.
    expect((await decide(item.seq, 'reopen', ANALYST_TOKEN)).status).toBe(403)
    expect((await decide(item.seq, 'reopen')).body).toMatchObject({ status: 'open' })
    expect((await decide(item.seq, 'reopen')).status).toBe(404)
    expect((await decide(item.seq, 'accept')).body).toMatchObject({ status: 'accepted', profileId: p1.id, merged: p2.id })
    expect((await lookup(`email:s2-${t}@example.org`)).body.id).toBe(p1.id)
    // The same queue from the command line.
    const lines: string[] = []
    const log = console.log
    console.log = (...args: unknown[]) => void lines.push(args.join(' '))
    const saved = process.env.TESSERA_ADMIN_TOKEN
    process.env.TESSERA_ADMIN_TOKEN = ADMIN_TOKEN
    try {
      expect(await runReview(['list', '--status', 'accepted', '--url', h.url])).toBe(0)
      expect(await runReview(['reject', String(item.seq), '--url', h.url])).toBe(1) // accepted: no longer open
    } finally {
      console.log = log
      if (saved === undefined) delete process.env.TESSERA_ADMIN_TOKEN
      else process.env.TESSERA_ADMIN_TOKEN = saved
    }
    expect(lines.join('\n')).toMatch(new RegExp(`#${item.seq} accepted p=0\\.\\d+ .* by token:`))
    const audit = await h.admin<{ entries: { entry: { action: string; decision: string } }[] }>('/v1/audit/entries?kind=identity.review')
    expect(audit.body.entries.map((e) => e.entry)).toContainEqual(expect.objectContaining({ action: 'POST /v1/identity/review/:seq/reopen', decision: 'ok' }))
  })
})
