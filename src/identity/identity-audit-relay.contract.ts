/**
 * @module The identity audit relay contract: what the relay does on every backend pair (SQLite state + SQLite audit
 * store, PostgreSQL + PostgreSQL), written through the real IdentityStore (so the state triggers are what queues the
 * rows), relayed into a real AuditLog. The crash tests fail one step of a drain, restart on new connections, and count
 * the entries. Call {@link runIdentityAuditRelayContract} from each adapter's test file.
 */
import { generateKeyPairSync } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Clock } from '../core/clock.js'
import { AuditLog, type KeyedAuditEntry } from '../governance/audit-log.js'
import type { AuditStore } from '../governance/audit-store.js'
import { verifyAuditStore } from '../governance/audit-verify.js'
import { createCheckpointSigner } from '../governance/checkpoint.js'
import type { StateBackend } from '../storage/state-backend.js'
import type { IdentityAuditOutbox } from './identity-audit-outbox.js'
import { relayAll, relayIdentityAudit, startIdentityAuditRelay, type KeyedAuditSink } from './identity-audit-relay.js'
import type { IdentifierNode, IdentityChanges } from './identity-store.js'

export interface IdentityAuditRelayFixture {
  /** A migrated state backend. */
  readonly state: StateBackend
  /** Opens the outbox on a connection of its own (as another process, or this one after a restart). */
  openOutbox(): Promise<IdentityAuditOutbox>
  /** Opens the audit store (migrated) on a connection of its own. */
  openAuditStore(): Promise<AuditStore>
  cleanup(): Promise<void>
}

const clock: Clock = { now: () => Date.parse('2026-11-01T00:00:00Z') }
const signer = createCheckpointSigner('tessera/test', generateKeyPairSync('ed25519').privateKey)

const node = (key: string, profileId: string): IdentifierNode => {
  const at = key.indexOf(':')
  return { key, type: key.slice(0, at), value: key.slice(at + 1), profileId, firstSeen: 1000 }
}

/** Two profiles, each with an e-mail, merged by one event: the loser's identifiers move to the winner. */
export function mergeChanges(i: number, messageId = `m${i}`): IdentityChanges {
  const [winner, loser] = [`p_w${i}`, `p_l${i}`]
  return {
    nodes: [node(`email:w${i}@example.com`, winner), node(`email:l${i}@example.com`, winner)],
    repoints: [], edges: [],
    merges: [{ winner, loser, messageId, rule: 'identify', eventTime: 2000 + i }],
    rejections: [],
  }
}

export function runIdentityAuditRelayContract(name: string, create: () => Promise<IdentityAuditRelayFixture>): void {
  describe(`identity audit relay: ${name}`, () => {
    let fixture: IdentityAuditRelayFixture
    const opened: { close(): Promise<void> }[] = []
    const outbox = async (): Promise<IdentityAuditOutbox> => {
      const o = await fixture.openOutbox()
      opened.push(o)
      return o
    }
    const auditLog = async (): Promise<{ log: AuditLog; store: AuditStore }> => {
      const store = await fixture.openAuditStore()
      const log = await AuditLog.open({ store, signer, clock, checkpointEvery: 1000, checkpointIntervalMs: 60_000 })
      opened.push({ close: async () => { await log.close(); await store.close() } })
      return { log, store }
    }
    const write = (changes: IdentityChanges): Promise<void> => fixture.state.transaction((tx) => tx.identity.apply(changes))
    const count = async (store: AuditStore, kind: string): Promise<number> => (await store.search({ kind, limit: 100_000 })).length

    beforeEach(async () => {
      fixture = await create()
    })
    afterEach(async () => {
      for (const o of opened.splice(0).reverse()) await o.close()
      await fixture.cleanup()
    })

    it('records every merge, scored edge and quarantine once, naming profiles and identifier types only', async () => {
      for (let i = 0; i < 3; i++) await write(mergeChanges(i))
      await write({
        nodes: [node('email:ann@example.com', 'p_ann'), node('phone:+15550001', 'p_ann')], repoints: [], merges: [], rejections: [],
        edges: [{ from: 'email:ann@example.com', to: 'phone:+15550001', rule: 'probabilistic', messageId: 'm-score', sourceId: 'web', eventTime: 3000, confidence: 0.995 }],
        quarantines: [{ key: 'device_id:0000', profiles: 12, threshold: 10, windowMs: 60_000, cause: 'supernode_guard', messageId: 'm-q', time: 4000 }],
      })
      const box = await outbox()
      expect(await box.pending()).toBe(5)
      const { log, store } = await auditLog()
      const done = await relayAll(box, log)
      expect(done).toMatchObject({ leased: true, rows: 5, recorded: 5, alreadyAudited: 0 })
      expect(await box.pending()).toBe(0)
      const merges = await store.search({ kind: 'identity.merge', limit: 10 })
      expect(merges.map((m) => m.subjects.slice().sort())).toEqual([0, 1, 2].map((i) => [`p_l${i}`, `p_w${i}`]))
      const merge = JSON.parse(merges[0]!.text) as { actor: { id: string }; detail: Record<string, unknown> }
      expect(merge.actor.id).toBe('pipeline')
      expect(merge.detail).toMatchObject({ winner: 'p_w0', loser: 'p_l0', cause: 'identify', messageId: 'm0' })
      const [match] = await store.search({ kind: 'identity.match', limit: 10 })
      expect(match!.subjects).toEqual(['p_ann'])
      expect(JSON.parse(match!.text).detail).toMatchObject({ probability: 0.995, identifierTypes: ['email', 'phone'], messageId: 'm-score' })
      const [quarantine] = await store.search({ kind: 'identity.quarantine', limit: 10 })
      expect(JSON.parse(quarantine!.text).detail).toMatchObject({ identifierType: 'device_id', profiles: 12, threshold: 10, cause: 'supernode_guard' })
      // Searchable per person, and never an identifier value in the log.
      expect((await store.search({ profileId: 'p_w1', limit: 10 })).map((r) => r.kind)).toEqual(['identity.merge'])
      for (const r of await store.range(0, 100)) expect(r.text).not.toMatch(/example\.com|\+1555|0000"/)
      expect((await relayAll(box, log)).rows).toBe(0)
      await log.checkpoint()
      expect((await verifyAuditStore(store, { publicKey: signer.publicKey })).ok).toBe(true)
    })

    it('records the merge of a review accept as system:review, without a second entry for its scored edge', async () => {
      await write({
        nodes: [], repoints: [], rejections: [],
        edges: [{ from: 'email:a@example.com', to: 'email:b@example.com', rule: 'probabilistic', messageId: 'review:7', sourceId: 'token:officer', eventTime: 5000, confidence: 0.8 }],
        merges: [{ winner: 'p_a', loser: 'p_b', messageId: 'review:7', rule: 'probabilistic', eventTime: 5000 }],
      })
      const box = await outbox()
      const { log, store } = await auditLog()
      expect(await relayAll(box, log)).toMatchObject({ rows: 2, recorded: 1 })
      const [merge] = await store.search({ kind: 'identity.merge', limit: 10 })
      expect(JSON.parse(merge!.text)).toMatchObject({ actor: { type: 'system', id: 'review' }, detail: { reviewSeq: 7, winner: 'p_a', loser: 'p_b' } })
      expect(await count(store, 'identity.match')).toBe(0)
    })

    it('loses nothing when the audit append fails: the rows stay queued and a restarted relay records them once', async () => {
      for (let i = 0; i < 7; i++) await write(mergeChanges(i))
      const box = await outbox()
      const { log } = await auditLog()
      const failing: KeyedAuditSink = { recordOnce: async () => { throw new Error('audit store unreachable') } }
      await expect(relayIdentityAudit(box, failing, 3)).rejects.toThrow(/unreachable/)
      expect(await box.pending()).toBe(7)
      await log.close()
      // Restart: new connections to both stores.
      const again = await outbox()
      const { log: log2, store: store2 } = await auditLog()
      expect(await relayAll(again, log2, 3)).toMatchObject({ rows: 7, recorded: 7 })
      expect(await count(store2, 'identity.merge')).toBe(7)
    })

    it('records nothing twice when it dies between the audit append and removing the rows', async () => {
      for (let i = 0; i < 7; i++) await write(mergeChanges(i))
      const box = await outbox()
      const { log } = await auditLog()
      // The append commits, then the process "dies" before the rows leave the outbox.
      const dying: KeyedAuditSink = {
        recordOnce: async (entries: readonly KeyedAuditEntry[]) => {
          await log.recordOnce(entries)
          throw new Error('killed after the append')
        },
      }
      await expect(relayIdentityAudit(box, dying, 4)).rejects.toThrow(/killed/)
      expect(await box.pending()).toBe(7)
      await log.close()
      const again = await outbox()
      const { log: log2, store: store2 } = await auditLog()
      const done = await relayAll(again, log2, 4)
      expect(done).toMatchObject({ rows: 7, recorded: 3, alreadyAudited: 4 })
      expect(await count(store2, 'identity.merge')).toBe(7)
      await log2.checkpoint()
      expect((await verifyAuditStore(store2, { publicKey: signer.publicKey })).ok).toBe(true)
    })

    it('does not record merges again when a replay re-makes them, and records the new ones', async () => {
      for (let i = 0; i < 4; i++) await write(mergeChanges(i))
      const box = await outbox()
      const { log, store } = await auditLog()
      await relayAll(box, log)
      await fixture.state.reset()
      for (let i = 0; i < 5; i++) await write(mergeChanges(i))
      expect(await relayAll(box, log)).toMatchObject({ rows: 5, recorded: 1, alreadyAudited: 4 })
      expect(await count(store, 'identity.merge')).toBe(5)
    })

    it('runs as a loop: relays what the pipeline writes while it runs, and drains the rest on stop', async () => {
      const box = await outbox()
      const { log, store } = await auditLog()
      const errors: Error[] = []
      const relay = startIdentityAuditRelay({ outbox: box, audit: log, intervalMs: 20, batch: 4, onError: (e) => errors.push(e) })
      for (let i = 0; i < 10; i++) await write(mergeChanges(i))
      await relay.flush()
      expect(await count(store, 'identity.merge')).toBe(10)
      for (let i = 10; i < 13; i++) await write(mergeChanges(i))
      await relay.stop()
      expect(await count(store, 'identity.merge')).toBe(13)
      expect(relay.totals()).toMatchObject({ rows: 13, recorded: 13 })
      expect(errors).toEqual([])
    })
  })
}
