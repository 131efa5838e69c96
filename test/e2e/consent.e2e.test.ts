/**
 * The consent ledger end to end, through HTTP only: consent signals on tracked events (Segment's consent object,
 * Sec-GPC) and through POST /v1/consent are recorded with their evidence, enforced before the event is stored
 * (dropped or hashed attributes), readable with GET /v1/consent (policy-gated and audited), spread across a
 * merge as opt-outs only, carried into the Cedar context (a marketer cannot read a person who refused), and
 * every change is in the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { basicAuth, startHarness, WRITE_KEY, ADMIN_TOKEN, type Harness } from '../support/tessera-harness.js'

const MARKETER = { name: 'marketer', token: 'tok_marketer_consent_0123456789', roles: ['marketer'] }
const ANALYST = { name: 'analyst', token: 'tok_analyst_consent_01234567890', roles: ['analyst'] }
let h: Harness

interface ConsentAnswer {
  identifier: string
  profileId: string | null
  effective: Record<string, { state: string; explicit: string }>
  records: { seq: number; purpose: string; state: string; source: string; jurisdiction: string; evidence: { valid: boolean; error?: string; raw?: string } }[]
}

async function consentOf(identifier: string, token = ADMIN_TOKEN, purpose?: string): Promise<{ status: number; body: ConsentAnswer; headers: Headers }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` }
  if (purpose !== undefined) headers['x-tessera-purpose'] = purpose
  const res = await fetch(`${h.url}/v1/consent?identifier=${encodeURIComponent(identifier)}`, { headers })
  return { status: res.status, body: (await res.json()) as ConsentAnswer, headers: res.headers }
}

async function postConsent(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${h.url}/v1/consent`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: basicAuth(WRITE_KEY), ...headers }, body: JSON.stringify(body) })
}

async function profileByUser(userId: string, token = ADMIN_TOKEN, purpose?: string): Promise<{ status: number; body: { id: string; traits: Record<string, unknown> } }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` }
  if (purpose !== undefined) headers['x-tessera-purpose'] = purpose
  const res = await fetch(`${h.url}/v1/profiles?identifier=${encodeURIComponent(`user_id:${userId}`)}`, { headers })
  return { status: res.status, body: (await res.json()) as { id: string; traits: Record<string, unknown> } }
}

beforeAll(async () => {
  h = await startHarness({ adminTokens: [{ name: 'admin', token: ADMIN_TOKEN }, MARKETER, ANALYST] })
})
afterAll(async () => {
  await h?.close()
})

describe('consent through the tracking API', () => {
  it('records Segment consent and drops or hashes what no allowed purpose may use, before the event is stored', async () => {
    const res = await h.send('/v1/identify', {
      userId: 'u-refuser', anonymousId: 'a-refuser',
      traits: { email: 'Refuser@Example.com', name: 'Rita Refuser', age: 33, plan: 'pro', favouriteColour: 'blue' },
      context: { consent: { categoryPreferences: { Analytics: false, Personalization: false, Advertising: false, Sale: false, Unknown: true } } },
    })
    expect(res.status).toBe(200)
    await h.drain()
    const p = await profileByUser('u-refuser')
    expect(p.status).toBe(200)
    expect(p.body.traits.email).toMatch(/^hmac:/) // contact: hashed
    expect(p.body.traits.name).toMatch(/^hmac:/) // identifier: hashed
    expect(p.body.traits).not.toHaveProperty('age') // demographic: dropped
    expect(p.body.traits).not.toHaveProperty('plan') // behavioral: dropped
    expect(p.body.traits).not.toHaveProperty('favouriteColour') // unclassified: dropped
    const c = await consentOf('user_id:u-refuser')
    expect(c.status).toBe(200)
    expect(c.body.effective.analytics).toEqual({ state: 'denied', explicit: 'refused' })
    expect(c.body.records.map((r) => `${r.purpose}:${r.state}:${r.source}`).sort()).toEqual(
      ['advertising:denied:segment', 'analytics:denied:segment', 'personalization:denied:segment', 'sale_share:denied:segment'])
    // Sent again: nothing changed, nothing new recorded.
    await h.send('/v1/track', { userId: 'u-refuser', event: 'Viewed', context: { consent: { categoryPreferences: { Analytics: false, Personalization: false, Advertising: false, Sale: false, Unknown: true } } } })
    expect((await consentOf('user_id:u-refuser')).body.records).toHaveLength(4)
  })

  it('keeps everything when the person consents, and treats Sec-GPC: 1 as an opt-out of sale/sharing and advertising', async () => {
    const res = await h.send('/v1/identify', {
      userId: 'u-gpc', traits: { email: 'gpc@example.com', age: 41, plan: 'basic' },
      context: { consent: { categoryPreferences: { Analytics: true, Advertising: true } } },
    }, { 'sec-gpc': '1' })
    expect(res.status).toBe(200)
    await h.drain()
    expect((await profileByUser('u-gpc')).body.traits).toMatchObject({ email: 'gpc@example.com', age: 41, plan: 'basic' })
    const c = await consentOf('user_id:u-gpc')
    expect(c.body.effective.sale_share!.state).toBe('denied')
    expect(c.body.effective.advertising!.state).toBe('denied') // GPC wins over the CMP's yes in the same request
    expect(c.body.effective.analytics!.state).toBe('granted')
    expect(c.body.records.some((r) => r.source === 'gpc' && r.purpose === 'sale_share' && r.state === 'denied')).toBe(true)
    // A later request without the header does not opt back in.
    await h.send('/v1/track', { userId: 'u-gpc', event: 'Viewed' })
    expect((await consentOf('user_id:u-gpc')).body.effective.sale_share!.state).toBe('denied')
  })

  it('records garbled TCF and GPP strings as invalid evidence that grants nothing, and still stores the event', async () => {
    const res = await h.send('/v1/track', { userId: 'u-garbled', event: 'Viewed', context: { consent: { tcf: 'C%%%not-a-tc-string', gpp: 'DBAB~###' } } })
    expect(res.status).toBe(200)
    const c = await consentOf('user_id:u-garbled')
    expect(c.body.records.map((r) => [r.source, r.purpose, r.evidence.valid])).toEqual(expect.arrayContaining([['tcf', '*', false], ['gpp', '*', false]]))
    expect(Object.values(c.body.effective).every((e) => e.explicit === 'unknown')).toBe(true)
  })
})

describe('the consent API', () => {
  it('takes choices with a write key, refuses bad input with what and where, and audits every change', async () => {
    expect((await fetch(`${h.url}/v1/consent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ identifiers: ['email:x@example.com'], purposes: { analytics: true } }) })).status).toBe(401)
    const bad = await postConsent({ identifiers: ['email:x@example.com'], purposes: { telepathy: true } })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { message: string }).message).toMatch(/\.purposes\.telepathy.*not a consent purpose/)
    expect((await postConsent({ identifiers: ['shoe_size:42'], purposes: { analytics: true } })).status).toBe(400)
    expect((await postConsent({ identifiers: ['email:x@example.com'] })).status).toBe(400)
    const ok = await postConsent({ identifiers: ['email:Ann.Api@Example.com', 'user_id:u-api'], purposes: { personalization: true, advertising: false }, jurisdiction: 'DE' })
    expect(ok.status).toBe(200)
    expect(await ok.json()).toEqual({ success: true, recorded: 4 })
    const c = await consentOf('email:ann.api@example.com') // normalised like identity resolution
    expect(c.body.records.map((r) => [r.purpose, r.state, r.jurisdiction])).toEqual([['personalization', 'granted', 'EU'], ['advertising', 'denied', 'EU']])
    const audit = await fetch(`${h.url}/v1/audit/entries?kind=consent.change&limit=1000`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    const entries = ((await audit.json()) as { entries: { entry: { action: string; detail: { changes: { identifier: string; purpose: string }[] } } }[] }).entries
    const api = entries.filter((e) => e.entry.action === 'POST /v1/consent')
    expect(api.length).toBeGreaterThan(0)
    expect(JSON.stringify(api)).not.toContain('ann.api@example.com') // identifiers are pseudonymised in the audit log
  })

  it('is an audited, policy-gated admin read: no lookup by an identifier the token cannot read in clear', async () => {
    const denied = await consentOf('email:ann.api@example.com', ANALYST.token, 'analytics')
    expect(denied.status).toBe(403)
    expect(Number(denied.headers.get('x-tessera-audit-seq'))).toBeGreaterThanOrEqual(0)
    const missing = await fetch(`${h.url}/v1/consent?identifier=user_id:u-api`, { headers: { authorization: `Bearer ${MARKETER.token}` } })
    expect(missing.status).toBe(400) // no purpose stated
  })
})

describe('consent across a merge and in access decisions', () => {
  it('spreads an opt-out across a merge but not an opt-in, and the ledger stays per identifier', async () => {
    await h.send('/v1/page', { anonymousId: 'a-merge', name: 'Home', context: { consent: { categoryPreferences: { Advertising: false } } } })
    await postConsent({ identifiers: ['user_id:u-merge'], purposes: { advertising: true, personalization: true }, jurisdiction: 'US' })
    await h.send('/v1/identify', { userId: 'u-merge', anonymousId: 'a-merge', traits: { plan: 'pro' } })
    await h.drain()
    const merged = await consentOf('user_id:u-merge')
    expect(merged.body.profileId).not.toBeNull()
    expect(merged.body.effective.advertising!.state).toBe('denied') // the device's opt-out applies to the profile
    expect(merged.body.records.filter((r) => r.purpose === 'advertising').map((r) => r.state)).toEqual(['granted']) // its own record is unchanged
    const device = await consentOf('anonymous_id:a-merge')
    expect(device.body.records.map((r) => `${r.purpose}:${r.state}`)).toEqual(['advertising:denied']) // the opt-in was not copied over
  })

  it('carries a refusal into the Cedar context: a marketer reads nothing personal about a person who refused personalization', async () => {
    await h.send('/v1/identify', { userId: 'u-nomarketing', traits: { email: 'nm@example.com', plan: 'pro', age: 30 }, context: { consent: { categoryPreferences: { Analytics: true } } } })
    await h.drain()
    const id = (await profileByUser('u-nomarketing')).body.id
    const read = (): Promise<Response> => fetch(`${h.url}/v1/profiles/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${MARKETER.token}`, 'x-tessera-purpose': 'marketing' } })
    const before = (await (await read()).json()) as { traits: Record<string, unknown> }
    expect(before.traits.email).toBe('n***@example.com')
    expect((await postConsent({ identifiers: ['user_id:u-nomarketing'], purposes: { personalization: false } })).status).toBe(200)
    const res = await read()
    const after = (await res.json()) as { traits: Record<string, unknown> }
    expect(res.status).toBe(200)
    expect(after.traits).toEqual({})
    expect(res.headers.get('x-tessera-access')).toMatch(/^partial/)
    // Other purposes are not affected by a refusal of personalization.
    expect((await profileByUser('u-nomarketing', ADMIN_TOKEN)).body.traits).toMatchObject({ email: 'nm@example.com', age: 30 })
  })
})
