import { generateKeyPairSync } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { dropSchema, freshSchemaName, requirePostgres } from '../../../test/support/services.js'
import { AuditLog } from '../../governance/audit-log.js'
import { createCheckpointSigner } from '../../governance/checkpoint.js'
import { verifyAuditStore } from '../../governance/audit-verify.js'
import { mergeChanges, runIdentityAuditRelayContract } from '../../identity/identity-audit-relay.contract.js'
import { relayAll, relayIdentityAudit } from '../../identity/identity-audit-relay.js'
import { openPostgresAuditStore, type PostgresAuditStore } from './audit-store.js'
import { openPostgresStateBackend, type PostgresStateBackend } from './postgres-backend.js'
import { openPostgresIdentityAuditOutbox, type PostgresIdentityAuditOutbox } from './postgres-identity-audit-outbox.js'
import { loadPostgresDriver, type PostgresClient } from './postgres-pool.js'

const url = await requirePostgres()

async function fixture(): Promise<{
  schema: string; state: PostgresStateBackend; outbox: () => Promise<PostgresIdentityAuditOutbox>; auditStore: () => Promise<PostgresAuditStore>; cleanup: () => Promise<void>
}> {
  const schema = freshSchemaName('relay')
  const state = await openPostgresStateBackend({ url: url!, schema, poolSize: 4, applicationName: 'tessera-test-relay' })
  await state.migrate()
  return {
    schema, state,
    outbox: () => openPostgresIdentityAuditOutbox({ url: url!, schema }),
    auditStore: async () => {
      const store = await openPostgresAuditStore({ url: url!, schema, applicationName: 'tessera-test-relay-audit' })
      await store.migrate()
      return store
    },
    cleanup: async () => {
      await state.close()
      await dropSchema(url!, schema)
    },
  }
}

if (url) {
  runIdentityAuditRelayContract('postgres', async () => {
    const f = await fixture()
    return { state: f.state, openOutbox: f.outbox, openAuditStore: f.auditStore, cleanup: f.cleanup }
  })
}

;(url ? describe : describe.skip)('identity audit relay (PostgreSQL only: several processes, out-of-order commits)', () => {
  let f: Awaited<ReturnType<typeof fixture>>
  const closers: (() => Promise<void>)[] = []
  const signer = createCheckpointSigner('tessera/test', generateKeyPairSync('ed25519').privateKey)
  const open = async (): Promise<{ log: AuditLog; store: PostgresAuditStore; outbox: PostgresIdentityAuditOutbox }> => {
    const store = await f.auditStore()
    const log = await AuditLog.open({ store, signer, clock: { now: () => Date.now() }, checkpointEvery: 1000, checkpointIntervalMs: 60_000 })
    const outbox = await f.outbox()
    closers.push(async () => { await outbox.close(); await log.close(); await store.close() })
    return { log, store, outbox }
  }
  beforeEach(async () => {
    f = await fixture()
  })
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c()
    await f.cleanup()
  })

  it('relays a merge whose lower seq commits after a higher one was relayed', async () => {
    const pool = (await loadPostgresDriver())({ url: url!, schema: f.schema, poolSize: 2, applicationName: 'tessera-test-late' })
    const insert = `INSERT INTO profile_merges (winner, loser, message_id, rule, event_time, recorded_at) VALUES ($1, $2, $3, 'identify', 1, 1) RETURNING seq`
    const early: PostgresClient = await pool.connect()
    const late: PostgresClient = await pool.connect()
    try {
      await early.query('BEGIN')
      const { rows: [low] } = await early.query<{ seq: string }>(insert, ['p_w1', 'p_l1', 'm1'])
      await late.query('BEGIN')
      const { rows: [high] } = await late.query<{ seq: string }>(insert, ['p_w2', 'p_l2', 'm2'])
      expect(Number(low!.seq)).toBeLessThan(Number(high!.seq))
      await late.query('COMMIT')
      const { log, store, outbox } = await open()
      expect(await relayAll(outbox, log)).toMatchObject({ rows: 1, recorded: 1 })
      await early.query('COMMIT')
      expect(await relayAll(outbox, log)).toMatchObject({ rows: 1, recorded: 1 })
      const merges = await store.search({ kind: 'identity.merge', limit: 10 })
      expect(merges.map((m) => JSON.parse(m.text).detail.messageId)).toEqual(['m2', 'm1'])
    } finally {
      early.release()
      late.release()
      await pool.end()
    }
  })

  it('lets one process relay at a time (the lease) and records each merge once with several relaying at once', async () => {
    for (let i = 0; i < 60; i++) await f.state.transaction((tx) => tx.identity.apply(mergeChanges(i)))
    const a = await open()
    const b = await open()
    // While a holds the lease (inside its drain), b's drain skips its turn.
    let inside: boolean | null = null
    await a.outbox.drain(5, async () => {
      inside = (await relayIdentityAudit(b.outbox, b.log, 5)).leased
      throw new Error('give the rows back')
    }).catch(() => undefined)
    expect(inside).toBe(false)
    const c = await open()
    await Promise.all([a, b, c].map(async (p) => {
      for (let round = 0; round < 40; round++) await relayIdentityAudit(p.outbox, p.log, 7)
    }))
    await relayAll(a.outbox, a.log)
    expect((await a.store.search({ kind: 'identity.merge', limit: 1000 })).length).toBe(60)
    expect(await a.outbox.pending()).toBe(0)
    await a.log.checkpoint()
    expect((await verifyAuditStore(a.store, { publicKey: signer.publicKey })).ok).toBe(true)
  })
})
