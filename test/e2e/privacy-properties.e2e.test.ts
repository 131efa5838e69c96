/**
 * The issue's "Done when" properties, through the public API only (fast-check over generated requests):
 * - deny by default: a token whose roles no policy names gets nothing from any admin endpoint, for any purpose;
 * - a forbid always wins: a random forbid policy, loaded next to a permit-everything policy, removes its category
 *   from every read;
 * - revoking consent never widens access: after any refusal through the consent API, a marketer reads no more of
 *   the person than before, and an event sent afterwards keeps no more attributes than one sent before;
 * - consent strings fuzzed on the tracking API and the consent API: every request is answered, the event is kept,
 *   and undecodable evidence never grants;
 * - more bypass attempts: look-alike (Cyrillic) field names and purposes, injection in identifiers and ids,
 *   repeated and unknown query parameters.
 */
import { randomUUID } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '../support/factories.js'
import { ADMIN_TOKEN, basicAuth, startHarness, WRITE_KEY, type Harness } from '../support/tessera-harness.js'

const NO_ROLE_TOKENS = [
  { name: 'guest', token: 'tok_guest_0123456789abcdefgh', roles: ['guest'] },
  { name: 'root', token: 'tok_root_0123456789abcdefghi', roles: ['root'] },
  { name: 'admins', token: 'tok_admins_0123456789abcdefg', roles: ['admins'] }, // one letter from a real role
  { name: 'privacyofficer', token: 'tok_privacyofficer_012345678', roles: ['privacyofficer'] },
  { name: 'empty', token: 'tok_empty_0123456789abcdefgh', roles: [] as string[] },
]
const MARKETER = { name: 'marketer', token: 'tok_marketer_props_0123456789', roles: ['marketer'] }
const ANALYST = { name: 'analyst', token: 'tok_analyst_props_01234567890', roles: ['analyst'] }
const PURPOSES = ['administration', 'analytics', 'marketing', 'support', 'privacy_request', 'audit', 'security']
/** Values of the seeded person: none may appear in an answer the policies refuse. */
const SECRETS = ['prop-person@example.eu', 'Petra Property', 'SKU-PROP-1', '203.0.113.77', 'influenza-prop']

const policies = tempDir()
let h: Harness
let profileId: string

function headers(token: string, purpose?: string): Record<string, string> {
  return { authorization: `Bearer ${token}`, ...(purpose === undefined ? {} : { 'x-tessera-purpose': purpose }) }
}

async function call(method: string, path: string, token: string, purpose?: string, body?: unknown): Promise<{ status: number; text: string; json: () => unknown }> {
  const res = await fetch(h.url + path, {
    method, headers: { ...headers(token, purpose), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await res.text()
  return { status: res.status, text, json: () => JSON.parse(text) as unknown }
}

async function reload(): Promise<void> {
  const res = await call('POST', '/v1/admin/policies/reload', ADMIN_TOKEN)
  expect(res.status, res.text).toBe(200)
}

beforeAll(async () => {
  h = await startHarness({
    adminTokens: [{ name: 'admin', token: ADMIN_TOKEN }, MARKETER, ANALYST, ...NO_ROLE_TOKENS.map((t) => ({ ...t, roles: [...t.roles] }))],
    governance: { policies: { dir: policies.dir }, classification: { fields: { 'traits.diagnosis': { category: 'health', sensitivity: 'restricted' } } } },
  })
  const send = async (path: string, body: unknown): Promise<void> => {
    const res = await h.send(path, body)
    expect(res.status, await res.clone().text()).toBe(200)
  }
  await send('/v1/identify', {
    userId: 'u-prop', traits: {
      email: SECRETS[0], name: SECRETS[1], age: 44, plan: 'pro', company: 'Acme', diagnosis: SECRETS[4], favouriteColour: 'teal',
      address: { country: 'DE', city: 'Köln' },
    },
  })
  await send('/v1/track', { userId: 'u-prop', event: 'Order Completed', properties: { revenue: 99, product_id: SECRETS[2] }, context: { ip: SECRETS[3] } })
  await h.drain()
  profileId = ((await call('GET', '/v1/profiles?identifier=user_id:u-prop', ADMIN_TOKEN)).json() as { id: string }).id
})

afterAll(async () => {
  await h?.close()
  policies.cleanup()
})

describe('deny by default (property over tokens, endpoints and purposes)', () => {
  it('a token whose roles no policy names reads and changes nothing, whatever it asks and for whatever purpose', async () => {
    const endpoints: [string, string, unknown?][] = [
      ['GET', `/v1/profiles/${profileId}`], ['GET', `/v1/profiles/${profileId}/events`], ['GET', `/v1/profiles/${profileId}/identities`],
      ['GET', '/v1/profiles?identifier=user_id:u-prop'], ['GET', '/v1/profiles?identifier=email:prop-person@example.eu'], ['GET', '/v1/stats'],
      ['GET', '/v1/stats/count?epsilon=0.1'], ['GET', '/v1/audit/entries'], ['GET', `/v1/audit/entries?profileId=${profileId}`],
      ['GET', '/v1/consent?identifier=user_id:u-prop'], ['GET', '/v1/identity/review'], ['GET', '/v1/identity/quarantine'],
      ['GET', '/v1/privacy/requests'], ['POST', '/v1/privacy/requests', { type: 'access', identifier: 'user_id:u-prop', jurisdiction: 'EU' }],
      ['POST', `/v1/profiles/${profileId}/unmerge`, { identifier: 'user_id:u-prop' }], ['POST', '/v1/admin/policies/reload'],
    ]
    await fc.assert(fc.asyncProperty(fc.constantFrom(...NO_ROLE_TOKENS), fc.constantFrom(...endpoints), fc.constantFrom(...PURPOSES), async (token, [method, path, body], purpose) => {
      const res = await call(method, path, token.token, purpose, body)
      expect(res.status, `${token.name} ${method} ${path} ${purpose}: ${res.text}`).toBe(403)
      for (const s of SECRETS) expect(res.text).not.toContain(s)
    }), { numRuns: 80 })
    // Nothing was created or changed by any of them.
    expect(((await call('GET', '/v1/privacy/requests', ADMIN_TOKEN)).json() as { requests: unknown[] }).requests).toEqual([])
    expect((await call('GET', `/v1/profiles/${profileId}`, ADMIN_TOKEN)).status).toBe(200)
  })
})

describe('a forbid always wins (property over generated forbid policies)', () => {
  // Where each seeded trait lands: its category under the shipped classification.
  const TRAIT_CATEGORY: Record<string, string> = {
    email: 'contact', name: 'identifier', age: 'demographic', plan: 'behavioral', company: 'professional', favouriteColour: 'personal', address: 'location',
  }
  afterAll(async () => {
    rmSync(join(policies.dir, 'generated.cedar'), { force: true })
    await reload()
  })

  it('removes the forbidden category from every read, even next to a policy that permits everything', async () => {
    const categories = ['contact', 'identifier', 'demographic', 'behavioral', 'professional', 'personal', 'location']
    await fc.assert(fc.asyncProperty(fc.subarray(categories, { minLength: 1, maxLength: 3 }), fc.boolean(), async (forbidden, permitAll) => {
      const text = [
        ...(permitAll ? ['@id("generated-permit-all")\npermit (principal, action, resource);'] : []),
        ...forbidden.map((c, i) => `@id("generated-forbid-${i}")\nforbid (principal, action == Tessera::Action::"readField", resource)\nwhen { context.category == "${c}" };`),
      ].join('\n')
      writeFileSync(join(policies.dir, 'generated.cedar'), `${text}\n`)
      await reload()
      for (const [token, purpose] of [[ADMIN_TOKEN, undefined], [MARKETER.token, 'marketing'], [ANALYST.token, 'analytics']] as const) {
        const res = await call('GET', `/v1/profiles/${profileId}`, token, purpose)
        if (res.status !== 200) continue
        const traits = (res.json() as { traits: Record<string, unknown> }).traits
        for (const key of Object.keys(traits)) {
          if (key in TRAIT_CATEGORY) expect(forbidden, `${key} shown to ${token}`).not.toContain(TRAIT_CATEGORY[key])
        }
      }
    }), { numRuns: 10 })
  })
})

describe('revoking consent never widens access (property over consent histories, through the API)', () => {
  const PURPOSE_NAMES = ['analytics', 'personalization', 'advertising', 'sale_share']

  it('after any refusal, a marketer reads no more of the person, and an event sent afterwards keeps no more', async () => {
    const step = fc.record({ purpose: fc.constantFrom(...PURPOSE_NAMES), granted: fc.boolean() })
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 4 }), fc.constantFrom('US', 'DE'), async (steps, jurisdiction) => {
      const user = `u-consent-${randomUUID().slice(0, 8)}`
      const traits = { email: `${user}@example.com`, name: 'Carla Consent', age: 31, plan: 'basic', company: 'Initech', address: { country: jurisdiction } }
      // What a marketer sees of the person, and what of a fresh event survives ingest.
      const observe = async (): Promise<{ read: Set<string>; kept: Set<string> }> => {
        const messageId = randomUUID()
        expect((await h.send('/v1/track', { userId: user, messageId, event: 'Viewed', properties: { revenue: 5, sku: 'X' }, context: { ip: '198.51.100.1', locale: 'de' }, traits })).status).toBe(200)
        await h.drain()
        const p = await call('GET', `/v1/profiles?identifier=user_id:${user}`, ADMIN_TOKEN)
        const id = (p.json() as { id: string }).id
        const asMarketer = await call('GET', `/v1/profiles/${id}`, MARKETER.token, 'marketing')
        const read = new Set(asMarketer.status === 200 ? Object.keys((asMarketer.json() as { traits: object }).traits) : [])
        const events = (await call('GET', `/v1/profiles/${id}/events?limit=100`, ADMIN_TOKEN)).json() as { events: { messageId: string; event: Record<string, Record<string, unknown>> }[] }
        const mine = events.events.find((e) => e.messageId === messageId)!
        const kept = new Set(['properties', 'context'].flatMap((root) => Object.keys(mine.event[root] ?? {}).map((k) => `${root}.${k}`)))
        return { read, kept }
      }
      const consent = async (purpose: string, granted: boolean): Promise<void> => {
        const res = await fetch(`${h.url}/v1/consent`, {
          method: 'POST', headers: { 'content-type': 'application/json', authorization: basicAuth(WRITE_KEY) },
          body: JSON.stringify({ identifiers: [`user_id:${user}`], purposes: { [purpose]: granted }, jurisdiction }),
        })
        expect(res.status).toBe(200)
      }
      let before = await observe()
      for (const s of steps) {
        await consent(s.purpose, s.granted)
        const after = await observe()
        if (!s.granted) {
          for (const k of after.read) expect(before.read, `marketer read ${k} after refusing ${s.purpose}`).toContain(k)
          for (const k of after.kept) expect(before.kept, `ingest kept ${k} after refusing ${s.purpose}`).toContain(k)
        }
        before = after
      }
    }), { numRuns: 8 })
  })
})

describe('consent strings fuzzed through the public API', () => {
  const garbage = fc.oneof(fc.string({ maxLength: 200 }), fc.base64String({ maxLength: 200 }), fc.stringMatching(/^C[A-Za-z0-9_.-]{0,150}$/),
    fc.stringMatching(/^DB[A-Za-z0-9_.~-]{0,150}$/), fc.stringMatching(/^1[YN-]{0,4}$/), fc.stringMatching(/^G1[0-9a-z]{0,3}$/), fc.stringMatching(/^1[0-9][a-z0-9]{0,9}$/))
  type Record_ = { state: string; evidence: { valid: boolean } }

  it('answers every tracked event and consent call, keeps the event, and never grants on evidence it cannot decode', async () => {
    let n = 0
    await fc.assert(fc.asyncProperty(garbage, fc.constantFrom('tcf', 'gpp', 'usPrivacy', 'gcs', 'gcd', 'googleConsentMode'), async (raw, where) => {
      const user = `u-fuzz-${n++}`
      const consent: Record<string, unknown> = where === 'googleConsentMode' ? { googleConsentMode: { ad_storage: raw, analytics_storage: raw } } : { [where]: raw }
      const tracked = await h.send('/v1/track', { userId: user, event: 'Fuzzed', context: { consent } })
      expect(tracked.status, await tracked.clone().text()).toBe(200)
      const apiBody = where === 'gcs' || where === 'gcd' ? { googleConsentMode: { [where]: raw } } : { [where]: where === 'googleConsentMode' ? { ad_user_data: raw } : raw }
      const api = await fetch(`${h.url}/v1/consent`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: basicAuth(WRITE_KEY) },
        body: JSON.stringify({ identifiers: [`user_id:${user}`], ...apiBody }),
      })
      expect([200, 400]).toContain(api.status) // 400: the body held nothing usable (e.g. an over-long string), said so
      const ledger = (await call('GET', `/v1/consent?identifier=user_id:${user}`, ADMIN_TOKEN)).json() as { records: Record_[] }
      for (const r of ledger.records) if (!r.evidence.valid) expect(r.state).toBe('invalid')
    }), { numRuns: 60 })
    await h.drain()
    // Every fuzzed event was stored and processed.
    for (const i of [0, Math.floor(n / 2), n - 1]) expect((await call('GET', `/v1/profiles?identifier=user_id:u-fuzz-${i}`, ADMIN_TOKEN)).status).toBe(200)
  })
})

describe('more bypass attempts through the API', () => {
  it('gives a look-alike (Cyrillic) field name the safe default, and refuses look-alike purposes', async () => {
    expect((await h.send('/v1/identify', { userId: 'u-cyrillic', traits: { 'еmail': 'cyr@example.com', email: 'latin@example.com' } })).status).toBe(200)
    await h.drain()
    const id = ((await call('GET', '/v1/profiles?identifier=user_id:u-cyrillic', ADMIN_TOKEN)).json() as { id: string }).id
    const asAnalyst = (await call('GET', `/v1/profiles/${id}`, ANALYST.token, 'analytics')).json() as { traits: Record<string, unknown> }
    expect(asAnalyst.traits).not.toHaveProperty('еmail') // unclassified personal data: removed for analysts, not read as contact
    expect(asAnalyst.traits.email).toMatch(/^hmac:/)
    expect(JSON.stringify(asAnalyst)).not.toContain('cyr@example.com')
    // Header values travel as bytes: a client sends the look-alikes UTF-8 encoded.
    for (const purpose of ['аnalytics', 'analytics\u200b', 'ANALYTICS', 'analytics,marketing']) {
      const res = await call('GET', `/v1/profiles/${id}`, ANALYST.token, Buffer.from(purpose, 'utf8').toString('latin1'))
      expect(res.status, JSON.stringify(purpose)).toBe(400)
    }
  })

  it('treats injection in identifiers and ids as data, and refuses repeated or unknown parameters', async () => {
    for (const identifier of ['user_id:u-prop" || true || "', "user_id:u-prop' OR '1'='1", 'user_id:*', 'email:%', 'user_id:u-prop\u0000x']) {
      const res = await call('GET', `/v1/profiles?identifier=${encodeURIComponent(identifier)}`, ADMIN_TOKEN)
      expect([400, 404], identifier).toContain(res.status)
      for (const s of SECRETS) expect(res.text).not.toContain(s)
    }
    expect((await call('GET', '/v1/profiles?identifier=user_id:nobody&identifier=user_id:u-prop', ADMIN_TOKEN)).status).toBe(400)
    expect((await call('GET', `/v1/profiles/${profileId}?fields=*`, ANALYST.token, 'analytics')).status).toBe(400)
    expect((await call('GET', `/v1/audit/entries?profileId=${encodeURIComponent(`${profileId}" OR 1=1`)}`, ADMIN_TOKEN)).json()).toMatchObject({ entries: [] })
    expect((await call('GET', `/v1/privacy/requests/${encodeURIComponent('../../admin')}`, ADMIN_TOKEN)).status).toBe(400)
    const count = await call('GET', `/v1/stats/count?epsilon=0.1&filter=${encodeURIComponent('traits.plan = "pro" or 1=1')}`, ANALYST.token, 'analytics')
    expect(count.status).toBe(400)
  })
})
