import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../../test/support/factories.js'
import { SqlitePrivacyStore } from '../../storage/sqlite/privacy-store.js'
import { SuppressionList, loadOrCreateSuppressionKey } from './suppression.js'

describe('suppression list', () => {
  it('creates a private 32-byte key once and reads it back', () => {
    const t = tempDir()
    const path = join(t.dir, 'suppression.key')
    const key = loadOrCreateSuppressionKey(path)
    expect(key).toHaveLength(32)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(loadOrCreateSuppressionKey(path).equals(key)).toBe(true)
    writeFileSync(path, 'not hex')
    expect(() => loadOrCreateSuppressionKey(path)).toThrow(/64 hex digits/)
    t.cleanup()
  })

  it('stores keyed hashes only, and finds the suppressed identifiers among others', async () => {
    const t = tempDir()
    const store = new SqlitePrivacyStore({ path: join(t.dir, 'privacy.db') })
    await store.migrate()
    const list = new SuppressionList(store, Buffer.alloc(32, 7))
    await list.add(['email:ann@example.com', 'user_id:u1'], 'r1', 1)
    expect(await list.suppressedAmong(['email:ann@example.com', 'email:bob@example.com', 'user_id:u1'])).toEqual(new Set(['email:ann@example.com', 'user_id:u1']))
    expect(await list.suppressedAmong([])).toEqual(new Set())
    // The hash depends on the key: another deployment's list does not match.
    const other = new SuppressionList(store, Buffer.alloc(32, 8))
    expect(await other.suppressedAmong(['email:ann@example.com'])).toEqual(new Set())
    expect(list.hash('email:ann@example.com')).toMatch(/^[0-9a-f]{64}$/)
    expect(JSON.stringify(store.db.prepare('SELECT * FROM suppression').all())).not.toContain('ann@example.com')
    await store.close()
    t.cleanup()
  })

  it('memoises hashes within its bound, with the same results as hashing every time', async () => {
    const t = tempDir()
    const store = new SqlitePrivacyStore({ path: join(t.dir, 'privacy.db') })
    await store.migrate()
    const key = Buffer.alloc(32, 7)
    const memo = new SuppressionList(store, key, { memoEntries: 2 })
    const plain = new SuppressionList(store, key, { memoEntries: 0 })
    const ids = ['email:a@example.com', 'email:b@example.com', 'email:c@example.com', 'email:a@example.com', 'email:b@example.com']
    // More identifiers than the memo holds, some repeated after being evicted: every hash matches the uncached one.
    for (const id of [...ids, ...ids]) expect(memo.hash(id)).toBe(plain.hash(id))
    expect(new Set(ids.map((id) => memo.hash(id))).size).toBe(3)
    // A suppression added after its identifier was hashed (and memoised) is found: the memo holds hashes, not answers.
    expect(await memo.suppressedAmong(['email:c@example.com'])).toEqual(new Set())
    await plain.add(['email:c@example.com'], 'r2', 2)
    expect(await memo.suppressedAmong(['email:c@example.com', 'email:a@example.com'])).toEqual(new Set(['email:c@example.com']))
    await store.close()
    t.cleanup()
  })

  it('is empty until someone is erased, through another connection too, and stays non-empty', async () => {
    const t = tempDir()
    const path = join(t.dir, 'privacy.db')
    const pipelineStore = new SqlitePrivacyStore({ path })
    await pipelineStore.migrate()
    const apiStore = new SqlitePrivacyStore({ path })
    const key = Buffer.alloc(32, 7)
    const pipelineList = new SuppressionList(pipelineStore, key)
    expect(await pipelineList.isEmpty()).toBe(true)
    expect(await pipelineList.isEmpty()).toBe(true)
    await new SuppressionList(apiStore, key).add(['email:ann@example.com'], 'r1', 1)
    expect(await pipelineList.isEmpty()).toBe(false)
    expect(await pipelineList.suppressedAmong(['email:ann@example.com'])).toEqual(new Set(['email:ann@example.com']))
    await apiStore.close()
    await pipelineStore.close()
    t.cleanup()
  })
})
