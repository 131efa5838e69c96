/**
 * Data-subject requests end to end, through HTTP and the CLI: verification of the requester first (one-time code
 * through a real webhook receiver, or a privacy officer's attestation; limits, expiry, audit), access export
 * completeness, erasure proven with canary values absent from every store (also after `tessera replay`),
 * suppression of new events, deadlines with a fake clock, and only privacy officers and admins may handle requests.
 */
import { createHmac } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startTessera } from '../../src/app/tessera.js'
import { main } from '../../src/cli/main.js'
import { loadConfig } from '../../src/config/config.js'
import { tempDir } from '../support/factories.js'
import { filesHolding, readWholeLog } from '../support/log-canary.js'
import { ADMIN_TOKEN, WRITE_KEY, startHarness, type Harness } from '../support/tessera-harness.js'

const TOKENS = {
  privacy: { name: 'privacy', token: 'tok_privacy_0123456789abcdef', roles: ['privacy_officer'] },
  analyst: { name: 'analyst', token: 'tok_analyst_0123456789abcdef', roles: ['analyst'] },
} as const

const CANARY = {
  email: 'canary-7f3a9c@example.com', userId: 'canary-user-7f3a9c', trait: 'CANARY-TRAIT-7f3a9c', property: 'CANARY-PROP-7f3a9c',
  anonymousId: 'canary-anon-7f3a9c',
  // An internal trait: kept in clear in profiles.traits (counts filter on it), so it proves the scan reads the state.
  country: 'CANARY-COUNTRY-7f3a9c',
}

const data = tempDir()
let h: Harness

/** The company's notification service, as Tessera's verification webhook sees it: keeps every code it is sent. */
interface Receiver { url: string; messages: { requestId: string; identifier: string; code: string; expiresAt: string; signature: string; body: string }[]; failNext: boolean; server: Server }
async function startReceiver(): Promise<Receiver> {
  const r: Receiver = { url: '', messages: [], failNext: false, server: createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      if (r.failNext) {
        r.failNext = false
        res.statusCode = 503
        res.end()
        return
      }
      r.messages.push({ ...(JSON.parse(body) as { requestId: string; identifier: string; code: string; expiresAt: string }), signature: String(req.headers['x-tessera-signature']), body })
      res.statusCode = 204
      res.end()
    })
  }) }
  await new Promise<void>((done) => r.server.listen(0, '127.0.0.1', done))
  r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/tessera/codes`
  return r
}
let receiver: Receiver
const harnessConfig = (): Parameters<typeof startHarness>[0] => ({
  adminTokens: Object.values(TOKENS).map((t) => ({ ...t, roles: [...t.roles] })),
  governance: { dsar: { verification: { webhookUrl: receiver.url } } },
})

/** Verifies a request's requester the way a privacy officer does when the person proved it otherwise. */
async function attest(id: string): Promise<void> {
  const res = await call('POST', `/v1/privacy/requests/${id}/verification/attest`, { basis: 'account', evidence: 'request sent from the signed-in account; postcode matched' })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
}

async function call<T = Record<string, unknown>>(method: string, path: string, body?: unknown, token: keyof typeof TOKENS = 'privacy'): Promise<{ status: number; body: T }> {
  const res = await fetch(h.url + path, {
    method,
    headers: { authorization: `Bearer ${TOKENS[token].token}`, 'x-tessera-purpose': token === 'privacy' ? 'privacy_request' : 'analytics', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: res.status, body: (await res.json()) as T }
}

async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = []
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')))
  const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')))
  try {
    return { code: await main(args), out: lines.join('\n') }
  } finally {
    log.mockRestore()
    err.mockRestore()
  }
}

/** Every value of every row of every table of every SQLite store in the data directory, except the event log. */
function storeText(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const path = join(d, name)
      if (statSync(path).isDirectory()) {
        if (name !== 'log') walk(path) // the event log: see EVENT_LOG_NOTICE (item 4, encryption)
        continue
      }
      if (!name.endsWith('.db')) continue
      const db = new Database(path, { readonly: true })
      try {
        const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
        out.set(name, tables.map((t) => JSON.stringify(db.prepare(`SELECT * FROM "${t.name}"`).all(), (_, v: unknown) => (Buffer.isBuffer(v) ? v.toString('latin1') : v))).join('\n'))
      } finally {
        db.close()
      }
    }
  }
  walk(dir)
  return out
}

function storesHolding(value: string): string[] {
  return [...storeText(data.dir)].filter(([, text]) => text.includes(value)).map(([name]) => name)
}

beforeAll(async () => {
  receiver = await startReceiver()
  h = await startHarness(harnessConfig(), data.dir)
  const send = async (path: string, body: unknown): Promise<void> => {
    const res = await h.send(path, body)
    expect(res.status, await res.clone().text()).toBe(200)
  }
  await send('/v1/page', { anonymousId: CANARY.anonymousId, name: 'Home' })
  await send('/v1/identify', { userId: CANARY.userId, anonymousId: CANARY.anonymousId, traits: { email: CANARY.email, note: CANARY.trait, plan: 'pro', country: CANARY.country } })
  await send('/v1/track', { userId: CANARY.userId, event: 'Order Completed', properties: { order_id: CANARY.property, revenue: 10 } })
  await send('/v1/identify', { userId: 'bystander', traits: { email: 'bystander@example.com' } })
  await h.drain()
  // A read of the person's data, which the access export must list.
  expect((await h.admin(`/v1/profiles?identifier=email:${CANARY.email}`)).status).toBe(200)
})

afterAll(async () => {
  await h?.close()
  receiver?.server.closeAllConnections()
  await new Promise((r) => receiver?.server.close(r))
  data.cleanup()
})

describe('data-subject requests', () => {
  it('only privacy officers and admins may create requests', async () => {
    const refused = await call('POST', '/v1/privacy/requests', { type: 'access', identifier: `email:${CANARY.email}`, jurisdiction: 'EU' }, 'analyst')
    expect(refused.status).toBe(403)
    expect((await call('POST', '/v1/privacy/requests', { type: 'access', identifier: 'email:x@example.com', jurisdiction: 'US-TX' })).status).toBe(400)
    expect((await call('POST', '/v1/privacy/requests', { type: 'forget', identifier: 'email:x@example.com', jurisdiction: 'EU' })).status).toBe(400)
  })

  it('exports everything held on the person: profile, identities, events, consent and the audit entries of reads', async () => {
    const created = await call<{ id: string; status: string; regime: string }>('POST', '/v1/privacy/requests', { type: 'access', identifier: `email:${CANARY.email}`, jurisdiction: 'EU' })
    expect(created.status, JSON.stringify(created.body)).toBe(200)
    expect(created.body).toMatchObject({ status: 'received', regime: 'gdpr' })
    // The requester proves control of the address: the code goes to the webhook, comes back through the privacy officer.
    expect((await call('POST', `/v1/privacy/requests/${created.body.id}/verification/code`)).status).toBe(200)
    const sent = receiver.messages.at(-1)!
    expect((await call('POST', `/v1/privacy/requests/${created.body.id}/verification/confirm`, { code: sent.code })).status).toBe(200)
    const ran = await call<{ request: { status: string }; export: Record<string, unknown> }>('POST', `/v1/privacy/requests/${created.body.id}/run`)
    expect(ran.status, JSON.stringify(ran.body)).toBe(200)
    expect(ran.body.request.status).toBe('completed')
    const ex = ran.body.export as { profile: { traits: Record<string, unknown> }; identities: { type: string; value: string }[]; events: { type: string }[]; auditEntries: { entry: { kind: string } }[]; consent: Record<string, unknown> }
    expect(ex.profile.traits).toMatchObject({ email: CANARY.email, note: CANARY.trait })
    expect(ex.identities.map((i) => `${i.type}:${i.value}`).sort()).toEqual([`anonymous_id:${CANARY.anonymousId}`, `email:${CANARY.email}`, `user_id:${CANARY.userId}`])
    expect(ex.events.map((e) => e.type).sort()).toEqual(['identify', 'page', 'track'])
    expect(JSON.stringify(ex.events)).toContain(CANARY.property)
    expect(ex.auditEntries.some((a) => a.entry.kind === 'admin.read')).toBe(true)
    expect(Object.keys(ex.consent)).toContain(`email:${CANARY.email}`)
  })

  it('erases the person from every store, suppresses new events, and a replay does not bring them back', async () => {
    // Identifiers and sessions are stored pseudonymised, the confidential trait and the property sealed (the export
    // above showed them); the internal trait stays in clear in profiles.traits. (The access request of the test
    // before names the e-mail in privacy.db, until the erasure.)
    for (const v of [CANARY.email, CANARY.userId, CANARY.anonymousId, CANARY.trait, CANARY.property]) {
      expect(storesHolding(v).filter((s) => s !== 'privacy.db'), v).toEqual([])
    }
    expect(storesHolding(CANARY.country)).toEqual(['state.db'])
    const config = loadConfig({ env: {}, overrides: { dataDir: data.dir } })
    // Encryption at rest: the log files (and their WAL) never hold a canary in the clear, yet the keyring opens them.
    for (const v of Object.values(CANARY)) expect(filesHolding(data.dir, v, (f) => f.startsWith('log/') || f.startsWith('keys.db')), v).toEqual([])
    const before = await readWholeLog(config)
    for (const v of Object.values(CANARY)) expect(before.readable.some((text) => text.includes(v)), v).toBe(true)
    expect(before.shredded).toBe(0)
    const logHolding = async (): Promise<string[]> => {
      const { readable } = await readWholeLog(config)
      return Object.values(CANARY).filter((v) => readable.some((text) => text.includes(v)))
    }
    const created = await call<{ id: string }>('POST', '/v1/privacy/requests', { type: 'erasure', identifier: `user_id:${CANARY.userId}`, jurisdiction: 'US-CA' })
    await attest(created.body.id)
    // Run through the CLI, as a privacy officer does: `tessera dsar run <id>`.
    const run = await cli('dsar', 'run', created.body.id, '--url', h.url, '--token', TOKENS.privacy.token, '--json')
    expect(run.code, run.out).toBe(0)
    const ran = { body: JSON.parse(run.out) as { request: { status: string; identifier: string; result: { deleted: Record<string, number> } }; notice: string } }
    expect(ran.body.request.status).toBe('completed')
    expect(ran.body.request.identifier).toBe('(erased)')
    // One profile row, or two when the pipeline saw the logged-in track before the identify that linked the
    // devices (then the anonymous profile merged into the user's and left a pointer row): both are the person's.
    expect(ran.body.request.result.deleted.profiles).toBeGreaterThanOrEqual(1)
    expect(ran.body.request.result.deleted.profiles).toBeLessThanOrEqual(2)
    expect(ran.body.notice).toMatch(/crypto-shredding/)
    expect((ran.body.request.result as { shreddedDataKeys?: number }).shreddedDataKeys).toBeGreaterThanOrEqual(3) // anonymousId, userId, profile id(s)
    for (const v of Object.values(CANARY)) expect(storesHolding(v), v).toEqual([])
    // Crypto-shredding: no record of the person opens any more (the bystander's still do), and no canary is in the clear.
    expect(await logHolding()).toEqual([])
    const after = await readWholeLog(config)
    expect(after.shredded).toBeGreaterThanOrEqual(before.readable.filter((t) => t.includes(CANARY.userId) || t.includes(CANARY.anonymousId)).length)
    expect(after.readable.some((t) => t.includes('bystander@example.com'))).toBe(true)
    // The raw bytes of every file of the data directory (stores, their WAL, log files, keys): no canary left.
    for (const v of Object.values(CANARY)) expect(filesHolding(data.dir, v), v).toEqual([])
    expect((await h.admin(`/v1/profiles?identifier=email:${CANARY.email}`)).status).toBe(404)
    expect((await h.admin('/v1/profiles?identifier=user_id:bystander')).status).toBe(200)

    // A new event with the same identifiers is dropped by the suppress stage.
    expect((await h.send('/v1/track', { userId: CANARY.userId, event: 'Came Back', properties: { order_id: CANARY.property } })).status).toBe(200)
    expect((await h.send('/v1/identify', { anonymousId: 'fresh-device', traits: { email: CANARY.email } })).status).toBe(200)
    await h.drain()
    expect((await h.admin(`/v1/profiles?identifier=user_id:${CANARY.userId}`)).status).toBe(404)
    for (const v of Object.values(CANARY)) expect(storesHolding(v), v).toEqual([])
    // The suppress stage shredded the keys of the events it dropped: they do not stay readable in the log either.
    expect(await logHolding()).toEqual([])

    await h.close()
    const replay = await cli('replay', '--from', 'earliest', '--data-dir', data.dir)
    expect(replay.code, replay.out).toBe(0)
    for (const v of Object.values(CANARY)) expect(storesHolding(v), `after replay: ${v}`).toEqual([])
    expect(await logHolding()).toEqual([])
    for (const v of Object.values(CANARY)) expect(filesHolding(data.dir, v), `after replay: ${v}`).toEqual([])
    h = await startHarness(harnessConfig(), data.dir)
    expect((await h.admin('/v1/profiles?identifier=user_id:bystander')).status).toBe(200)
    expect((await h.admin(`/v1/profiles?identifier=email:${CANARY.email}`)).status).toBe(404)
  })

  it('records an opt-out of sale/sharing and advertising, and applies a correction through the pipeline', async () => {
    const opt = await call<{ id: string; dueAt: string; receivedAt: string }>('POST', '/v1/privacy/requests', { type: 'opt_out', identifier: 'user_id:bystander', jurisdiction: 'US-CA' })
    expect(opt.status).toBe(200)
    const ranOpt = await call<{ request: { result: { purposes: string[] } } }>('POST', `/v1/privacy/requests/${opt.body.id}/run`)
    expect(ranOpt.status, JSON.stringify(ranOpt.body)).toBe(200)
    expect(ranOpt.body.request.result.purposes).toEqual(['sale_share', 'advertising'])
    const consent = await fetch(`${h.url}/v1/consent?identifier=user_id:bystander`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    const c = (await consent.json()) as { effective: Record<string, { state: string }> }
    expect(c.effective.sale_share?.state).toBe('denied')
    expect(c.effective.advertising?.state).toBe('denied')

    const fix = await call<{ id: string }>('POST', '/v1/privacy/requests', { type: 'correct', identifier: 'user_id:bystander', jurisdiction: 'EU', traits: { firstName: 'Corrected' } })
    expect(fix.status, JSON.stringify(fix.body)).toBe(200)
    await attest(fix.body.id)
    expect((await call('POST', `/v1/privacy/requests/${fix.body.id}/run`)).status).toBe(200)
    await h.drain()
    const p = await h.admin<{ traits: Record<string, unknown> }>('/v1/profiles?identifier=user_id:bystander')
    expect(p.body.traits.firstName).toBe('Corrected')
    expect((await call('POST', `/v1/privacy/requests/${fix.body.id}/run`)).status).toBe(409) // already completed
  })

  it('lists and shows requests through the CLI', async () => {
    const env = { TESSERA_ADMIN_TOKEN: TOKENS.privacy.token }
    const list = await cli('dsar', 'list', '--url', h.url, '--token', env.TESSERA_ADMIN_TOKEN)
    expect(list.code, list.out).toBe(0)
    expect(list.out).toMatch(/opt_out\s+completed/)
    const created = await cli('dsar', 'create', '--type', 'access', '--identifier', 'user_id:bystander', '--jurisdiction', 'US-CA', '--url', h.url, '--token', env.TESSERA_ADMIN_TOKEN)
    expect(created.code, created.out).toBe(0)
    const id = /([0-9a-f-]{36})/.exec(created.out)![1]!
    const status = await cli('dsar', 'status', id, '--url', h.url, '--token', env.TESSERA_ADMIN_TOKEN)
    expect(status.out).toMatch(/received.*due/)
    expect(status.out).toMatch(/acknowledge by \S+Z {2}verification pending/)
    const acked = await cli('dsar', 'acknowledge', id, '--via', 'letter to the postal address on file', '--url', h.url, '--token', env.TESSERA_ADMIN_TOKEN)
    expect(acked.code, acked.out).toBe(0)
    expect(acked.out).toMatch(/acknowledged \S+Z {2}verification/)
    const again = await cli('dsar', 'acknowledge', id, '--url', h.url, '--token', env.TESSERA_ADMIN_TOKEN)
    expect(again.code).toBe(1)
    expect(again.out).toMatch(/409 .*acknowledged already/)
    const noReason = await cli('dsar', 'extend', id, '--url', h.url, '--token', env.TESSERA_ADMIN_TOKEN)
    expect(noReason.out).toMatch(/extend needs a request id and --reason/)
    const extended = await cli('dsar', 'extend', id, '--reason', 'the request covers records in three archived systems', '--via', 'e-mail',
      '--url', h.url, '--token', env.TESSERA_ADMIN_TOKEN)
    expect(extended.code, extended.out).toBe(0)
    expect(extended.out).toMatch(/extended from \S+Z/)
    const early = await cli('dsar', 'run', id, '--url', h.url, '--token', env.TESSERA_ADMIN_TOKEN)
    expect(early.code).toBe(1)
    expect(early.out).toMatch(/403 .*cannot run before its requester is verified/)
    const sent = await cli('dsar', 'verify', id, '--send-code', '--url', h.url, '--token', env.TESSERA_ADMIN_TOKEN)
    expect(sent.code, sent.out).toBe(0)
    expect(sent.out).toMatch(/verification code_sent/)
    const confirmed = await cli('dsar', 'verify', id, '--code', receiver.messages.at(-1)!.code, '--url', h.url, '--token', env.TESSERA_ADMIN_TOKEN)
    expect(confirmed.code, confirmed.out).toBe(0)
    expect(confirmed.out).toMatch(/verification verified \(code\)/)
    const run = await cli('dsar', 'run', id, '--url', h.url, '--token', env.TESSERA_ADMIN_TOKEN, '--json')
    expect(run.code, run.out).toBe(0)
    expect(JSON.parse(run.out).export.identities).toContainEqual({ type: 'user_id', value: 'bystander', firstSeen: expect.any(String) })
  })
})

interface VerificationView { status: string; method: string | null; verifiedBy: string | null; attemptsLeft: number | null; codesLeft: number; channel: string | null }

describe('verifying the requester before a request runs', () => {
  const confirm = (id: string, code: string): Promise<{ status: number; body: { message: string; verification: VerificationView } }> =>
    call('POST', `/v1/privacy/requests/${id}/verification/confirm`, { code })

  it('refuses to run an unverified request, sends signed codes to the webhook, counts attempts, locks, and audits every step without the code', async () => {
    const created = await call<{ id: string; verification: VerificationView }>('POST', '/v1/privacy/requests', { type: 'access', identifier: 'email:bystander@example.com', jurisdiction: 'EU' })
    expect(created.body.verification).toMatchObject({ status: 'pending', codesLeft: 3, channel: expect.stringMatching(/^webhook http:\/\/127\.0\.0\.1:\d+$/) })
    const id = created.body.id
    const early = await call<{ message: string }>('POST', `/v1/privacy/requests/${id}/run`)
    expect(early.status).toBe(403)
    expect(early.body.message).toMatch(/cannot run before its requester is verified/)
    expect((await confirm(id, '12345678')).status).toBe(409) // no code out yet

    // The code goes to the identifier the request names, signed with the webhook secret.
    const sent = await call<{ verification: VerificationView }>('POST', `/v1/privacy/requests/${id}/verification/code`)
    expect(sent.status).toBe(200)
    expect(sent.body.verification).toMatchObject({ status: 'code_sent', attemptsLeft: 5, codesLeft: 2 })
    const msg = receiver.messages.at(-1)!
    expect(msg).toMatchObject({ requestId: id, identifier: 'email:bystander@example.com', code: expect.stringMatching(/^\d{8}$/) })
    const secret = Buffer.from(readFileSync(join(data.dir, 'dsar-webhook.key'), 'utf8').trim(), 'hex')
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(msg.signature)!
    expect(v1).toBe(createHmac('sha256', secret).update(`${t}.${msg.body}`).digest('hex'))

    // Wrong codes each count; the fifth locks the code, after which even the right one does not verify.
    const wrong = msg.code === '00000000' ? '11111111' : '00000000'
    for (let left = 4; left >= 1; left--) {
      const res = await confirm(id, wrong)
      expect(res.status).toBe(403)
      expect(res.body.message).toMatch(new RegExp(`wrong code .*; ${left} attempts? left`))
    }
    expect((await confirm(id, wrong)).body.message).toMatch(/no attempts left on this code/)
    expect((await confirm(id, msg.code)).status).toBe(409)
    expect((await call<{ verification: VerificationView }>('GET', `/v1/privacy/requests/${id}`)).body.verification.status).toBe('locked')

    // A webhook that fails: 502, and the code is withdrawn (it was never delivered).
    receiver.failNext = true
    const failed = await call<{ code: string; message: string }>('POST', `/v1/privacy/requests/${id}/verification/code`)
    expect(failed.status).toBe(502)
    expect(failed.body).toMatchObject({ code: 'TESSERA_UPSTREAM', message: expect.stringMatching(/answered 503/) })
    expect((await call<{ verification: VerificationView }>('GET', `/v1/privacy/requests/${id}`)).body.verification).toMatchObject({ status: 'pending', codesLeft: 1 })

    // The last code allowed: the right one verifies; a further code is refused.
    expect((await call('POST', `/v1/privacy/requests/${id}/verification/code`)).status).toBe(200)
    const ok = await confirm(id, receiver.messages.at(-1)!.code.replace(/^(\d{4})/, '$1 '))
    expect(ok.status, JSON.stringify(ok.body)).toBe(200)
    expect(ok.body.verification).toMatchObject({ status: 'verified', method: 'code', verifiedBy: 'token:privacy', codesLeft: 0 })
    expect((await call('POST', `/v1/privacy/requests/${id}/verification/code`)).status).toBe(409)
    expect((await call('POST', `/v1/privacy/requests/${id}/run`)).status).toBe(200)

    const audit = await fetch(`${h.url}/v1/audit/entries?kind=dsar.verification&limit=1000`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    const entries = ((await audit.json()) as { entries: { text: string; entry: { decision: string; detail: { requestId: string; step: string } } }[] }).entries
      .filter((e) => e.entry.detail.requestId === id)
    expect(entries.map((e) => e.entry.detail.step)).toEqual(['no_code', 'code_sent', 'code_wrong', 'code_wrong', 'code_wrong', 'code_wrong', 'locked', 'no_code', 'delivery_failed', 'code_sent', 'verified'])
    expect(entries.map((e) => e.entry.decision)).toContain('deny')
    for (const m of receiver.messages.filter((x) => x.requestId === id)) expect(entries.map((e) => e.text).join('\n')).not.toContain(m.code)
    expect(JSON.stringify(entries)).not.toContain('bystander@example.com')
  })

  it('lets only privacy officers attest, keeps the evidence with the request and only its hash in the audit log; opt-outs need none', async () => {
    const created = await call<{ id: string }>('POST', '/v1/privacy/requests', { type: 'erasure', identifier: 'email:nobody-here@example.com', jurisdiction: 'UK' })
    const id = created.body.id
    const asAdmin = await fetch(`${h.url}/v1/privacy/requests/${id}/verification/attest`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ basis: 'documents', evidence: 'passport seen on a video call' }),
    })
    expect(asAdmin.status).toBe(403) // the guardrail: not even an admin
    expect(((await asAdmin.json()) as { message: string }).message).toMatch(/attestPrivacyRequester is not allowed/)
    expect((await call('POST', `/v1/privacy/requests/${id}/verification/attest`, { basis: 'documents', evidence: 'ok' })).status).toBe(400)
    expect((await call('POST', `/v1/privacy/requests/${id}/verification/attest`, { basis: 'gut feeling', evidence: 'looked trustworthy enough' })).status).toBe(400)
    const evidence = 'passport seen on a video call; name and postcode matched the account'
    const ok = await call<{ verification: VerificationView }>('POST', `/v1/privacy/requests/${id}/verification/attest`, { basis: 'documents', evidence })
    expect(ok.status).toBe(200)
    expect(ok.body.verification).toMatchObject({ status: 'verified', method: 'attestation', verifiedBy: 'token:privacy' })
    const audit = await (await fetch(`${h.url}/v1/audit/entries?kind=dsar.verification&limit=1000`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text()
    expect(audit).toMatch(/"evidenceSha256":"[0-9a-f]{64}"/)
    expect(audit).not.toContain('passport seen')
    expect(storesHolding('passport seen on a video call')).toEqual(['privacy.db'])
    // Running the erasure blanks the evidence too: it describes the person.
    expect((await call('POST', `/v1/privacy/requests/${id}/run`)).status).toBe(200)
    expect(storesHolding('passport seen on a video call')).toEqual([])

    const opt = await call<{ id: string; verification: VerificationView }>('POST', '/v1/privacy/requests', { type: 'opt_out', identifier: 'email:nobody-here@example.com', jurisdiction: 'US-CA' })
    expect(opt.body.verification.status).toBe('not_required')
    expect((await call('POST', `/v1/privacy/requests/${opt.body.id}/verification/code`)).status).toBe(409)
  })
})

describe('DSAR deadlines with a fake clock', () => {
  it('computes GDPR, CCPA and CCPA opt-out deadlines from the time of receipt, reports overdue requests, and expires codes', async () => {
    const t = tempDir()
    let now = Date.parse('2025-03-03T09:00:00Z') // a Monday
    const env = { TESSERA_WRITE_KEY: WRITE_KEY, TESSERA_ADMIN_TOKEN: ADMIN_TOKEN }
    const config = loadConfig({ env, file: undefined, overrides: {
      dataDir: t.dir, log: { kind: 'memory' }, pipeline: { worker: false }, governance: { dsar: { verification: { webhookUrl: receiver.url, codeTtlMinutes: 30 } } },
    } })
    const tessera = await startTessera(config, { env, logger: pino({ level: 'silent' }), clock: { now: () => now }, listen: false })
    try {
      const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
      const create = async (type: string, jurisdiction: string): Promise<{ id: string; dueAt: string }> => {
        const res = await tessera.app.inject({ method: 'POST', url: '/v1/privacy/requests', headers: admin, payload: { type, identifier: 'email:a@example.com', jurisdiction } })
        expect(res.statusCode, res.body).toBe(200)
        return res.json()
      }
      const access = await create('access', 'EU')
      expect(access.dueAt).toBe('2025-04-03T09:00:00.000Z')
      expect((await create('erasure', 'US-CA')).dueAt).toBe('2025-04-17T09:00:00.000Z')
      const opt = await create('opt_out', 'US-CA')
      expect(opt.dueAt).toBe('2025-03-24T09:00:00.000Z')

      // A code is good for 30 minutes; waiting for verification does not stop the clock of the deadline.
      expect((await tessera.app.inject({ method: 'POST', url: `/v1/privacy/requests/${access.id}/verification/code`, headers: admin })).statusCode).toBe(200)
      const code = receiver.messages.at(-1)!
      expect(code.expiresAt).toBe('2025-03-03T09:30:00.000Z')
      now += 31 * 60_000
      const late = await tessera.app.inject({ method: 'POST', url: `/v1/privacy/requests/${access.id}/verification/confirm`, headers: admin, payload: { code: code.code } })
      expect(late.statusCode).toBe(403)
      expect(late.json()).toMatchObject({ message: expect.stringMatching(/expired at 2025-03-03T09:30:00\.000Z/) })

      now = Date.parse('2025-03-25T09:00:00Z')
      const status = await tessera.app.inject({ method: 'GET', url: `/v1/privacy/requests/${opt.id}`, headers: admin })
      expect(status.json()).toMatchObject({ acknowledgeBy: null, acknowledgementOverdue: false, extension: null })
      expect(status.json()).toMatchObject({ status: 'received', overdue: true, daysLeft: -1 })
      const waiting = await tessera.app.inject({ method: 'GET', url: `/v1/privacy/requests/${access.id}`, headers: admin })
      expect(waiting.json()).toMatchObject({ dueAt: '2025-04-03T09:00:00.000Z', daysLeft: 9, verification: { status: 'code_sent' } })
    } finally {
      await tessera.close()
      t.cleanup()
    }
  })

  it('tracks the CCPA acknowledgement, and extends a deadline once, before it passes, with the reason sent to the person', async () => {
    const t = tempDir()
    let now = Date.parse('2025-03-03T09:00:00Z') // a Monday
    const env = { TESSERA_WRITE_KEY: WRITE_KEY, TESSERA_ADMIN_TOKEN: ADMIN_TOKEN }
    const config = loadConfig({ env, file: undefined, overrides: {
      dataDir: t.dir, log: { kind: 'memory' }, pipeline: { worker: false }, governance: { dsar: { verification: { webhookUrl: receiver.url } } },
    } })
    const tessera = await startTessera(config, { env, logger: pino({ level: 'silent' }), clock: { now: () => now }, listen: false })
    try {
      const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
      const inject = async (method: 'GET' | 'POST', url: string, payload?: object): Promise<{ status: number; body: Record<string, unknown> }> => {
        const res = await tessera.app.inject({ method, url, headers: admin, ...(payload === undefined ? {} : { payload }) })
        return { status: res.statusCode, body: res.json() }
      }
      const create = async (type: string, jurisdiction: string): Promise<Record<string, unknown> & { id: string }> => {
        const res = await inject('POST', '/v1/privacy/requests', { type, identifier: 'email:b@example.com', jurisdiction })
        expect(res.status, JSON.stringify(res.body)).toBe(200)
        return res.body as Record<string, unknown> & { id: string }
      }
      const erasure = await create('erasure', 'US-CA')
      // Ten business days from Monday 3 March: Monday 17 March. GDPR sets no separate acknowledgement; neither does a CCPA opt-out.
      expect(erasure).toMatchObject({ acknowledgeBy: '2025-03-17T09:00:00.000Z', acknowledgement: null, acknowledgementOverdue: false })
      const access = await create('access', 'EU')
      expect(access).toMatchObject({ acknowledgeBy: null, dueAt: '2025-04-03T09:00:00.000Z' })
      const opt = await create('opt_out', 'US-CA')
      expect(opt.acknowledgeBy).toBeNull()

      // Sent through the webhook: a signed notice naming the identifier and the deadline.
      const before = receiver.messages.length
      const acked = await inject('POST', `/v1/privacy/requests/${access.id}/acknowledge`, {})
      expect(acked.status, JSON.stringify(acked.body)).toBe(200)
      expect(acked.body.acknowledgement).toEqual({ at: '2025-03-03T09:00:00.000Z', via: expect.stringMatching(/^channel webhook http:\/\/127\.0\.0\.1/), late: false })
      expect(receiver.messages.length).toBe(before + 1)
      const notice = JSON.parse(receiver.messages.at(-1)!.body) as Record<string, unknown>
      expect(notice).toEqual({ type: 'tessera.dsar.acknowledgement', requestId: access.id, requestType: 'access', identifier: 'email:b@example.com', dueAt: '2025-04-03T09:00:00.000Z' })

      // The CCPA erasure is not acknowledged in time: overdue, then recorded as late.
      now = Date.parse('2025-03-18T09:00:00Z')
      expect((await inject('GET', `/v1/privacy/requests/${erasure.id}`)).body).toMatchObject({ acknowledgementOverdue: true, overdue: false })
      const late = await inject('POST', `/v1/privacy/requests/${erasure.id}/acknowledge`, { via: 'phone call, case 4411' })
      expect(late.body).toMatchObject({ acknowledgement: { via: 'recorded: phone call, case 4411', late: true }, acknowledgementOverdue: false })

      // Extensions: GDPR two further months, CCPA 45 more days; once; never for an opt-out; the reason must say something.
      expect((await inject('POST', `/v1/privacy/requests/${access.id}/extend`, { reason: 'busy' })).status).toBe(400)
      const extended = await inject('POST', `/v1/privacy/requests/${access.id}/extend`, { reason: 'the request covers records in three archived systems' })
      expect(extended.status, JSON.stringify(extended.body)).toBe(200)
      expect(extended.body).toMatchObject({
        dueAt: '2025-06-03T09:00:00.000Z',
        extension: { at: '2025-03-18T09:00:00.000Z', firstDueAt: '2025-04-03T09:00:00.000Z', basis: expect.stringMatching(/GDPR Art\. 12\(3\)/), reason: 'the request covers records in three archived systems' },
      })
      expect(JSON.parse(receiver.messages.at(-1)!.body)).toMatchObject({ type: 'tessera.dsar.extension', dueAt: '2025-06-03T09:00:00.000Z', reason: 'the request covers records in three archived systems' })
      expect((await inject('POST', `/v1/privacy/requests/${access.id}/extend`, { reason: 'and then some more time please' })).body).toMatchObject({ message: expect.stringMatching(/extended already/) })
      const optExtend = await inject('POST', `/v1/privacy/requests/${opt.id}/extend`, { reason: 'we would like more time for this' })
      expect(optExtend).toMatchObject({ status: 409, body: { message: expect.stringMatching(/CCPA opt_out request cannot be extended/) } })
      const ccpa = await inject('POST', `/v1/privacy/requests/${erasure.id}/extend`, { reason: 'identity checks with the card issuer take longer', via: 'e-mail' })
      expect(ccpa.body).toMatchObject({ dueAt: '2025-06-01T09:00:00.000Z', extension: { firstDueAt: '2025-04-17T09:00:00.000Z', via: 'recorded: e-mail' } })

      // After the first deadline, too late to extend: the notice had to come before it.
      const other = await create('access', 'UK')
      now = Date.parse('2025-04-19T09:00:00Z')
      expect(await inject('POST', `/v1/privacy/requests/${other.id}/extend`, { reason: 'we forgot about this one, sorry' })).toMatchObject({
        status: 409, body: { message: expect.stringMatching(/had to be told to the person before the deadline \(2025-04-18T09:00:00\.000Z\)/) },
      })
      // A webhook that fails sends nothing and records nothing.
      receiver.failNext = true
      const failed = await inject('POST', `/v1/privacy/requests/${other.id}/acknowledge`, {})
      expect(failed.status).toBe(502)
      expect((await inject('GET', `/v1/privacy/requests/${other.id}`)).body.acknowledgement).toBeNull()

      // Every step is in the audit log, without the officer's words or the reason (only its hash).
      const entries = (await inject('GET', '/v1/audit/entries?kind=dsar.extension&limit=10')).body
      expect(JSON.stringify(entries)).not.toContain('card issuer')
      expect(JSON.stringify(entries)).toMatch(/reasonSha256/)
    } finally {
      await tessera.close()
      t.cleanup()
    }
  })
})
