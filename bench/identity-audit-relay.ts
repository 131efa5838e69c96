/**
 * @module Catch-up rate of the identity audit relay (not part of the test suite): `npm run bench:identity-audit`
 * (`-- --merges 20000 --runs 3`, `-- --backends sqlite` to skip PostgreSQL). For each backend it queues `merges`
 * pipeline merges through the real IdentityStore (the state triggers fill the outbox), then times `relayAll` into a
 * real AuditLog until the outbox is empty, on fresh stores each run. Baselines from the same run: the same number of
 * audit entries appended with plain `AuditLog.record` (no keys, no outbox), and the merge writes themselves with
 * the outbox triggers dropped (what the triggers cost the pipeline). Prints medians and writes
 * bench/results/identity-audit-relay.json. PostgreSQL: TESSERA_BENCH_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import type { AuditEntryInput } from '../src/governance/audit-entry.js'
import { AuditLog } from '../src/governance/audit-log.js'
import type { AuditStore } from '../src/governance/audit-store.js'
import { createCheckpointSigner } from '../src/governance/checkpoint.js'
import type { IdentityAuditOutbox } from '../src/identity/identity-audit-outbox.js'
import { relayAll } from '../src/identity/identity-audit-relay.js'
import type { IdentityChanges } from '../src/identity/identity-store.js'
import type { StateBackend } from '../src/storage/state-backend.js'
import { SqliteAuditStore } from '../src/storage/sqlite/audit-store.js'
import { SqliteStateBackend } from '../src/storage/sqlite/sqlite-backend.js'
import { SqliteIdentityAuditOutbox } from '../src/storage/sqlite/sqlite-identity-audit-outbox.js'
import { openPostgresAuditStore } from '../src/storage/postgres/audit-store.js'
import { openPostgresStateBackend } from '../src/storage/postgres/postgres-backend.js'
import { openPostgresIdentityAuditOutbox } from '../src/storage/postgres/postgres-identity-audit-outbox.js'
import { loadPostgresDriver } from '../src/storage/postgres/postgres-pool.js'
import { median, round } from './lib/stats.js'

const { values } = parseArgs({ options: { merges: { type: 'string', default: '20000' }, runs: { type: 'string', default: '3' }, backends: { type: 'string', default: 'sqlite,postgres' } } })
const MERGES = Number(values.merges)
const RUNS = Number(values.runs)
const BATCH = 500
const signer = createCheckpointSigner('bench', generateKeyPairSync('ed25519').privateKey)
const clock = { now: () => Date.now() }

interface Stores {
  readonly state: StateBackend
  readonly outbox: IdentityAuditOutbox
  readonly audit: AuditStore
  /** Drops the outbox triggers (the "without relay" baseline of the merge writes). */
  dropTriggers(): Promise<void>
  close(): Promise<void>
}

function batchOf(start: number, n: number): IdentityChanges {
  return {
    nodes: [], repoints: [], edges: [], rejections: [],
    merges: Array.from({ length: n }, (_, k) => ({ winner: `p_w${start + k}`, loser: `p_l${start + k}`, messageId: `m${start + k}`, rule: 'identify' as const, eventTime: 1000 + start + k })),
  }
}

async function writeMerges(state: StateBackend): Promise<number> {
  const t0 = performance.now()
  for (let i = 0; i < MERGES; i += BATCH) await state.transaction((tx) => tx.identity.apply(batchOf(i, Math.min(BATCH, MERGES - i))))
  return MERGES / ((performance.now() - t0) / 1000)
}

async function sqliteStores(): Promise<Stores> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-relay-'))
  const statePath = join(dir, 'state.db')
  const state = new SqliteStateBackend({ path: statePath, sync: 'normal' })
  await state.migrate()
  const audit = new SqliteAuditStore({ path: join(dir, 'audit.db') })
  await audit.migrate()
  const outbox = new SqliteIdentityAuditOutbox(statePath)
  return {
    state, outbox, audit,
    async dropTriggers() {
      const db = new Database(statePath)
      db.exec('DROP TRIGGER identity_audit_merge; DROP TRIGGER identity_audit_match; DROP TRIGGER identity_audit_quarantine')
      db.close()
    },
    async close() {
      await outbox.close()
      await audit.close()
      await state.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

const PG_URL = process.env.TESSERA_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

async function postgresStores(): Promise<Stores> {
  const schema = `bench_relay_${Date.now().toString(36)}`
  const state = await openPostgresStateBackend({ url: PG_URL, schema, poolSize: 2, applicationName: 'tessera-bench-relay' })
  await state.migrate()
  const audit = await openPostgresAuditStore({ url: PG_URL, schema })
  await audit.migrate()
  const outbox = await openPostgresIdentityAuditOutbox({ url: PG_URL, schema })
  const admin = async (sql: string): Promise<void> => {
    const pool = (await loadPostgresDriver())({ url: PG_URL, schema, poolSize: 1, applicationName: 'tessera-bench-relay-admin' })
    try {
      await pool.query(sql)
    } finally {
      await pool.end()
    }
  }
  return {
    state, outbox, audit,
    dropTriggers: () => admin('DROP TRIGGER identity_audit_merge ON profile_merges; DROP TRIGGER identity_audit_match ON identity_edges; DROP TRIGGER identity_audit_quarantine ON identity_quarantine'),
    async close() {
      await outbox.close()
      await audit.close()
      await state.close()
      await admin(`DROP SCHEMA ${schema} CASCADE`)
    },
  }
}

const entry = (i: number): AuditEntryInput => ({
  kind: 'identity.merge', actor: { type: 'system', id: 'pipeline' }, action: 'pipeline: merge profiles', subjects: [`p_w${i}`, `p_l${i}`], decision: 'ok',
  detail: { winner: `p_w${i}`, loser: `p_l${i}`, cause: 'identify', messageId: `m${i}`, eventTime: new Date(1000 + i).toISOString(), mergeSeq: i + 1 },
})

interface Run { relay: number; plainAppend: number; writesWithOutbox: number; writesWithout: number }

async function once(open: () => Promise<Stores>): Promise<Run> {
  // Relay catch-up: everything queued first, then drained.
  const a = await open()
  let relay: number
  let writesWithOutbox: number
  try {
    writesWithOutbox = await writeMerges(a.state)
    const log = await AuditLog.open({ store: a.audit, signer, clock, checkpointEvery: 1000, checkpointIntervalMs: 60_000 })
    const t0 = performance.now()
    const done = await relayAll(a.outbox, log)
    relay = done.recorded / ((performance.now() - t0) / 1000)
    if (done.recorded !== MERGES) throw new Error(`relayed ${done.recorded} of ${MERGES}`)
    await log.close()
  } finally {
    await a.close()
  }
  // Baselines on fresh stores: the same entries with plain appends, and the merge writes without the triggers.
  const b = await open()
  let plainAppend: number
  let writesWithout: number
  try {
    const log = await AuditLog.open({ store: b.audit, signer, clock, checkpointEvery: 1000, checkpointIntervalMs: 60_000 })
    const t0 = performance.now()
    for (let i = 0; i < MERGES; i += BATCH) await Promise.all(Array.from({ length: Math.min(BATCH, MERGES - i) }, (_, k) => log.record(entry(i + k))))
    plainAppend = MERGES / ((performance.now() - t0) / 1000)
    await log.close()
    await b.dropTriggers()
    writesWithout = await writeMerges(b.state)
  } finally {
    await b.close()
  }
  return { relay, plainAppend, writesWithOutbox, writesWithout }
}

const results: Record<string, unknown>[] = []
for (const backend of values.backends!.split(',')) {
  const open = backend === 'postgres' ? postgresStores : sqliteStores
  const runs: Run[] = []
  for (let r = 0; r < RUNS; r++) runs.push(await once(open))
  const m = (f: (r: Run) => number): number => round(median(runs.map(f)), 0)
  const row = {
    backend, merges: MERGES, runs: RUNS,
    relay_merges_per_s: m((r) => r.relay), plain_append_entries_per_s: m((r) => r.plainAppend),
    relay_vs_plain_append: round(median(runs.map((r) => r.relay / r.plainAppend)), 2),
    merge_writes_per_s_with_outbox: m((r) => r.writesWithOutbox), merge_writes_per_s_without: m((r) => r.writesWithout),
    merge_writes_with_vs_without: round(median(runs.map((r) => r.writesWithOutbox / r.writesWithout)), 2),
  }
  console.log(`${backend}: relay catch-up ${row.relay_merges_per_s} merges/s (median of ${RUNS}, ${MERGES} merges); plain AuditLog.record ` +
    `${row.plain_append_entries_per_s} entries/s (ratio ${row.relay_vs_plain_append}); merge writes ${row.merge_writes_per_s_with_outbox}/s with the outbox ` +
    `triggers vs ${row.merge_writes_per_s_without}/s without (ratio ${row.merge_writes_with_vs_without})`)
  results.push(row)
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
writeFileSync(new URL('./results/identity-audit-relay.json', import.meta.url), JSON.stringify({
  command: `npm run bench:identity-audit -- --merges ${MERGES} --runs ${RUNS}`, started_at: new Date().toISOString(), results,
}, null, 2) + '\n')
