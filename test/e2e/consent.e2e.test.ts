/**
 * The consent ledger end to end, through HTTP only: consent signals on tracked events (Segment's consent object,
 * Sec-GPC) and through POST /v1/consent are recorded with their evidence, enforced before the event is stored
 * (dropped or hashed attributes), readable with GET /v1/consent (policy-gated and audited), spread across a
 * merge as opt-outs only, carried into the Cedar context (a marketer cannot read a person who refused), and
 * every change is in the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bits, gppString, tcString } from '../../src/governance/consent/testing/consent-strings.js'
import { basicAuth, startHarness, WRITE_KEY, ADMIN_TOKEN, type Harness } from '../support/tessera-harness.js'

const MARKETER = { name: 'marketer', token: 'tok_marketer_consent_0123456789', roles: ['marketer'] }
const ANALYST = { name: 'analyst', token: 'tok_analyst_consent_01234567890', roles: ['analyst'] }
let h: Harness

interface ConsentAnswer {
  identifier: string
  profileId: string | null
  effective: Record<string, { state: string; explicit: string }>
  records: { seq: number; purpose: string; state: string; source: string; jurisdiction: string; evidence: { valid: boolean; error?: string; raw?: string; decoded?: Record<string, unknown> } }[]
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
  // Tessera is TCF vendor 12; advertising data would go to vendor 755's destination.
  h = await startHarness({
    adminTokens: [{ name: 'admin', token: ADMIN_TOKEN }, MARKETER, ANALYST],
    governance: { consent: { tcf: { vendorIds: [12], purposeVendors: { advertising: [755] } } } },
  })
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

describe('TCF vendors, TCF Canada, US Privacy and Google Consent Mode through the tracking API', () => {
  const states = (c: ConsentAnswer): string[] => c.records.map((r) => `${r.source}:${r.purpose}:${r.state}:${r.jurisdiction}`).sort()

  it('grants a TCF purpose only with the consent of Tessera\'s vendor and the destination vendors that use it', async () => {
    const all = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    await h.send('/v1/identify', { userId: 'u-tcf-vendor', traits: { email: 'v@example.eu' }, context: { consent: { tcf: tcString({ consents: all, vendorConsents: [12] }) } } })
    const c = (await consentOf('user_id:u-tcf-vendor')).body
    expect(states(c)).toEqual(['tcf:advertising:denied:EU', 'tcf:analytics:granted:EU', 'tcf:feature:precise_geolocation:denied:EU', 'tcf:personalization:granted:EU'])
    expect(c.records[0]!.evidence.decoded).toMatchObject({ vendors: { 12: { consent: true }, 755: { consent: false } } })
    // A publisher restriction forbidding Tessera's vendor a purpose refuses it, whatever the consents.
    await h.send('/v1/track', { userId: 'u-tcf-restricted', event: 'Viewed', context: { gdpr_consent: tcString({ consents: all, vendorConsents: [12, 755], restrictions: [[12, 9, 0]] }) } })
    expect(states((await consentOf('user_id:u-tcf-restricted')).body)).toEqual(['tcf:advertising:granted:EU', 'tcf:analytics:denied:EU', 'tcf:feature:precise_geolocation:denied:EU', 'tcf:personalization:granted:EU'])
  })

  it('drops precise geolocation without the TCF special feature 1 opt-in, also from later events without a TC string', async () => {
    const all = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    const at = { latitude: 48.8566, longitude: 2.3522, city: 'Paris', country: 'FR' }
    const eventsOf = async (userId: string): Promise<Record<string, unknown>[]> => {
      const id = (await profileByUser(userId)).body.id
      const res = await fetch(`${h.url}/v1/profiles/${id}/events`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
      return ((await res.json()) as { events: { event: Record<string, unknown> }[] }).events.map((e) => e.event)
    }
    const locationOf = (e: Record<string, unknown>): unknown => (e.context as { location?: unknown } | undefined)?.location
    await h.send('/v1/track', { userId: 'u-sf-no', event: 'Checked In', properties: { latitude: 1.5, venue: 'cafe' },
      context: { location: at, consent: { tcf: tcString({ consents: all, vendorConsents: [12, 755] }) } } })
    await h.send('/v1/track', { userId: 'u-sf-yes', event: 'Checked In', properties: { latitude: 1.5, venue: 'cafe' },
      context: { location: at, consent: { tcf: tcString({ consents: all, vendorConsents: [12, 755], specialFeatures: [1] }) } } })
    await h.drain()
    const [no] = await eventsOf('u-sf-no')
    expect(locationOf(no!)).toEqual({ city: 'Paris', country: 'FR' })
    expect(no!.properties).toEqual({ venue: 'cafe' })
    const [yes] = await eventsOf('u-sf-yes')
    expect(locationOf(yes!)).toEqual(at)
    expect(yes!.properties).toEqual({ latitude: 1.5, venue: 'cafe' })
    const c = (await consentOf('user_id:u-sf-no')).body
    expect(c.records.filter((r) => r.purpose.startsWith('feature:')).map((r) => `${r.source}:${r.purpose}:${r.state}`)).toEqual(['tcf:feature:precise_geolocation:denied'])
    // The refusal is in the ledger: a later event without any TC string is governed by it too.
    await h.send('/v1/track', { userId: 'u-sf-no', event: 'Checked In', context: { location: at } })
    await h.drain()
    const later = await eventsOf('u-sf-no')
    expect(later).toHaveLength(2)
    for (const e of later) expect(locationOf(e)).toEqual({ city: 'Paris', country: 'FR' })
  })

  it('reads TCF Canada and US Privacy sections of a GPP string, and a US Privacy string on its own', async () => {
    const gpp = gppString({
      tcfcav1: { PurposesImpliedConsent: bits(24, [2, 3, 4, 5, 6, 7, 8, 9, 10]), VendorImpliedConsent: [12, 755] },
      uspv1: { Notice: 'Y', OptOutSale: 'Y' },
    })
    expect((await h.send('/v1/page', { anonymousId: 'a-gpp-ca', name: 'Accueil', context: { gpp } })).status).toBe(200)
    expect(states((await consentOf('anonymous_id:a-gpp-ca')).body)).toEqual([
      'gpp:advertising:denied:CA', 'gpp:analytics:granted:CA', 'gpp:feature:precise_geolocation:denied:CA', 'gpp:personalization:denied:CA', 'gpp:sale_share:denied:US-CA']) // implied consent: never for profiles
    await h.send('/v1/track', { userId: 'u-usp', event: 'Viewed', context: { us_privacy: '1YYN' } })
    expect(states((await consentOf('user_id:u-usp')).body)).toEqual(['usp:sale_share:denied:US-CA'])
  })

  it('enforces Google Consent Mode from the gtag shape and the gcs parameter before the event is stored', async () => {
    const res = await h.send('/v1/identify', {
      userId: 'u-gcm', traits: { email: 'gcm@example.com', age: 52, plan: 'pro' },
      context: { location: { country: 'DE' }, consent: { googleConsentMode: { ad_storage: 'denied', analytics_storage: 'denied', ad_user_data: 'denied', ad_personalization: 'denied' } } },
    })
    expect(res.status).toBe(200)
    await h.drain()
    const p = await profileByUser('u-gcm')
    expect(p.body.traits.email).toMatch(/^hmac:/) // no purpose left for contact data: hashed
    expect(p.body.traits).not.toHaveProperty('age')
    const c = (await consentOf('user_id:u-gcm')).body
    expect(states(c)).toEqual(['gcm:advertising:denied:EU', 'gcm:analytics:denied:EU', 'gcm:sale_share:denied:EU'])
    // gcs G111 grants analytics (both its types granted) but cannot grant advertising (its v2 types are missing).
    await h.send('/v1/track', { userId: 'u-gcs', event: 'Viewed', context: { gcs: 'G111', consent: { gcd: '11l1l1l1l5' } } })
    expect(states((await consentOf('user_id:u-gcs')).body)).toEqual(['gcm:analytics:granted:UNKNOWN'])
  })

  it('takes usPrivacy and googleConsentMode through POST /v1/consent', async () => {
    const ok = await postConsent({ identifiers: ['user_id:u-api-gcm'], googleConsentMode: { ad_user_data: 'denied' }, usPrivacy: '1YNN', jurisdiction: 'US' })
    expect(ok.status, await ok.clone().text()).toBe(200)
    expect(states((await consentOf('user_id:u-api-gcm')).body)).toEqual(['gcm:advertising:denied:US', 'gcm:sale_share:denied:US', 'usp:sale_share:granted:US-CA'])
    expect((await consentOf('user_id:u-api-gcm')).body.effective.sale_share!.state).toBe('denied') // the refusal wins within the request
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
