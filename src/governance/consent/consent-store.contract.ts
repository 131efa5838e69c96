/**
 * @module The ConsentStore contract suite: what every adapter (SQLite, PostgreSQL) must do. Call
 * {@link runConsentStoreContract} from the adapter's test file.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ConsentRecordInput } from './consent-record.js'
import type { ConsentStore } from './consent-store.js'

export interface ConsentStoreFixture {
  readonly store: ConsentStore
  /** A second store on the same data (another process). */
  readonly reopen: () => Promise<ConsentStore>
  /** Runs a plain UPDATE and DELETE on the records with the triggers in place (both must be refused). */
  readonly tryRewrite: () => Promise<{ update: boolean; remove: boolean }>
  readonly cleanup: () => Promise<void>
}

export function record(identifier: string, purpose: string, state: ConsentRecordInput['state'], time: number, extra: Partial<ConsentRecordInput> = {}): ConsentRecordInput {
  return {
    identifier, purpose, state, source: 'api', legalBasis: 'consent', jurisdiction: 'EU', time,
    evidence: { valid: state !== 'invalid', raw: 'CP…', sourceId: 'web', decoded: { purposeConsents: [1, 2] } }, ...extra,
  }
}

export function runConsentStoreContract(name: string, create: () => Promise<ConsentStoreFixture>): void {
  describe(`ConsentStore contract: ${name}`, () => {
    let fixture: ConsentStoreFixture | undefined
    const store = (): ConsentStore => fixture!.store

    beforeEach(async () => {
      fixture = await create()
      await store().migrate()
      await store().migrate() // idempotent
    })
    afterEach(async () => {
      await fixture?.cleanup()
      fixture = undefined
    })

    it('appends in order and gives increasing seqs, keeping every field and the evidence', async () => {
      const a = await store().append([record('email:a@x.eu', 'advertising', 'granted', 1000), record('email:a@x.eu', 'analytics', 'denied', 1001, { source: 'segment', jurisdiction: 'UNKNOWN' })])
      const b = await store().append([record('user_id:u1', 'advertising', 'denied', 1002, { source: 'gpc', legalBasis: 'consent' })])
      expect(a).toHaveLength(2)
      expect(a[1]!).toBeGreaterThan(a[0]!)
      expect(b[0]!).toBeGreaterThan(a[1]!)
      const h = await store().history('email:a@x.eu', { limit: 10 })
      expect(h.map((r) => r.purpose)).toEqual(['advertising', 'analytics'])
      expect(h[0]).toEqual({ ...record('email:a@x.eu', 'advertising', 'granted', 1000), seq: a[0] })
      expect(h[1]).toMatchObject({ source: 'segment', state: 'denied', jurisdiction: 'UNKNOWN', time: 1001 })
      expect(await store().append([])).toEqual([])
    })

    it('answers the latest valid record per identifier and purpose, and the latest grant naming a jurisdiction', async () => {
      await store().append([
        record('email:a@x.eu', 'advertising', 'granted', 1),
        record('email:a@x.eu', 'advertising', 'denied', 2),
        record('email:a@x.eu', 'advertising', 'invalid', 3, { purpose: '*' }),
        record('email:a@x.eu', 'analytics', 'granted', 4, { jurisdiction: 'UNKNOWN' }),
        record('anonymous_id:d1', 'advertising', 'granted', 5, { jurisdiction: 'US-CA' }),
        record('user_id:other', 'advertising', 'denied', 6),
      ])
      const latest = await store().latest(['email:a@x.eu', 'anonymous_id:d1', 'user_id:nobody'])
      const key = (r: { identifier: string; purpose: string; state: string }): string => `${r.identifier}/${r.purpose}/${r.state}`
      expect(latest.map(key)).toEqual(expect.arrayContaining(['email:a@x.eu/advertising/denied', 'email:a@x.eu/analytics/granted', 'anonymous_id:d1/advertising/granted']))
      // The older grant comes too, as the latest grant that names a jurisdiction (later records still win per purpose).
      const advertising = latest.filter((r) => r.identifier === 'email:a@x.eu' && r.purpose === 'advertising')
      expect(advertising.reduce((a, b) => (a.seq > b.seq ? a : b)).state).toBe('denied')
      expect(latest.some((r) => r.identifier === 'user_id:other' || r.state === 'invalid')).toBe(false)
      const seqs = latest.map((r) => r.seq)
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs)
      expect(await store().latest([])).toEqual([])
    })

    it('pages an identifier\'s history, invalid records included', async () => {
      await store().append(Array.from({ length: 5 }, (_, i) => record('email:p@x.eu', i === 2 ? '*' : 'analytics', i === 2 ? 'invalid' : 'granted', i)))
      const first = await store().history('email:p@x.eu', { limit: 3 })
      expect(first.map((r) => r.time)).toEqual([0, 1, 2])
      const next = await store().history('email:p@x.eu', { limit: 3, afterSeq: first[2]!.seq })
      expect(next.map((r) => r.time)).toEqual([3, 4])
    })

    it('sees what another instance appended, and refuses UPDATE and DELETE', async () => {
      const other = await fixture!.reopen()
      try {
        await other.append([record('email:b@x.eu', 'analytics', 'denied', 9)])
        expect((await store().latest(['email:b@x.eu']))[0]).toMatchObject({ state: 'denied' })
        const seqs = await store().append([record('email:b@x.eu', 'analytics', 'granted', 10)])
        expect((await other.history('email:b@x.eu', { limit: 10 })).map((r) => r.seq)).toContain(seqs[0])
      } finally {
        await other.close()
      }
      expect(await fixture!.tryRewrite()).toEqual({ update: false, remove: false })
      expect((await store().history('email:b@x.eu', { limit: 10 })).map((r) => r.state)).toEqual(['denied', 'granted'])
    })

    it('pages the identifiers that have records, each once, in byte order, as latest() takes them back', async () => {
      expect(await store().identifiers({ limit: 10 })).toEqual([])
      await store().append([
        record('user_id:b', 'analytics', 'denied', 1), record('email:z@example.com', 'analytics', 'granted', 2), record('user_id:b', 'advertising', 'denied', 3),
        record('user_id:B', 'analytics', 'granted', 4), record('user_id:a', 'analytics', 'granted', 5),
      ])
      // A store may keep identifiers in another form (the pseudonymous decorator): the page is in its own form.
      const first = await store().identifiers({ limit: 2 })
      const second = await store().identifiers({ limit: 2, after: first.at(-1)! })
      const all = [...first, ...second]
      expect(all).toHaveLength(4)
      expect(new Set(all).size).toBe(4)
      expect([...all].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))).toEqual(all)
      expect(await store().identifiers({ limit: 2, after: all.at(-1)! })).toEqual([])
      const latest = await store().latest(all)
      expect(latest).toHaveLength(5)
      for (const r of latest) expect(all).toContain(r.identifier)
      // user_id:b's two refusals come back under one identifier of the page.
      expect(new Set(latest.filter((r) => r.state === 'denied').map((r) => r.identifier)).size).toBe(1)
    })

    it('follows the ledger: changes() names every identifier appended after a position, a page at a time, then none', async () => {
      const start = await store().changes(null, 10)
      expect(start).toMatchObject({ identifiers: [], more: false })
      expect((await store().changes(start.next, 10)).identifiers).toEqual([])
      await store().append([record('user_id:a', 'analytics', 'denied', 1), record('user_id:b', 'analytics', 'granted', 2), record('user_id:a', 'advertising', 'denied', 3)])
      await store().append([record('user_id:c', 'analytics', 'denied', 4)])
      // A store may keep identifiers in another form (the pseudonymous decorator): compare through latest().
      const named: string[] = []
      let cursor = start.next
      for (let pages = 0; ; pages++) {
        expect(pages).toBeLessThan(10)
        const page = await store().changes(cursor, 2)
        named.push(...page.identifiers)
        cursor = page.next
        if (!page.more) break
      }
      const seen = new Set((await store().latest([...new Set(named)])).map((r) => r.identifier))
      expect(seen.size).toBe(3)
      // From the last position: nothing new, until something is appended (seen by another connection too).
      const after = await store().changes(cursor, 10)
      expect(after.identifiers).toEqual([])
      const other = await fixture!.reopen()
      try {
        await other.append([record('user_id:d', 'analytics', 'denied', 5)])
      } finally {
        await other.close()
      }
      const later = await store().changes(after.next, 10)
      expect((await store().latest([...later.identifiers])).map((r) => r.time)).toEqual([5])
      await expect(store().changes('not a position', 10)).rejects.toThrow(/position/)
    })

    it('keeps identifiers apart byte for byte (no case folding, no prefix matches)', async () => {
      await store().append([record('user_id:Ann', 'analytics', 'denied', 1), record('user_id:ann', 'analytics', 'granted', 2), record('user_id:ann2', 'analytics', 'denied', 3)])
      const l = await store().latest(['user_id:ann'])
      expect(l.map((r) => [r.identifier, r.state])).toEqual([['user_id:ann', 'granted']])
    })
  })
}
