/**
 * Privacy operations end to end, through HTTP and the CLI: differentially private counts with their ε budget,
 * and retention (`tessera retention run`) deleting exactly the expired categories.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { main } from '../../src/cli/main.js'
import { ADMIN_TOKEN, startHarness, type Harness } from '../support/tessera-harness.js'

const TOKENS = {
  analyst: { name: 'analyst', token: 'tok_analyst_0123456789abcdef', roles: ['analyst'] },
  analyst2: { name: 'analyst-2', token: 'tok_analyst2_0123456789abcde', roles: ['analyst'] },
  analystEu: { name: 'analyst-eu', token: 'tok_analyst_eu_0123456789abc', roles: ['analyst'], attributes: { region: 'EU' } },
  marketer: { name: 'marketer', token: 'tok_marketer_0123456789abcde', roles: ['marketer'] },
  analyst3: { name: 'analyst-3', token: 'tok_analyst3_0123456789abcde', roles: ['analyst'] },
} as const
type TokenKey = keyof typeof TOKENS

let h: Harness

async function get<T = Record<string, unknown>>(token: TokenKey, path: string, purpose = 'analytics'): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(h.url + path, { headers: { authorization: `Bearer ${TOKENS[token].token}`, 'x-tessera-purpose': purpose } })
  return { status: res.status, body: (await res.json()) as T, headers: res.headers }
}

async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = []
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')))
  const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')))
  try {
    const code = await main(args)
    return { code, out: lines.join('\n') }
  } finally {
    log.mockRestore()
    err.mockRestore()
  }
}

const count = (token: TokenKey, filter: string, epsilon: string, purpose?: string): ReturnType<typeof get<{ count: number; message: string; budget: { remaining: number }; consentPurposes: string[] }>> =>
  get(token, `/v1/stats/count?filter=${encodeURIComponent(filter)}&epsilon=${encodeURIComponent(epsilon)}`, purpose)

beforeAll(async () => {
  h = await startHarness({
    adminTokens: Object.values(TOKENS).map((t) => ({ ...t, roles: [...t.roles] })),
    governance: { dp: { epsilonPerPeriod: 2, periodDays: 30, maxEpsilon: 1 } },
  })
  const day = 86_400_000
  const at = (daysAgo: number): string => new Date(Date.now() - daysAgo * day).toISOString()
  // Retention fixtures: a behavioral event 400 days old and one 10 days old; a location trait set 100 days ago.
  await h.send('/v1/identify', { userId: 'ret', timestamp: at(100), traits: { country: 'FR', email: 'ret@example.com' } })
  await h.send('/v1/track', { userId: 'ret', event: 'Old Thing', timestamp: at(400) })
  await h.send('/v1/track', { userId: 'ret', event: 'New Thing', timestamp: at(10) })
  for (let i = 0; i < 30; i++) {
    const res = await h.send('/v1/identify', { userId: `u${i}`, traits: { plan: i < 20 ? 'pro' : 'free', email: `u${i}@example.com` } })
    expect(res.status).toBe(200)
  }
  for (let i = 0; i < 40; i++) expect((await h.send('/v1/identify', { userId: `obj${i}`, traits: { plan: 'objector' } })).status).toBe(200)
  await h.drain()
})

afterAll(async () => {
  await h?.close()
})

describe('differentially private counts', () => {
  it('answers a noisy count near the truth and reports the budget left', async () => {
    const res = await count('analyst', 'traits.plan = "pro"', '1')
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(Math.abs(res.body.count - 20)).toBeLessThan(25) // P(|noise| >= 25) at ε = 1 is about 3e-11
    expect(res.body.budget.remaining).toBe(1)
    const audit = await fetch(`${h.url}/v1/audit/entries?kind=stats.count`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    const text = await audit.text()
    expect(audit.status, text).toBe(200)
    expect(text).toMatch(/traits\.plan/)
    expect(text).toMatch(/"epsilon":"1"/)
    expect(text).not.toMatch(/"pro"/) // the filter's values are not logged
  })

  it('refuses an invalid ε with 400 and spends nothing', async () => {
    for (const eps of ['0', '-1', 'NaN', 'Infinity', '1e-3', '1.5', '']) {
      const res = await count('analyst2', '', eps)
      expect(res.status, eps).toBe(400)
    }
    expect((await count('analyst2', '', '1')).body.budget.remaining).toBe(1)
  })

  it('refuses once the budget is exhausted, per token', async () => {
    expect((await count('analyst2', '', '1')).status).toBe(200)
    const refused = await count('analyst2', '', '0.000001')
    expect(refused.status).toBe(403)
    expect(refused.body.message).toMatch(/privacy budget of analyst-2 is exhausted/)
    expect((await count('analyst', '', '0.5')).status).toBe(200) // another token still has budget
  })

  it('does not count people who objected to the purpose the count is for', async () => {
    // 40 people, then all of them object to analytics through the consent API: a count for analytics leaves them out.
    const before = await count('analyst3', 'traits.plan = "objector"', '0.5')
    expect(before.status, JSON.stringify(before.body)).toBe(200)
    expect(before.body.count).toBeGreaterThan(20) // truth 40; P(noise <= -20) at ε = 0.5 is about 5e-5
    expect(before.body).toMatchObject({ consentPurposes: ['analytics'] })
    for (let i = 0; i < 40; i++) expect((await h.send('/v1/consent', { identifiers: [`user_id:obj${i}`], purposes: { analytics: false } })).status).toBe(200)
    const after = await count('analyst3', 'traits.plan = "objector"', '1')
    expect(after.status, JSON.stringify(after.body)).toBe(200)
    expect(after.body.count).toBeLessThan(20) // truth 0; P(noise >= 20) at ε = 1 is about 2e-9
    // Nobody else is left out: the 20 "pro" profiles are still counted.
    const pro = await count('analyst3', 'traits.plan = "pro"', '0.5')
    expect(pro.body.count).toBeGreaterThan(5)
  })

  it('needs clear access to every field the filter names, and refuses region-bound tokens', async () => {
    const masked = await count('analyst', 'traits.email = "u1@example.com"', '0.1')
    expect(masked.status).toBe(403)
    expect(masked.body.message).toMatch(/clear read access to contact/)
    expect((await count('marketer', '', '0.1', 'marketing')).status).toBe(403) // no readStats for marketers
    expect((await count('analystEu', '', '0.1')).status).toBe(403)
    expect((await count('analyst', 'traits.plan = pro', '0.1')).status).toBe(400)
  })
})

describe('retention', () => {
  it('deletes exactly the expired categories (dry run first), through the CLI, and audits the counts', async () => {
    const profile = async (): Promise<{ id: string; traits: Record<string, unknown> }> =>
      (await h.admin<{ id: string; traits: Record<string, unknown> }>('/v1/profiles?identifier=user_id:ret')).body
    const events = async (id: string): Promise<string[]> =>
      (await h.admin<{ events: { event: { event?: string } }[] }>(`/v1/profiles/${id}/events`)).body.events.map((e) => e.event.event ?? '(identify)')
    const before = await profile()
    expect(before.traits.country).toBe('FR')
    expect(await events(before.id)).toEqual(expect.arrayContaining(['Old Thing', 'New Thing']))

    const dry = await cli('retention', 'run', '--dry-run', '--json', '--data-dir', h.dataDir)
    expect(dry.code, dry.out).toBe(0)
    expect(JSON.parse(dry.out)).toMatchObject({ dryRun: true, events: { behavioral: 1 }, traits: { location: 1 } })
    expect((await profile()).traits.country).toBe('FR')

    const run = await cli('retention', 'run', '--data-dir', h.dataDir)
    expect(run.code, run.out).toBe(0)
    expect(run.out).toMatch(/deleted timeline events: behavioral 1; trait values: location 1/)
    const after = await profile()
    expect(after.traits.country).toBeUndefined()
    expect(after.traits.email).toBe('ret@example.com') // contact: no schedule
    const left = await events(after.id)
    expect(left).toContain('New Thing')
    expect(left).not.toContain('Old Thing')

    const audit = await fetch(`${h.url}/v1/audit/entries?kind=retention.run`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    const text = await audit.text()
    expect(text).toMatch(/"location":1/)
    expect(text).not.toMatch(/FR|Old Thing/)
  })
})
