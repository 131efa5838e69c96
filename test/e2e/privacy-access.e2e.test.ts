/**
 * Privacy end to end, through the public API and CLI only: deny by default, forbid wins (property-style over
 * generated token/purpose combinations), masking modes, row-level rules, bypass attempts, the audit log and
 * its proofs, tampering detected by `tessera audit verify`, policy reload and fail-closed on a broken file.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { main } from '../../src/cli/main.js'
import { leafHash, verifyConsistency, verifyInclusion } from '../../src/governance/merkle.js'
import { tempDir } from '../support/factories.js'
import { ADMIN_TOKEN, startHarness, type Harness } from '../support/tessera-harness.js'

const TOKENS = {
  analyst: { name: 'analyst', token: 'tok_analyst_0123456789abcdef', roles: ['analyst'] },
  analystEu: { name: 'analyst-eu', token: 'tok_analyst_eu_0123456789abc', roles: ['analyst'], attributes: { region: 'EU' } },
  marketer: { name: 'marketer', token: 'tok_marketer_0123456789abcde', roles: ['marketer'] },
  support: { name: 'support', token: 'tok_support_0123456789abcdef', roles: ['support'], purpose: 'support' },
  supportEu: { name: 'support-eu', token: 'tok_support_eu_0123456789abc', roles: ['support'], attributes: { region: 'EU' }, purpose: 'support' },
  privacy: { name: 'privacy', token: 'tok_privacy_0123456789abcdef', roles: ['privacy_officer'] },
  nobody: { name: 'nobody', token: 'tok_nobody_0123456789abcdefg', roles: [] as string[] },
} as const
type TokenKey = keyof typeof TOKENS

interface ProfileBody {
  id: string
  traits: Record<string, unknown>
  identities: { type: string; value: string }[]
  eventCount?: number
}
interface ErrorBody { code: string; message: string }

const policyDir = tempDir()
const dataDir = tempDir()
let h: Harness
let eu: string
let us: string

async function get<T = Record<string, unknown>>(token: TokenKey | 'admin', path: string, purpose?: string): Promise<{ status: number; body: T; headers: Headers }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token === 'admin' ? ADMIN_TOKEN : TOKENS[token].token}` }
  if (purpose !== undefined) headers['x-tessera-purpose'] = purpose
  const res = await fetch(h.url + path, { headers })
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

beforeAll(async () => {
  h = await startHarness({
    adminTokens: Object.values(TOKENS).map((t) => ({ ...t, roles: [...t.roles] })),
    governance: {
      policies: { dir: policyDir.dir },
      classification: { fields: { 'traits.diagnosis': { category: 'health', sensitivity: 'restricted' } } },
      audit: { checkpointEvery: 20 },
    },
  }, dataDir.dir)
  const send = async (path: string, body: unknown): Promise<void> => {
    const res = await h.send(path, body)
    expect(res.status, await res.clone().text()).toBe(200)
  }
  await send('/v1/identify', {
    userId: 'u-eu', traits: {
      email: 'eva@example.eu', name: 'Eva Muster', age: 40, plan: 'pro', diagnosis: 'flu', favouriteColour: 'green',
      address: { country: 'DE', city: 'Berlin', street: 'Hauptstr. 1' }, 'ｅｍａｉｌ': 'eva.fullwidth@example.eu', 'e\u200bmail': 'eva.zw@example.eu',
    },
  })
  await send('/v1/track', { userId: 'u-eu', event: 'Order Completed', properties: { revenue: 1234.5, product_id: 'sku-1' }, context: { ip: '203.0.113.9' } })
  await send('/v1/identify', { userId: 'u-us', traits: { email: 'uma@example.com', address: { country: 'US' }, plan: 'basic' } })
  await h.drain()
  eu = (await get<ProfileBody>('admin', '/v1/profiles?identifier=user_id:u-eu')).body.id
  us = (await get<ProfileBody>('admin', '/v1/profiles?identifier=user_id:u-us')).body.id
})

afterAll(async () => {
  await h?.close()
  policyDir.cleanup()
  dataDir.cleanup()
})

describe('access policy on admin reads', () => {
  it('denies by default: a token without a permitting role gets 403 with the reason', async () => {
    const res = await get<ErrorBody>('nobody', `/v1/profiles/${eu}`, 'analytics')
    expect(res.status).toBe(403)
    expect(res.body.message).toMatch(/not allowed for purpose analytics \(no policy permits it\)/)
    expect((await get('nobody', '/v1/stats', 'analytics')).status).toBe(403)
    expect((await get('analyst', `/v1/profiles/${eu}`, 'marketing')).status).toBe(403) // a purpose the role has no permit for
  })

  it('needs a configured purpose, and holds a token to its bound purpose', async () => {
    expect((await get<ErrorBody>('analyst', `/v1/profiles/${eu}`)).body.message).toMatch(/X-Tessera-Purpose/)
    expect((await get<ErrorBody>('analyst', `/v1/profiles/${eu}`, 'curiosity')).status).toBe(400)
    expect((await get<ErrorBody>('analyst', `/v1/profiles/${eu}`, 'analytics" || true || "')).status).toBe(400)
    expect((await get('support', `/v1/profiles/${eu}`)).status).toBe(200) // bound purpose: no header needed
    const other = await get<ErrorBody>('support', `/v1/profiles/${eu}`, 'marketing')
    expect(other.status).toBe(403)
    expect(other.body.message).toMatch(/bound to the purpose "support"/)
  })

  it('masks as the deciding policy says: hash for analysts, partial for marketers, clear for support', async () => {
    const a = await get<ProfileBody>('analyst', `/v1/profiles/${eu}`, 'analytics')
    expect(a.status).toBe(200)
    expect(a.headers.get('x-tessera-access')).toMatch(/^partial; masked=\d+; removed=\d+$/)
    const t = a.body.traits
    expect(t.email).toMatch(/^hmac:[A-Za-z0-9_-]{22}$/)
    expect(t.name).toMatch(/^hmac:/)
    expect(t.age).toBe('[redacted]')
    expect(t.plan).toBe('pro')
    expect(t.address).toEqual({ country: 'DE', city: 'Berlin', street: expect.stringMatching(/^hmac:/) })
    expect(t).not.toHaveProperty('diagnosis') // restricted: removed
    expect(t).not.toHaveProperty('favouriteColour') // unclassified: removed for analysts
    expect(a.body.identities.find((i) => i.type === 'user_id')?.value).toMatch(/^hmac:/)
    // Keyed hashes are stable: the same value hashes the same on every read.
    expect((await get<ProfileBody>('analyst', `/v1/profiles/${eu}`, 'analytics')).body.traits.email).toBe(t.email)

    const m = (await get<ProfileBody>('marketer', `/v1/profiles/${eu}`, 'marketing')).body
    expect(m.traits.email).toBe('e***@example.eu')
    expect(m.traits.age).toBe(40)
    const s = (await get<ProfileBody>('support', `/v1/profiles/${eu}`)).body
    expect(s.traits.email).toBe('eva@example.eu')
    expect(s.traits.favouriteColour).toBe('[redacted]')
  })

  it('filters event timelines field by field', async () => {
    type Events = { events: { event: { properties?: Record<string, unknown>; context?: Record<string, unknown>; userId?: unknown } }[] }
    const order = (body: Events) => body.events.find((e) => e.event.properties?.product_id === 'sku-1')!.event
    const support = order((await get<Events>('support', `/v1/profiles/${eu}/events`)).body)
    expect(support.properties!.revenue).toBe('1000–10000') // partial financial
    expect(support.context!.ip).toMatch(/^hmac:/)
    expect(support.userId).toBe('u-eu')
    const marketer = order((await get<Events>('marketer', `/v1/profiles/${eu}/events`, 'marketing')).body)
    expect(marketer.properties).not.toHaveProperty('revenue') // guardrail: no financial data for marketing
    expect(marketer.userId).toBe('u***')
  })

  it('keeps restricted data for a privacy officer handling a privacy request', async () => {
    expect((await get<ProfileBody>('privacy', `/v1/profiles/${eu}`, 'privacy_request')).body.traits.diagnosis).toBe('flu')
    expect((await get<ProfileBody>('admin', `/v1/profiles/${eu}`)).body.traits).not.toHaveProperty('diagnosis')
    expect((await get('privacy', `/v1/profiles/${eu}`, 'audit')).status).toBe(403)
  })

  it('applies row-level rules: a token for the EU sees only EU-resident profiles', async () => {
    expect((await get('analystEu', `/v1/profiles/${eu}`, 'analytics')).status).toBe(200)
    const denied = await get<ErrorBody>('analystEu', `/v1/profiles/${us}`, 'analytics')
    expect(denied.status).toBe(403)
    expect(denied.body.message).toMatch(/region-bound-tokens/)
    expect((await get('analystEu', `/v1/profiles/${us}/events`, 'analytics')).status).toBe(403)
    expect((await get('analystEu', `/v1/profiles/${us}/identities`, 'analytics')).status).toBe(403)
    // By identifier, a profile in another region answers exactly like one that does not exist.
    expect((await get('supportEu', '/v1/profiles?identifier=email:eva@example.eu')).status).toBe(200)
    expect((await get('supportEu', '/v1/profiles?identifier=email:uma@example.com')).status).toBe(404)
    expect((await get('supportEu', '/v1/profiles?identifier=email:nobody@example.com')).status).toBe(404)
  })

  it('refuses bypasses: lookups by a masked field, filter and sort parameters, prototype keys, look-alike names, injected ids', async () => {
    // The analyst sees e-mails hashed, so may not search by them: the same 403 whether the address exists or not.
    for (const email of ['eva@example.eu', 'nobody@example.com']) {
      const res = await get<ErrorBody>('analyst', `/v1/profiles?identifier=email:${email}`, 'analytics')
      expect(res.status).toBe(403)
      expect(res.body.message).toMatch(/needs clear read access to contact data/)
    }
    for (const q of ['sort=traits.email', 'filter[traits.email]=eva%40example.eu', 'orderBy=email', '__proto__[admin]=1', 'constructor[prototype][x]=1']) {
      expect((await get('analyst', `/v1/profiles/${eu}?${q}`, 'analytics')).status, q).toBe(400)
      expect((await get('analyst', `/v1/profiles/${eu}/events?${q}`, 'analytics')).status, q).toBe(400)
    }
    // `__proto__` never reaches a profile (ingest refuses it); `constructor` is a plain, unclassified trait.
    const poisoned = await h.send('/v1/identify', '{"userId":"u-x","traits":{"__proto__":{"isAdmin":true}}}')
    expect(poisoned.status).toBe(400)
    const ctor = await h.send('/v1/identify', '{"userId":"u-x","traits":{"email":"x@example.org","constructor":{"prototype":{"isAdmin":true}}}}')
    expect(ctor.status).toBe(200)
    await h.drain()
    const x = (await get<ProfileBody>('admin', '/v1/profiles?identifier=user_id:u-x')).body.id
    const asAnalyst = (await get<ProfileBody>('analyst', `/v1/profiles/${x}`, 'analytics')).body.traits
    expect(Object.keys(asAnalyst)).toEqual(['email']) // unclassified: removed, not a way around the filter
    const asSupport = (await get<ProfileBody>('support', `/v1/profiles/${x}`)).body.traits
    expect(asSupport.constructor).toEqual({ prototype: { isAdmin: '[redacted]' } })
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined()
    // Look-alike names are classified as what they look like (full-width, zero-width): hashed, not clear.
    const t = (await get<ProfileBody>('analyst', `/v1/profiles/${eu}`, 'analytics')).body.traits
    expect(t['ｅｍａｉｌ']).toMatch(/^hmac:/)
    expect(t['e\u200bmail']).toMatch(/^hmac:/)
    expect(JSON.stringify(t)).not.toMatch(/example\.eu/)
    // Injected ids are data, never policy text.
    for (const id of ['") || true; //', `${eu}" || principal == principal || "`, '*']) {
      const res = await get('analyst', `/v1/profiles/${encodeURIComponent(id)}`, 'analytics')
      expect(res.status, id).toBe(404)
    }
  })

  it('never shows restricted data or another region, for any token and purpose (property over generated requests)', async () => {
    const keys = Object.keys(TOKENS) as TokenKey[]
    const purposes = ['administration', 'analytics', 'marketing', 'support', 'privacy_request', 'audit', 'security']
    await fc.assert(fc.asyncProperty(fc.constantFrom(...keys, 'admin' as const), fc.constantFrom(...purposes), fc.constantFrom('eu', 'us'), async (token, purpose, which) => {
      const bound = token === 'admin' || ('purpose' in (TOKENS[token as TokenKey] ?? {}))
      const res = await get<ProfileBody>(token, `/v1/profiles/${which === 'eu' ? eu : us}`, bound ? undefined : purpose)
      if (res.status !== 200) {
        expect([400, 403]).toContain(res.status)
        return
      }
      const text = JSON.stringify(res.body)
      if (!(token === 'privacy' && purpose === 'privacy_request')) expect(text).not.toContain('flu')
      if (token === 'analystEu' || token === 'supportEu') expect(which).toBe('eu')
      if (token === 'nobody') throw new Error('a token without roles read a profile')
    }), { numRuns: 40 })
  })
})

describe('audit log through the API', () => {
  interface Entry { seq: number; leafHash: string; text: string; entry: Record<string, unknown> }
  interface Checkpoint { treeSize: number; rootHash: string; note: string; publicKey: string }

  it('records every read with who, purpose, legal basis, decision, fields and policies, searchable per person', async () => {
    await get('analyst', `/v1/profiles/${eu}`, 'analytics')
    await get('nobody', `/v1/profiles/${eu}`, 'analytics')
    const res = await get<{ entries: Entry[] }>('privacy', `/v1/audit/entries?profileId=${encodeURIComponent(eu)}&limit=1000`, 'audit')
    expect(res.status).toBe(200)
    const entries = res.body.entries.map((e) => e.entry)
    expect(entries.every((e) => (e.subjects as string[]).includes(eu))).toBe(true)
    const analystRead = entries.findLast((e) => (e.actor as { id: string }).id === 'analyst')!
    expect(analystRead).toMatchObject({
      kind: 'admin.read', action: 'GET /v1/profiles/:id', purpose: 'analytics', legalBasis: 'legitimate_interest', decision: 'partial',
      policyIds: expect.arrayContaining(['analyst-view-profiles', 'analyst-pseudonymous-ids']),
    })
    expect(analystRead.fields).toEqual(expect.arrayContaining([{ category: 'contact', decision: 'mask', mask: 'hash', paths: expect.arrayContaining(['traits.email']) }]))
    expect(entries.findLast((e) => (e.actor as { id: string }).id === 'nobody')).toMatchObject({ decision: 'deny' })
    expect(JSON.stringify(entries)).not.toContain(TOKENS.analyst.token) // tokens are never logged
    expect((await get<{ entries: Entry[] }>('privacy', '/v1/audit/entries?principal=nobody', 'audit')).body.entries.length).toBeGreaterThan(0)
    // Reading the audit log is itself policy-gated and audited.
    expect((await get('analyst', '/v1/audit/entries', 'analytics')).status).toBe(403)
    const own = await get<{ entries: Entry[] }>('privacy', '/v1/audit/entries?kind=audit.read&limit=1000', 'audit')
    expect(own.body.entries.length).toBeGreaterThan(0)
  })

  it('proves inclusion of an entry and consistency between two signed checkpoints', async () => {
    const first = (await get<Checkpoint>('analyst', '/v1/audit/checkpoint')).body
    await get('analyst', `/v1/profiles/${eu}`, 'analytics')
    const second = (await get<Checkpoint>('analyst', '/v1/audit/checkpoint')).body
    expect(second.treeSize).toBeGreaterThan(first.treeSize)
    expect(second.note.split('\n').slice(0, 3)).toEqual(['tessera/audit', String(second.treeSize), Buffer.from(second.rootHash, 'hex').toString('base64')])
    const c = (await get<{ proof: string[] }>('analyst', `/v1/audit/proof/consistency?from=${first.treeSize}&to=${second.treeSize}`)).body
    const hex = (l: string[]) => l.map((x) => Buffer.from(x, 'hex'))
    expect(verifyConsistency(first.treeSize, second.treeSize, Buffer.from(first.rootHash, 'hex'), Buffer.from(second.rootHash, 'hex'), hex(c.proof))).toBe(true)
    const entry = (await get<{ entries: Entry[] }>('privacy', `/v1/audit/entries?after=${first.treeSize - 2}&limit=1`, 'audit')).body.entries[0]!
    const p = (await get<{ proof: string[] }>('analyst', `/v1/audit/proof/inclusion?index=${entry.seq}&treeSize=${second.treeSize}`)).body
    expect(verifyInclusion(entry.seq, second.treeSize, leafHash(Buffer.from(entry.text)), hex(p.proof), Buffer.from(second.rootHash, 'hex'))).toBe(true)
    expect((await get('analyst', `/v1/audit/proof/inclusion?index=${second.treeSize + 5}&treeSize=${second.treeSize}`)).status).toBe(400)
  })
})

describe('policy reload', () => {
  const reload = async (token = ADMIN_TOKEN): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${h.url}/v1/admin/policies/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }

  it('applies a new policy without a restart, and fails closed on a broken file until it is fixed', async () => {
    expect((await get<ProfileBody>('analyst', `/v1/profiles/${eu}`, 'analytics')).body.traits.plan).toBe('pro')
    expect((await reload(TOKENS.analyst.token)).status).toBe(403)
    writeFileSync(join(policyDir.dir, 'local.cedar'), '@id("no-behaviour-for-analysts")\nforbid (principal in Tessera::Role::"analyst", action == Tessera::Action::"readField", resource)\nwhen { context.category == "behavioral" };\n')
    expect((await reload()).body).toMatchObject({ ok: true, policies: expect.arrayContaining(['no-behaviour-for-analysts']) })
    expect((await get<ProfileBody>('analyst', `/v1/profiles/${eu}`, 'analytics')).body.traits).not.toHaveProperty('plan')

    writeFileSync(join(policyDir.dir, 'local.cedar'), '// oops\n@id("broken")\npermit (principal, action, resource)\nwhen { context.purpose == };\n')
    const broken = await reload()
    expect(broken.status).toBe(400)
    expect(broken.body.message).toMatch(/local\.cedar:4:\d+: unexpected token/)
    const denied = await get<ErrorBody>('admin', `/v1/profiles/${eu}`)
    expect(denied.status).toBe(403)
    expect(denied.body.message).toMatch(/the policy set failed to load: .*local\.cedar:4/)
    expect((await reload(TOKENS.privacy.token)).status).toBe(403) // while broken, only the admin role may reload

    writeFileSync(join(policyDir.dir, 'local.cedar'), '// fixed\n')
    expect((await reload()).status).toBe(200)
    expect((await get<ProfileBody>('analyst', `/v1/profiles/${eu}`, 'analytics')).body.traits.plan).toBe('pro')
    const reloads = (await get<{ entries: { entry: { decision: string } }[] }>('privacy', '/v1/audit/entries?kind=policy.reload&limit=100', 'audit')).body.entries
    expect(reloads.map((e) => e.entry.decision)).toEqual(expect.arrayContaining(['ok', 'error', 'deny']))
  })

  // Signals go to the whole process: only where this file runs in its own child process (vitest's forks pool).
  it.skipIf(typeof process.send !== 'function')('reloads on SIGHUP', async () => {
    const before = (await get<{ entries: unknown[] }>('privacy', '/v1/audit/entries?kind=policy.reload&limit=1000', 'audit')).body.entries.length
    process.kill(process.pid, 'SIGHUP')
    await vi.waitFor(async () => {
      const after = (await get<{ entries: { entry: { action: string } }[] }>('privacy', '/v1/audit/entries?kind=policy.reload&limit=1000', 'audit')).body.entries
      expect(after.length).toBe(before + 1)
      expect(after.at(-1)!.entry.action).toBe('SIGHUP')
    }, { timeout: 5000 })
  })
})

describe('tampering with the audit store', () => {
  let pristine: string

  beforeAll(async () => {
    // Tamper while Tessera runs: the API's own proofs expose an edited entry against the signed root.
    const cp = (await get<{ treeSize: number; rootHash: string }>('admin', '/v1/audit/checkpoint')).body
    const db = new Database(join(dataDir.dir, 'audit.db'))
    db.exec('DROP TRIGGER audit_entries_no_update')
    const row = db.prepare('SELECT entry FROM audit_entries WHERE seq = 3').get() as { entry: string }
    db.prepare('UPDATE audit_entries SET entry = ? WHERE seq = 3').run(row.entry.replace(/"decision":"\w+"/, '"decision":"allow"').replace('"v":1', '"v":1 '))
    db.close()
    const entry = (await get<{ entries: { seq: number; text: string }[] }>('privacy', '/v1/audit/entries?after=2&limit=1', 'audit')).body.entries[0]!
    const proof = (await get<{ proof: string[] }>('admin', `/v1/audit/proof/inclusion?index=3&treeSize=${cp.treeSize}`)).body.proof.map((x) => Buffer.from(x, 'hex'))
    expect(verifyInclusion(3, cp.treeSize, leafHash(Buffer.from(entry.text)), proof, Buffer.from(cp.rootHash, 'hex'))).toBe(false)
    // Put it back, stop Tessera (which signs a final checkpoint), and keep the files.
    const fix = new Database(join(dataDir.dir, 'audit.db'))
    fix.prepare('UPDATE audit_entries SET entry = ? WHERE seq = 3').run(row.entry)
    fix.close()
    await h.tessera.close()
    pristine = join(dataDir.dir, 'audit.db')
  })

  const copy = (name: string): string => {
    const dir = join(dataDir.dir, `copy-${name}`)
    mkdirSync(dir, { recursive: true })
    copyFileSync(pristine, join(dir, 'audit.db'))
    copyFileSync(join(dataDir.dir, 'audit-signing-key.pem'), join(dir, 'audit-signing-key.pem'))
    return dir
  }
  const tamper = (dir: string, ...statements: [string, ...unknown[]][]): void => {
    const db = new Database(join(dir, 'audit.db'))
    db.exec('DROP TRIGGER IF EXISTS audit_entries_no_update; DROP TRIGGER IF EXISTS audit_entries_no_delete; DROP TRIGGER IF EXISTS audit_checkpoints_no_delete')
    for (const [sql, ...params] of statements) db.prepare(sql).run(...params)
    db.close()
  }

  it('verifies the untouched log', async () => {
    const { code, out } = await cli('audit', 'verify', '--data-dir', copy('clean'))
    expect(out).toMatch(/audit log intact: \d+ entries/)
    expect(code).toBe(0)
  })

  it('detects an edited entry', async () => {
    const dir = copy('edit')
    tamper(dir, ["UPDATE audit_entries SET entry = replace(entry, '\"decision\":\"deny\"', '\"decision\":\"allow\"') WHERE seq = (SELECT min(seq) FROM audit_entries WHERE entry LIKE '%\"decision\":\"deny\"%')"])
    const { code, out } = await cli('audit', 'verify', '--data-dir', dir)
    expect(code).toBe(1)
    expect(out).toMatch(/entry \d+ was edited/)
  })

  it('detects a deleted entry', async () => {
    const dir = copy('delete')
    tamper(dir, ['DELETE FROM audit_entries WHERE seq = 5'])
    const { code, out } = await cli('audit', 'verify', '--data-dir', dir)
    expect(code).toBe(1)
    expect(out).toMatch(/entries 5\.\.5 are missing/)
  })

  it('detects two reordered entries', async () => {
    const dir = copy('reorder')
    const db = new Database(join(dir, 'audit.db'), { readonly: true })
    const [a, b] = [4, 9].map((seq) => db.prepare('SELECT entry, leaf_hash FROM audit_entries WHERE seq = ?').get(seq) as { entry: string; leaf_hash: Buffer })
    db.close()
    tamper(dir, ['UPDATE audit_entries SET entry = ?, leaf_hash = ? WHERE seq = 4', b!.entry, b!.leaf_hash], ['UPDATE audit_entries SET entry = ?, leaf_hash = ? WHERE seq = 9', a!.entry, a!.leaf_hash])
    const { code, out } = await cli('audit', 'verify', '--data-dir', dir)
    expect(code).toBe(1)
    expect(out).toMatch(/does not match the stored entries/)
  })

  it('detects a truncated tail, also with the checkpoints cut, given a checkpoint saved elsewhere', async () => {
    const saved = join(dataDir.dir, 'saved-checkpoint.txt')
    expect((await cli('audit', 'checkpoint', '--data-dir', copy('save'), '--out', saved)).code).toBe(0)
    const dir = copy('truncate')
    tamper(dir, ['DELETE FROM audit_entries WHERE seq >= 10'])
    const cut = await cli('audit', 'verify', '--data-dir', dir)
    expect(cut.code).toBe(1)
    expect(cut.out).toMatch(/the log was truncated/)
    tamper(dir, ['DELETE FROM audit_checkpoints WHERE tree_size > 10'])
    expect((await cli('audit', 'verify', '--data-dir', dir, '--checkpoint', saved)).out).toMatch(/trusted checkpoint #1 covers \d+ entries but the store holds only 10/)
  })

  it('refuses to start on a log that no longer matches its signed checkpoint', async () => {
    const dir = copy('restart')
    tamper(dir, ['DELETE FROM audit_entries WHERE seq = 2'])
    await expect(startHarness({}, dir)).rejects.toThrow(/audit log does not match its latest signed checkpoint/)
  })
})
