/**
 * @module The AuditStore contract suite: what every adapter (SQLite, PostgreSQL) must do, and that the audit
 * log on top of it detects each way of tampering with the stored rows (edit, delete, reorder, truncate).
 * Call {@link runAuditStoreContract} from the adapter's test file with a fixture that can also tamper with
 * its raw tables the way an attacker with database access would (triggers dropped first).
 */
import { generateKeyPairSync } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Clock } from '../core/clock.js'
import { toRecord, type AuditEntryInput } from './audit-entry.js'
import { AuditLog } from './audit-log.js'
import type { AuditStore } from './audit-store.js'
import { verifyAuditStore } from './audit-verify.js'
import { createCheckpointSigner, openCheckpoint } from './checkpoint.js'
import { leafHash, verifyConsistency, verifyInclusion } from './merkle.js'

/** Raw access to the adapter's tables, bypassing the append-only triggers. */
export interface AuditTamper {
  editEntry(seq: number, text: string, alsoFixLeafHash: boolean): Promise<void>
  deleteEntry(seq: number): Promise<void>
  /** Swaps the stored text and leaf hash of two entries. */
  swapEntries(a: number, b: number): Promise<void>
  /** Deletes every entry with seq ≥ from, and every checkpoint whose size is greater than `from` when asked. */
  truncate(from: number, alsoCheckpoints: boolean): Promise<void>
  /** Runs a plain DELETE of one entry with the triggers in place (must be refused). */
  plainDelete(seq: number): Promise<void>
}

export interface AuditStoreFixture {
  readonly store: AuditStore
  readonly tamper: AuditTamper
  /** A second store instance on the same data (another process), or null when the adapter has one writer. */
  readonly reopen: () => Promise<AuditStore>
  readonly cleanup: () => Promise<void>
}

const manualClock = (): Clock & { t: number } => {
  const c = { t: Date.parse('2026-11-01T00:00:00Z'), now: () => c.t }
  return c
}

export function entry(i: number, profile = `p${i % 3}`): AuditEntryInput {
  return {
    kind: 'admin.read', actor: { type: 'token', id: i % 2 === 0 ? 'analyst-eu' : 'support', roles: ['analyst'] },
    action: 'GET /v1/profiles/:id', subjects: [profile], purpose: 'analytics', legalBasis: 'legitimate_interest',
    decision: 'allow', policyIds: ['analyst-read'], fields: [{ category: 'contact', decision: 'mask', mask: 'hash', paths: ['traits.email'] }],
  }
}

export function runAuditStoreContract(name: string, create: () => Promise<AuditStoreFixture>): void {
  describe(`AuditStore contract: ${name}`, () => {
    let fixture: AuditStoreFixture | undefined
    const store = (): AuditStore => fixture!.store
    const key = generateKeyPairSync('ed25519').privateKey
    const signer = createCheckpointSigner('tessera/test', key)
    const clock = manualClock()
    const open = (s: AuditStore = store(), checkpointEvery = 1000): Promise<AuditLog> =>
      AuditLog.open({ store: s, signer, clock, checkpointEvery, checkpointIntervalMs: 60_000 })

    beforeEach(async () => {
      fixture = await create()
      await fixture.store.migrate()
    })
    afterEach(async () => {
      await fixture?.cleanup()
      fixture = undefined
    })

    it('migrates idempotently and starts empty', async () => {
      await store().migrate()
      expect(await store().count()).toBe(0)
      expect(await store().latestCheckpoint()).toBeNull()
    })

    it('appends records in order with gap-free sequence numbers and returns them as written', async () => {
      const first = await store().append([toRecord(entry(0), 1000), toRecord(entry(1), 1001)])
      const second = await store().append([toRecord(entry(2), 1002)])
      expect([first, second]).toEqual([0, 2])
      const rows = await store().range(0, 10)
      expect(rows.map((r) => r.seq)).toEqual([0, 1, 2])
      expect(rows[2]!.text).toBe(toRecord(entry(2), 1002).text)
      expect(rows[2]!.leafHash.equals(leafHash(Buffer.from(rows[2]!.text)))).toBe(true)
      expect(rows[0]!.subjects).toEqual(['p0'])
      expect((await store().leafHashes(1)).length).toBe(2)
      expect(await store().count()).toBe(3)
    })

    it('searches by person, by principal, by kind and by time, in seq order with paging', async () => {
      await store().append(Array.from({ length: 9 }, (_, i) => toRecord(entry(i), 1000 + i)))
      expect((await store().search({ profileId: 'p1', limit: 10 })).map((r) => r.seq)).toEqual([1, 4, 7])
      expect((await store().search({ actor: 'token:support', limit: 10 })).map((r) => r.seq)).toEqual([1, 3, 5, 7])
      expect((await store().search({ since: 1003, until: 1005, limit: 10 })).map((r) => r.seq)).toEqual([3, 4, 5])
      expect((await store().search({ profileId: 'p0', afterSeq: 0, limit: 1 })).map((r) => r.seq)).toEqual([3])
      expect(await store().search({ kind: 'policy.reload', limit: 10 })).toEqual([])
      expect(await store().search({ profileId: "p0' OR '1'='1", limit: 10 })).toEqual([])
    })

    it('appends a keyed record once: a key already stored, or repeated in the call, is skipped (compare-and-append)', async () => {
      await store().append([toRecord(entry(0), 1000)])
      const first = await store().appendOnce([{ record: toRecord(entry(1), 1001), key: 'k1' }, { record: toRecord(entry(2), 1002), key: 'k2' }])
      expect(first).toEqual([1, 2])
      const again = await store().appendOnce([
        { record: toRecord(entry(3), 1003), key: 'k2' }, { record: toRecord(entry(4), 1004), key: 'k3' }, { record: toRecord(entry(5), 1005), key: 'k3' },
      ])
      expect(again).toEqual([null, 3, null])
      expect(await store().appendOnce([{ record: toRecord(entry(6), 1006), key: 'k1' }])).toEqual([null])
      expect(await store().count()).toBe(4)
      expect((await store().range(0, 10)).map((r) => r.time)).toEqual([1000, 1001, 1002, 1004])
      expect((await store().search({ kind: 'admin.read', afterSeq: 1, limit: 10 })).map((r) => r.seq)).toEqual([2, 3])
    })

    it('appends a key once when two writers race for it', async () => {
      const other = await fixture!.reopen()
      const a = await open()
      const b = await open(other)
      const keyed = (i: number): { input: AuditEntryInput; key: string }[] => Array.from({ length: 20 }, (_, k) => ({ input: entry(i * 100 + k), key: `race:${k}` }))
      const [ra, rb] = await Promise.all([a.recordOnce(keyed(1)), b.recordOnce(keyed(2))])
      // Every key went in exactly once, by one writer or the other.
      ra.forEach((seq, k) => expect((seq === null) !== (rb[k] === null)).toBe(true))
      expect(await store().count()).toBe(20)
      await b.close()
      await a.close()
      await other.close()
      expect((await verifyAuditStore(store(), { publicKey: signer.publicKey })).ok).toBe(true)
    })

    it('refuses to update or delete entries through ordinary SQL', async () => {
      await store().append([toRecord(entry(0), 1)])
      await expect(fixture!.tamper.plainDelete(0)).rejects.toThrow(/append-only/)
      expect(await store().count()).toBe(1)
    })

    it('stores checkpoints in order and returns the one of the largest tree', async () => {
      const log = await open()
      for (let i = 0; i < 5; i++) await log.record(entry(i))
      const a = await log.checkpoint()
      await log.record(entry(5))
      const b = await log.checkpoint()
      expect((await store().checkpoints()).map((c) => c.size)).toEqual([5, 6])
      expect((await store().latestCheckpoint())?.note).toBe(b.note)
      expect(openCheckpoint(a.note, signer.publicKey).ok).toBe(true)
      await log.close()
    })

    it('batches concurrent records, proves inclusion and consistency, and verifies clean', async () => {
      const log = await open(store(), 10)
      const seqs = await Promise.all(Array.from({ length: 25 }, (_, i) => log.record(entry(i))))
      expect(seqs).toEqual(Array.from({ length: 25 }, (_, i) => i))
      const cp = await log.checkpoint()
      expect(cp.size).toBe(25)
      const { leafHash: leaf, proof, rootHash } = await log.inclusionProof(7, 25)
      expect(verifyInclusion(7, 25, leaf, proof, cp.rootHash)).toBe(true)
      expect(rootHash.equals(cp.rootHash)).toBe(true)
      const early = (await store().checkpoints())[0]!
      expect(early.size).toBeGreaterThanOrEqual(10)
      const c = await log.consistencyProof(early.size, 25)
      expect(verifyConsistency(early.size, 25, early.rootHash, cp.rootHash, c.proof)).toBe(true)
      await log.close()
      const report = await verifyAuditStore(store(), { publicKey: signer.publicKey })
      expect(report.problems).toEqual([])
      expect(report).toMatchObject({ ok: true, entries: 25, uncovered: 0 })
    })

    it('catches up with entries another writer appended', async () => {
      const other = await fixture!.reopen()
      const a = await open()
      const b = await open(other)
      await a.record(entry(0))
      await b.record(entry(1))
      await a.record(entry(2))
      const cp = await a.checkpoint()
      expect(cp.size).toBe(3)
      await b.close()
      await a.close()
      await other.close()
      expect((await verifyAuditStore(store(), { publicKey: signer.publicKey })).ok).toBe(true)
    })

    it('opens while another writer appends and signs in between its reads (no false "truncated")', async () => {
      const writer = await open()
      await writer.record(entry(0))
      await writer.checkpoint()
      const other = await fixture!.reopen()
      // Another process appends and signs right after this one read something: whichever read comes first.
      let interleaved = false
      const interleave = async (): Promise<void> => {
        if (interleaved) return
        interleaved = true
        await writer.record(entry(1))
        await writer.checkpoint()
      }
      const racing: AuditStore = {
        migrate: () => other.migrate(), append: (r) => other.append(r), appendOnce: (r) => other.appendOnce(r), count: () => other.count(), range: (f, l) => other.range(f, l),
        search: (q) => other.search(q), addCheckpoint: (c) => other.addCheckpoint(c), checkpoints: () => other.checkpoints(),
        close: () => other.close(),
        leafHashes: async (from) => { const r = await other.leafHashes(from); await interleave(); return r },
        latestCheckpoint: async () => { const r = await other.latestCheckpoint(); await interleave(); return r },
      }
      const reader = await open(racing)
      expect(interleaved).toBe(true)
      await reader.record(entry(2))
      expect((await reader.checkpoint()).size).toBe(3)
      await reader.close()
      await writer.close()
      await other.close()
      expect((await verifyAuditStore(store(), { publicKey: signer.publicKey })).ok).toBe(true)
    })

    it('never stores a checkpoint behind a newer one (two writers signing at once)', async () => {
      const a = await open()
      await a.record(entry(0))
      const older = await a.checkpoint()
      await a.record(entry(1))
      const newer = await a.checkpoint()
      await a.close()
      expect(newer.size).toBe(2)
      const s = store()
      const before = (await s.checkpoints()).length
      // A slower writer's checkpoint of the smaller tree arrives after the newer one: refused, the order holds.
      expect(await s.addCheckpoint({ size: older.size, rootHash: older.rootHash, time: older.time, note: older.note })).toBe(false)
      // The same size and time again (a retry) is harmless; a later checkpoint of the same tree is stored.
      expect(await s.addCheckpoint({ size: newer.size, rootHash: newer.rootHash, time: newer.time, note: newer.note })).toBe(true)
      expect((await s.checkpoints()).length).toBe(before + 1)
      expect((await verifyAuditStore(s, { publicKey: signer.publicKey })).ok).toBe(true)
    })

    describe('tampering', () => {
      const build = async (): Promise<{ note: string }> => {
        const log = await open()
        for (let i = 0; i < 12; i++) await log.record(entry(i))
        await log.checkpoint()
        for (let i = 12; i < 20; i++) await log.record(entry(i))
        const cp = await log.checkpoint()
        await log.close()
        return { note: cp.note }
      }
      const problems = async (trusted: string[] = []): Promise<string> => {
        const report = await verifyAuditStore(store(), { publicKey: signer.publicKey, trusted })
        expect(report.ok).toBe(false)
        return report.problems.join('\n')
      }

      it('detects an edited entry, also when its leaf hash was recomputed', async () => {
        await build()
        const row = (await store().range(5, 1))[0]!
        const forged = row.text.replace('"allow"', '"deny"')
        await fixture!.tamper.editEntry(5, forged, false)
        expect(await problems()).toMatch(/entry 5 was edited/)
        await fixture!.tamper.editEntry(5, forged, true)
        expect(await problems()).toMatch(/does not match the stored entries/)
        await expect(open()).rejects.toThrow(/does not match its latest signed checkpoint/)
      })

      it('detects a deleted entry', async () => {
        await build()
        await fixture!.tamper.deleteEntry(3)
        expect(await problems()).toMatch(/entries 3\.\.3 are missing/)
      })

      it('detects two reordered entries', async () => {
        await build()
        await fixture!.tamper.swapEntries(2, 9)
        expect(await problems()).toMatch(/does not match the stored entries/)
      })

      it('detects a truncated tail, and with a checkpoint kept elsewhere also when the checkpoints were cut too', async () => {
        const { note } = await build()
        await fixture!.tamper.truncate(15, false)
        expect(await problems()).toMatch(/truncated/)
        await fixture!.tamper.truncate(12, true)
        const report = await verifyAuditStore(store(), { publicKey: signer.publicKey })
        expect(report.ok).toBe(true) // what is left is self-consistent ...
        expect(await problems([note])).toMatch(/trusted checkpoint #1 covers 20 entries but the store holds only 12/) // ... but not with the saved checkpoint
      })

      it('detects inclusion proofs for edited entries against the signed root', async () => {
        await build()
        const cp = (await store().latestCheckpoint())!
        const log = await open()
        const { proof } = await log.inclusionProof(4, cp.size)
        await log.close()
        const before = (await store().range(4, 1))[0]!
        expect(verifyInclusion(4, cp.size, leafHash(Buffer.from(before.text)), proof, cp.rootHash)).toBe(true)
        await fixture!.tamper.editEntry(4, before.text.replace('analytics', 'marketing'), true)
        const after = (await store().range(4, 1))[0]!
        expect(verifyInclusion(4, cp.size, leafHash(Buffer.from(after.text)), proof, cp.rootHash)).toBe(false)
      })

      it('rejects checkpoints signed by another key', async () => {
        await build()
        const other = createCheckpointSigner('tessera/test', generateKeyPairSync('ed25519').privateKey)
        expect(await verifyAuditStore(store(), { publicKey: other.publicKey }).then((r) => r.problems.join('\n'))).toMatch(/signature|no signature/)
      })
    })
  })
}
