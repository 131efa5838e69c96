/**
 * The erasure and audit-tampering guarantees on the PostgreSQL store (`store.kind: postgres`), through the API and
 * the CLI: canary values planted for a person (identifiers, compared traits, traits, event properties) are in no table
 * in clear while the API shows them (pseudonymous identifiers and sessions, sealed match records, traits and
 * timeline), the data keys their sealed rows name are shredded by an erasure, and they are found in no table of
 * Tessera's schema (state, consent, privacy, audit) nor in any file of the data directory after it, also after
 * `tessera replay`; and each way of tampering with the audit tables (edit, remove, reorder, truncate) is detected by
 * `tessera audit verify`.
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { main } from '../../src/cli/main.js'
import { tempDir } from '../support/factories.js'
import { loadConfig } from '../../src/config/config.js'
import { filesHolding, readWholeLog } from '../support/log-canary.js'
import { loadPostgresDriver, type PostgresPool } from '../../src/storage/postgres/postgres-pool.js'
import { adminQuery, dropSchema, freshSchemaName, requirePostgres } from '../support/services.js'
import { startHarness, type Harness } from '../support/tessera-harness.js'
import { modelToFile } from '../../src/matching/model-file.js'
import { TRAIT_MATCH_CONFIG, trainedPersonModel } from '../../src/matching/testing/realtime-model.js'

const url = await requirePostgres()
const PRIVACY = { name: 'privacy', token: 'tok_privacy_pg_0123456789abcd', roles: ['privacy_officer'] }
/**
 * The device gave a consent signal before the erasure: the consent ledger keeps its records (append-only evidence,
 * GDPR Art. 7(1)) and the erasure's tombstone, keyed by the identity graph's pseudonyms, so they no longer name the
 * person once the sealed values and data keys are gone.
 */
const CANARY = {
  email: 'pg-canary-51d0@example.com', userId: 'pg-canary-user-51d0', trait: 'PG-CANARY-TRAIT-51d0', property: 'PG-CANARY-PROP-51d0', anonymousId: 'pg-canary-anon-51d0',
  // A compared trait of real-time matching (lower case, as normalised into the match record).
  surname: 'pgcanarysurnamewz',
}

describe.skipIf(url === null)('privacy guarantees on PostgreSQL', () => {
  const data = tempDir()
  const schema = freshSchemaName('privpg')
  const configFile = join(data.dir, 'tessera.config.json')
  let h: Harness
  let scan: PostgresPool

  const model = join(data.dir, 'model', 'model.json')
  const matching = { enabled: true, model, autoMerge: 0.99, review: 0.5, maxBlockSize: 100 }
  const overrides = (): Parameters<typeof startHarness>[0] => ({
    adminTokens: [{ ...PRIVACY, roles: [...PRIVACY.roles] }], store: { kind: 'postgres', url: url!, schema }, governance: { audit: { checkpointEvery: 5 } },
    identity: { matching },
  })

  async function cli(...args: string[]): Promise<{ code: number; out: string }> {
    const lines: string[] = []
    const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')))
    const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')))
    const out = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    try {
      return { code: await main(args), out: lines.join('\n') }
    } finally {
      log.mockRestore()
      err.mockRestore()
      out.mockRestore()
    }
  }

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(h.url + path, {
      method, headers: { authorization: `Bearer ${PRIVACY.token}`, 'x-tessera-purpose': 'privacy_request', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }

  /** Where a value is stored: every table of the schema (as JSON rows) and every SQLite file of the data dir but the event log. */
  async function storesHolding(value: string): Promise<string[]> {
    const found: string[] = []
    const { rows: tables } = await scan.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'", [schema])
    expect(tables.length).toBeGreaterThan(10)
    for (const { table_name: t } of tables) {
      const { rows } = await scan.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}."${t}" x WHERE strpos(row_to_json(x)::text, $1) > 0`, [value])
      if (Number(rows[0]!.n) > 0) found.push(`pg:${t}`)
    }
    const walk = (d: string): void => {
      for (const name of readdirSync(d)) {
        const path = join(d, name)
        if (statSync(path).isDirectory()) {
          if (name !== 'log') walk(path) // the event log: checked by logHolding (sealed, crypto-shredded)
          continue
        }
        if (!name.endsWith('.db')) continue
        const db = new Database(path, { readonly: true })
        try {
          for (const { name: t } of db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]) {
            if (JSON.stringify(db.prepare(`SELECT * FROM "${t}"`).all()).includes(value)) found.push(`${name}:${t}`)
          }
        } finally {
          db.close()
        }
      }
    }
    walk(data.dir)
    return found
  }

  beforeAll(async () => {
    scan = (await loadPostgresDriver())({ url: url!, schema: 'public', poolSize: 1, applicationName: 'tessera-test-canary-scan' })
    mkdirSync(join(data.dir, 'model'))
    writeFileSync(model, JSON.stringify(modelToFile(trainedPersonModel(), TRAIT_MATCH_CONFIG, 3600)))
    writeFileSync(configFile, JSON.stringify({ dataDir: data.dir, store: { kind: 'postgres', url, schema }, identity: { matching } }))
    h = await startHarness(overrides(), data.dir)
    const send = async (path: string, body: unknown): Promise<void> => {
      const res = await h.send(path, body)
      expect(res.status, await res.clone().text()).toBe(200)
    }
    await send('/v1/page', { anonymousId: CANARY.anonymousId, name: 'Home', context: { consent: { categoryPreferences: { Advertising: false } } } })
    await send('/v1/identify', {
      userId: CANARY.userId, anonymousId: CANARY.anonymousId,
      traits: { email: CANARY.email, note: CANARY.trait, given: 'annabel', surname: CANARY.surname, dob: '1984-03-12', city: 'leeds' },
    })
    await send('/v1/track', { userId: CANARY.userId, event: 'Order Completed', properties: { order_id: CANARY.property } })
    await send('/v1/identify', { userId: 'pg-bystander', traits: { email: 'pg-bystander@example.com' } })
    await h.drain()
    expect((await h.admin(`/v1/profiles?identifier=email:${CANARY.email}`)).status).toBe(200)
  })

  afterAll(async () => {
    await h?.close()
    await scan?.end()
    await dropSchema(url!, schema)
    data.cleanup()
  })

  /** Canaries readable in the event log through the keyring (tessera_data_keys), or in the clear in any file of the data directory. */
  async function logHolding(): Promise<string[]> {
    const { readable } = await readWholeLog(loadConfig({ file: configFile, env: {} }))
    return Object.values(CANARY).filter((v) => readable.some((t) => t.includes(v)) || filesHolding(data.dir, v).length > 0)
  }

  const count = async (table: string): Promise<number> => Number((await scan.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.${table}`)).rows[0]!.n)

  it('keeps the anonymous id and the compared traits out of the sessions and the match records', async () => {
    for (const table of ['sessions', 'identity_match_records', 'identity_match_keys']) expect(await count(table), table).toBeGreaterThan(0)
    for (const v of [CANARY.anonymousId, CANARY.userId, CANARY.surname]) {
      expect(await storesHolding(v), v).toEqual([])
    }
  })

  it('keeps traits and timeline sealed in the tables while the API shows them, and erases the person from every table and file, also after a replay', async () => {
    // Identifiers and sessions pseudonymous, match records, confidential traits and every timeline payload sealed:
    // no canary in clear in any table.
    for (const v of Object.values(CANARY)) expect(await storesHolding(v), v).toEqual([])
    const found = await h.admin<{ id: string; traits: Record<string, unknown> }>(`/v1/profiles?identifier=email:${CANARY.email}`)
    expect(found.body.traits).toMatchObject({ email: CANARY.email, note: CANARY.trait, surname: CANARY.surname })
    const timeline = await h.admin<{ events: { event: { properties?: Record<string, unknown> } }[] }>(`/v1/profiles/${found.body.id}/events`)
    expect(timeline.body.events.map((e) => e.event.properties?.order_id)).toContain(CANARY.property)
    // The data keys the person's rows name: the erasure must shred them (crypto-shredding of every copy).
    const refs = async (): Promise<string[]> => {
      const { rows } = await scan.query<{ v: string }>(
        `SELECT sealed_traits AS v FROM ${schema}.profiles WHERE id = $1 AND sealed_traits IS NOT NULL UNION ALL SELECT payload FROM ${schema}.profile_events WHERE profile_id = $1`, [found.body.id])
      return [...new Set(rows.map((r) => r.v.split('.')[0]!))]
    }
    const personRefs = await refs()
    expect(personRefs.length).toBeGreaterThan(0)
    const keysHeld = async (): Promise<number> => Number((await scan.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.tessera_data_keys WHERE ref = ANY($1::text[])`, [personRefs])).rows[0]!.n)
    expect(await keysHeld()).toBe(personRefs.length)
    expect(await logHolding()).toEqual(Object.values(CANARY))
    for (const v of Object.values(CANARY)) expect(filesHolding(data.dir, v, (f) => f.startsWith('log/')), v).toEqual([])
    const created = await call('POST', '/v1/privacy/requests', { type: 'erasure', identifier: `email:${CANARY.email}`, jurisdiction: 'EU' })
    expect(created.status, JSON.stringify(created.body)).toBe(200)
    const id = created.body.id as string
    expect((await call('POST', `/v1/privacy/requests/${id}/verification/attest`, { basis: 'account', evidence: `signed in as ${CANARY.userId}; e-mail confirmed` })).status).toBe(200)
    const ran = await call('POST', `/v1/privacy/requests/${id}/run`)
    expect(ran.status, JSON.stringify(ran.body)).toBe(200)
    // The ledger still has the device's consent record and the erasure's tombstones (under pseudonyms).
    expect((ran.body.request as { result: { consentTombstones: number } }).result.consentTombstones).toBeGreaterThan(0)
    for (const v of Object.values(CANARY)) expect(await storesHolding(v), v).toEqual([])
    expect(await keysHeld()).toBe(0)
    // The person's sessions (keyed by the pseudonyms of their anonymous id and user id) are gone; the bystander's stays.
    expect(await count('sessions')).toBe(1)
    expect((await h.admin('/v1/profiles?identifier=user_id:pg-bystander')).status).toBe(200)
    expect(ran.body.notice).toMatch(/crypto-shredding/)
    expect(await logHolding()).toEqual([])
    await h.close()
    const replay = await cli('replay', '--from', 'earliest', '--config', configFile)
    expect(replay.code, replay.out).toBe(0)
    for (const v of Object.values(CANARY)) expect(await storesHolding(v), `after replay: ${v}`).toEqual([])
    // The replay does not bring the person's sessions back (their events are suppressed before sessionization).
    expect(await count('sessions')).toBe(1)
    expect(await logHolding()).toEqual([])
  })

  describe('tampering with the audit tables', () => {
    beforeAll(async () => {
      // Back up the audit tables so that each case tampers with the same intact log.
      await adminQuery(url!, `CREATE TABLE ${schema}.bak_entries AS TABLE ${schema}.audit_entries; CREATE TABLE ${schema}.bak_checkpoints AS TABLE ${schema}.audit_checkpoints`)
    })
    /** Runs statements with the append-only triggers off (as an attacker with the database password could). */
    const tamper = (sql: string): Promise<unknown> => adminQuery(url!, `SET session_replication_role = replica; SET search_path TO ${schema}; ${sql}`)
    const restore = (): Promise<unknown> => tamper(`DELETE FROM audit_entries; INSERT INTO audit_entries SELECT * FROM bak_entries;
      DELETE FROM audit_checkpoints; INSERT INTO audit_checkpoints OVERRIDING SYSTEM VALUE SELECT * FROM bak_checkpoints;`)
    const verify = (): Promise<{ code: number; out: string }> => cli('audit', 'verify', '--config', configFile)

    it('verifies the untouched log, and detects an edit, a removal, a reordering and a truncation', async () => {
      const clean = await verify()
      expect(clean.code, clean.out).toBe(0)
      expect(clean.out).toMatch(/audit log intact: \d+ entries/)
      const size = Number((await adminQuery<{ n: string }>(url!, `SELECT count(*) AS n FROM ${schema}.audit_entries`))[0]!.n)
      expect(size).toBeGreaterThanOrEqual(10)

      await tamper("UPDATE audit_entries SET entry = replace(entry, '\"decision\":\"ok\"', '\"decision\":\"deny\"') WHERE seq = (SELECT min(seq) FROM audit_entries WHERE entry LIKE '%\"decision\":\"ok\"%')")
      const edited = await verify()
      expect(edited.code).toBe(1)
      expect(edited.out).toMatch(/entry \d+ was edited/)
      await restore()

      await tamper('DELETE FROM audit_entries WHERE seq = 4')
      const removed = await verify()
      expect(removed.code).toBe(1)
      expect(removed.out).toMatch(/entries 4\.\.4 are missing/)
      await restore()

      await tamper(`UPDATE audit_entries a SET entry = b.entry, leaf_hash = b.leaf_hash FROM bak_entries b WHERE (a.seq = 3 AND b.seq = 7) OR (a.seq = 7 AND b.seq = 3)`)
      const reordered = await verify()
      expect(reordered.code).toBe(1)
      expect(reordered.out).toMatch(/does not match the stored entries/)
      await restore()

      await tamper(`DELETE FROM audit_entries WHERE seq >= ${size - 3}`)
      const truncated = await verify()
      expect(truncated.code).toBe(1)
      expect(truncated.out).toMatch(/the log was truncated/)
      await restore()
      expect((await verify()).code).toBe(0)
    })
  })
})
