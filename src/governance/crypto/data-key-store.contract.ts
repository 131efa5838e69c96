/**
 * @module The DataKeyStore contract suite, run against every adapter (src/storage/{sqlite,postgres}/data-key-store.test.ts).
 */
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { DataKeyStore, StoredDataKey } from './data-key-store.js'

export interface DataKeyStoreFixture {
  readonly store: DataKeyStore
  /** A second connection to the same store (another process). */
  readonly reopen: () => Promise<DataKeyStore>
  readonly cleanup: () => Promise<void>
}

function row(ref: string, masterKeyId = 'mk-a', keyId = randomBytes(8).toString('hex')): StoredDataKey {
  return { ref, keyId, masterKeyId, wrapped: randomBytes(61), createdAt: 1_700_000_000_000 }
}

export function runDataKeyStoreContract(name: string, create: () => Promise<DataKeyStoreFixture>): void {
  describe(`DataKeyStore contract: ${name}`, () => {
    let f: DataKeyStoreFixture
    beforeEach(async () => {
      f = await create()
      await f.store.migrate()
    })
    afterEach(async () => {
      await f.cleanup()
    })

    it('migrates idempotently', async () => {
      await f.store.migrate()
      expect(await f.store.countDataKeys()).toBe(0)
    })

    it('stores a row once: the first writer wins, later writers get the stored row back', async () => {
      const first = row('ref-1')
      expect(await f.store.insertIfAbsent([first])).toEqual([first])
      const other = await f.reopen()
      try {
        const second = row('ref-1')
        const [got] = (await other.insertIfAbsent([second, row('ref-2')])) as [StoredDataKey, StoredDataKey]
        expect(got.keyId).toBe(first.keyId)
        expect(got.wrapped.equals(first.wrapped)).toBe(true)
      } finally {
        await other.close()
      }
      expect(await f.store.get(['ref-1', 'absent'])).toEqual([first])
    })

    it('returns the wrapped bytes exactly and gets many refs at once', async () => {
      const rows = Array.from({ length: 50 }, (_, i) => row(`r-${i}`))
      await f.store.insertIfAbsent(rows)
      const got = await f.store.get(rows.map((r) => r.ref))
      expect(got.sort((a, b) => a.ref.localeCompare(b.ref))).toEqual([...rows].sort((a, b) => a.ref.localeCompare(b.ref)))
      expect(await f.store.get([])).toEqual([])
    })

    it('deletes (shreds) rows and counts what existed; a new row for the ref can be created afterwards', async () => {
      await f.store.insertIfAbsent([row('a')])
      await f.store.insertIfAbsent([row('b')])
      expect(await f.store.delete(['a', 'zz'])).toBe(1)
      expect(await f.store.get(['a', 'b'])).toHaveLength(1)
      expect(await f.store.delete([])).toBe(0)
      const again = row('a')
      expect((await f.store.insertIfAbsent([again]))[0]!.keyId).toBe(again.keyId)
    })

    it('counts data keys without reserved refs, and rows per master key', async () => {
      await f.store.insertIfAbsent([row('~root', 'mk-a')])
      await f.store.insertIfAbsent([row('x', 'mk-a')])
      await f.store.insertIfAbsent([row('y', 'mk-b')])
      expect(await f.store.countDataKeys()).toBe(2)
      expect(await f.store.countByMasterKey()).toEqual({ 'mk-a': 2, 'mk-b': 1 })
    })

    it('pages through rows not wrapped by a master key and re-wraps them with compare-and-set', async () => {
      for (let i = 0; i < 7; i++) await f.store.insertIfAbsent([row(`k${i}`, i % 2 === 0 ? 'mk-old' : 'mk-new')])
      const seen: StoredDataKey[] = []
      let after = ''
      for (;;) {
        const page = await f.store.notWrappedBy('mk-new', after, 2)
        if (page.length === 0) break
        seen.push(...page)
        after = page[page.length - 1]!.ref
      }
      expect(seen.map((r) => r.ref)).toEqual(['k0', 'k2', 'k4', 'k6'])
      const target = seen[0]!
      const wrapped = randomBytes(61)
      expect(await f.store.rewrap(target.ref, target.keyId, 'mk-wrong', { masterKeyId: 'mk-new', wrapped })).toBe(false)
      expect(await f.store.rewrap(target.ref, 'other-key-id', 'mk-old', { masterKeyId: 'mk-new', wrapped })).toBe(false)
      expect(await f.store.rewrap(target.ref, target.keyId, 'mk-old', { masterKeyId: 'mk-new', wrapped })).toBe(true)
      const [stored] = await f.store.get([target.ref])
      expect(stored!.masterKeyId).toBe('mk-new')
      expect(stored!.wrapped.equals(wrapped)).toBe(true)
      expect(stored!.keyId).toBe(target.keyId)
      expect(await f.store.rewrap('gone', 'x', 'mk-old', { masterKeyId: 'mk-new', wrapped })).toBe(false)
      expect((await f.store.notWrappedBy('mk-new', '', 100)).map((r) => r.ref)).toEqual(['k2', 'k4', 'k6'])
    })

    it('keeps rows across a reopen', async () => {
      const r = row('persist')
      await f.store.insertIfAbsent([r])
      const other = await f.reopen()
      try {
        expect(await other.get(['persist'])).toEqual([r])
      } finally {
        await other.close()
      }
    })
  })
}
