/**
 * @module Measures the cost of governance on admin reads (not part of the test suite):
 * `npm run bench:governance`. Prints Cedar decisions per second on the shipped policies
 * (and memory after a soak), audit appends per second on SQLite, and admin read latency over HTTP with the
 * full policy + audit path, for an admin token and for an analyst whose read is masked.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { startTessera } from '../src/app/tessera.js'
import { loadConfig } from '../src/config/config.js'
import { SqliteAuditStore } from '../src/storage/sqlite/audit-store.js'
import { AuditLog } from '../src/governance/audit-log.js'
import { createCheckpointSigner, loadOrCreateSigningKey } from '../src/governance/checkpoint.js'
import { PolicyEngine, SHIPPED_POLICY_DIR, SHIPPED_SCHEMA_FILE } from '../src/governance/policy-engine.js'
import { percentileOfSorted } from './lib/stats.js'

const clock = { now: () => Date.now() }

function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-'))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}


async function cedar(decisionCache: boolean, n: number): Promise<void> {
  const engine = new PolicyEngine({ dirs: [SHIPPED_POLICY_DIR], schemaFile: SHIPPED_SCHEMA_FILE, clock, decisionCache })
  const p = { name: 'bench', roles: ['analyst'], attributes: { region: 'EU' } }
  const ctx = { purpose: 'analytics', legalBasis: 'legitimate_interest', category: 'contact', sensitivity: 'confidential' }
  const run = (n: number): number => {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) engine.authorize(p, 'readField', { type: 'Profile', id: `p${i}`, region: 'EU' }, ctx)
    return Number(process.hrtime.bigint() - t0) / 1e3 / n
  }
  run(2000)
  const rss0 = process.memoryUsage().rss
  const us = run(n)
  console.log(`${decisionCache ? 'PolicyEngine.authorize with its decision cache' : 'cedar statefulIsAuthorized (no cache)'} on the shipped policies, validateRequest on: ` +
    `${us.toFixed(1)} µs/decision, ${(1e6 / us).toFixed(0)} decisions/s over ${n}; rss ${(rss0 / 1e6).toFixed(0)} → ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`)
}

async function appends(): Promise<void> {
  const t = tempDir()
  const store = new SqliteAuditStore({ path: join(t.dir, 'audit.db') })
  await store.migrate()
  const log = await AuditLog.open({
    store, clock, checkpointEvery: 1000, checkpointIntervalMs: 10_000,
    signer: createCheckpointSigner('bench', loadOrCreateSigningKey(join(t.dir, 'key.pem'))),
  })
  const entry = (i: number) => ({
    kind: 'admin.read', actor: { type: 'token' as const, id: 'bench', roles: ['analyst'] }, action: 'GET /v1/profiles/:id', subjects: [`p${i}`],
    purpose: 'analytics', legalBasis: 'legitimate_interest', decision: 'partial' as const, policyIds: ['analyst-view-profiles'],
    fields: [{ category: 'contact', decision: 'mask' as const, mask: 'hash', paths: ['traits.email'] }],
  })
  const n = 20_000
  let t0 = performance.now()
  await Promise.all(Array.from({ length: n }, (_, i) => log.record(entry(i))))
  const concurrent = n / ((performance.now() - t0) / 1000)
  t0 = performance.now()
  for (let i = 0; i < 2000; i++) await log.record(entry(i))
  const sequential = (performance.now() - t0) / 2000
  await log.close()
  await store.close()
  t.cleanup()
  console.log(`audit appends (SQLite, batched, checkpoint every 1,000): ${concurrent.toFixed(0)} entries/s with 20,000 concurrent; ${(sequential * 1000).toFixed(0)} µs per entry one at a time`)
}

async function reads(): Promise<void> {
  const t = tempDir()
  const env = { TESSERA_WRITE_KEY: 'wk_bench_0123456789', TESSERA_ADMIN_TOKEN: 'tsa_bench_admin_0123456789' }
  const analyst = 'tok_bench_analyst_0123456789'
  const config = loadConfig({ env, overrides: { host: '127.0.0.1', port: 0, dataDir: t.dir, adminTokens: [{ name: 'analyst', token: analyst, roles: ['analyst'] }] } })
  const tessera = await startTessera(config, { env, logger: pino({ level: 'silent' }) })
  const traits = { email: 'ann@example.com', name: 'Ann Example', age: 41, plan: 'pro', address: { country: 'DE', city: 'Berlin', street: 'Hauptstr. 1' }, phone: '+4930123456', company: 'Acme', title: 'CTO', note: randomBytes(8).toString('hex') }
  await fetch(`${tessera.url}/v1/identify`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Basic ' + Buffer.from(`${env.TESSERA_WRITE_KEY}:`).toString('base64') },
    body: JSON.stringify({ userId: 'bench-user', traits }),
  })
  await tessera.pipeline!.drain(20_000)
  const lookup = await fetch(`${tessera.url}/v1/profiles?identifier=user_id:bench-user`, { headers: { authorization: `Bearer ${env.TESSERA_ADMIN_TOKEN}` } })
  const id = ((await lookup.json()) as { id: string }).id
  const measure = async (token: string, purpose: string | undefined, n: number): Promise<string> => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...(purpose ? { 'x-tessera-purpose': purpose } : {}) }
    const times: number[] = []
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      const res = await fetch(`${tessera.url}/v1/profiles/${id}`, { headers })
      await res.arrayBuffer()
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    return `p50 ${percentileOfSorted(times, 0.5).toFixed(2)} ms, p99 ${percentileOfSorted(times, 0.99).toFixed(2)} ms`
  }
  await measure(env.TESSERA_ADMIN_TOKEN, undefined, 200)
  console.log(`GET /v1/profiles/:id, sequential, 2,000 reads each (policy + audit included): admin ${await measure(env.TESSERA_ADMIN_TOKEN, undefined, 2000)}; analyst (masked) ${await measure(analyst, 'analytics', 2000)}`)
  await tessera.close()
  t.cleanup()
}

await cedar(false, 50_000)
await cedar(true, 100_000)
await appends()
await reads()
