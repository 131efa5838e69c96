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
})
