import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { runDataKeyStoreContract } from '../../governance/crypto/data-key-store.contract.js'
import Database from 'better-sqlite3'
import { DATA_KEY_MIGRATIONS, SqliteDataKeyStore } from './data-key-store.js'
import { ThreadedSqliteDataKeyStore } from './data-key-store-thread.js'

runDataKeyStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-keys-'))
  const path = join(dir, 'keys.db')
  const store = new SqliteDataKeyStore(path)
  return {
    store,
    reopen: async () => {
      const other = new SqliteDataKeyStore(path)
      await other.migrate()
      return other
    },
    cleanup: async () => {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})

runDataKeyStoreContract('sqlite on its own thread', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-keys-'))
  const path = join(dir, 'keys.db')
  const store = await ThreadedSqliteDataKeyStore.open(path)
  const others: ThreadedSqliteDataKeyStore[] = []
  return {
    store,
    reopen: async () => {
      const other = await ThreadedSqliteDataKeyStore.open(path)
      others.push(other)
      await other.migrate()
      return other
    },
    cleanup: async () => {
      await store.close()
      for (const o of others) await o.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})

describe('ThreadedSqliteDataKeyStore', () => {
  it('passes the store errors back with their code, replaces a thread that died, and fails every call once closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-keys-'))
    try {
      await expect(ThreadedSqliteDataKeyStore.open(join(dir, 'no-such-dir', 'x', '\u0000keys.db'))).rejects.toThrow()
      const store = await ThreadedSqliteDataKeyStore.open(join(dir, 'keys.db'))
      // Not migrated: the table does not exist, and the write fails as TESSERA_STORE with the adapter's message.
      await expect(store.insertIfAbsent([{ ref: 'r', keyId: 'k', masterKeyId: 'mk-a', wrapped: randomBytes(61), createdAt: 1 }]))
        .rejects.toMatchObject({ name: 'TesseraError', code: 'TESSERA_STORE', message: expect.stringMatching(/could not store data keys.*no such table/) })
      await store.migrate()
      const wrapped = randomBytes(61)
      await store.insertIfAbsent([{ ref: 'r', keyId: 'k', masterKeyId: 'mk-a', wrapped, createdAt: 1 }])
      const [row] = await store.get(['r'])
      expect(Buffer.isBuffer(row!.wrapped) && row!.wrapped.equals(wrapped)).toBe(true)
      // A thread that dies fails its calls as TESSERA_STORE; the next call gets a new thread over the same file.
      const dying = store.terminateThread()
      const pending = store.get(['r']) // sent to the dying thread: never answered
      await dying
      await expect(pending).rejects.toMatchObject({ code: 'TESSERA_STORE', message: expect.stringMatching(/key store thread exited/) })
      expect((await store.get(['r']))[0]!.keyId).toBe('k')
      await store.close()
      await expect(store.get(['r'])).rejects.toThrow(/key store is closed/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('SqliteDataKeyStore shredding', () => {
  it('leaves no byte of a deleted key in the directory (secure_delete, no WAL)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-keys-'))
    try {
      const store = new SqliteDataKeyStore(join(dir, 'keys.db'))
      await store.migrate()
      const wrapped = randomBytes(61)
      const others = Array.from({ length: 20 }, (_, i) => ({ ref: `other-${i}`, keyId: `k${i}`, masterKeyId: 'mk-a', wrapped: randomBytes(61), createdAt: 1 }))
      await store.insertIfAbsent([{ ref: 'victim', keyId: 'kv', masterKeyId: 'mk-a', wrapped, createdAt: 1 }, ...others])
      const scan = (): boolean => readdirSync(dir).some((f) => readFileSync(join(dir, f)).includes(wrapped.subarray(8, 40)))
      expect(scan()).toBe(true)
      expect(await store.delete(['victim'])).toBe(1)
      expect(scan()).toBe(false)
      await store.close()
      expect(scan()).toBe(false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('SqliteDataKeyStore layout (migration 2)', () => {
  it('keeps the rows of a version-1 file, stores new rows in append order and still shreds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-keys-'))
    try {
      const path = join(dir, 'keys.db')
      const v1 = new Database(path)
      v1.exec(DATA_KEY_MIGRATIONS[0]!)
      v1.pragma('user_version = 1')
      const old = Array.from({ length: 30 }, (_, i) => ({ ref: randomBytes(16).toString('base64url'), keyId: `k${i}`, masterKeyId: i % 2 ? 'mk-a' : 'mk-b', wrapped: randomBytes(61), createdAt: 1_000 + i }))
      const insert = v1.prepare('INSERT INTO data_keys (ref, key_id, master_key_id, wrapped, created_at) VALUES (?, ?, ?, ?, ?)')
      for (const k of old) insert.run(k.ref, k.keyId, k.masterKeyId, k.wrapped, k.createdAt)
      v1.close()

      const store = new SqliteDataKeyStore(path)
      await store.migrate()
      expect((await store.get(old.map((k) => k.ref))).sort((a, b) => a.createdAt - b.createdAt)).toEqual(old)
      expect(await store.countByMasterKey()).toEqual({ 'mk-a': 15, 'mk-b': 15 })
      const fresh = Array.from({ length: 10 }, (_, i) => ({ ref: randomBytes(16).toString('base64url'), keyId: `n${i}`, masterKeyId: 'mk-a', wrapped: randomBytes(61), createdAt: 2_000 }))
      await store.insertIfAbsent(fresh)
      await store.close()

      const db = new Database(path, { readonly: true })
      try {
        expect(db.pragma('user_version', { simple: true })).toBe(DATA_KEY_MIGRATIONS.length)
        // Random refs, rows in the order they came: the old ones by creation time, then the new ones as inserted.
        const refs = (db.prepare('SELECT ref FROM data_keys ORDER BY rowid').all() as { ref: string }[]).map((r) => r.ref)
        expect(refs).toEqual([...old, ...fresh].map((k) => k.ref))
        expect(db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'data_keys_master' OR name = 'data_keys_v2'").get()).toEqual({ n: 0 })
      } finally {
        db.close()
      }

      const again = new SqliteDataKeyStore(path)
      await again.migrate()
      const victim = old[7]!
      const scan = (): boolean => readdirSync(dir).some((f) => readFileSync(join(dir, f)).includes(victim.wrapped.subarray(8, 40)))
      expect(scan()).toBe(true)
      expect(await again.delete([victim.ref])).toBe(1)
      await again.close()
      expect(scan()).toBe(false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
