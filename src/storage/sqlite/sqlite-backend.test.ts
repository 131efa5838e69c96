import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../../test/support/factories.js'
import { profile, runStateBackendContract } from '../state-backend.contract.js'
import { SqliteStateBackend, openSqliteProfileReader } from './sqlite-backend.js'
import { MIGRATIONS } from './sqlite-migrations.js'

runStateBackendContract('sqlite', async () => {
  const t = tempDir()
  const backend = new SqliteStateBackend({ path: join(t.dir, 'state.db'), sync: 'normal' })
  return {
    backend,
    cleanup: async () => {
      await backend.close()
      t.cleanup()
    },
  }
})

describe('SqliteStateBackend (SQLite only)', () => {
  it('serves a read-only reader on the state file that sees committed writes', async () => {
    const t = tempDir()
    const path = join(t.dir, 'state.db')
    const backend = new SqliteStateBackend({ path, sync: 'normal' })
    await backend.migrate()
    const reader = openSqliteProfileReader(path)
    await backend.transaction((tx) => tx.profiles.put([profile('p1')]))
    expect((await reader.profile('p1'))?.id).toBe('p1')
    await reader.close()
    await backend.close()
    t.cleanup()
  })

  it('refuses a transaction started inside another one', async () => {
    const t = tempDir()
    const backend = new SqliteStateBackend({ path: join(t.dir, 'state.db'), sync: 'normal' })
    await backend.migrate()
    await backend.transaction(async () => {
      await expect(backend.transaction(async () => undefined)).rejects.toThrow(/inside another one/)
    })
    await backend.close()
    t.cleanup()
  })

  it('runs transactions from independent callers one after another on its one connection', async () => {
    const t = tempDir()
    const backend = new SqliteStateBackend({ path: join(t.dir, 'state.db'), sync: 'normal' })
    await backend.migrate()
    const order: string[] = []
    const slow = backend.transaction(async (tx) => {
      order.push('a begins')
      await new Promise((r) => setTimeout(r, 30))
      await tx.profiles.put([profile('a')])
      order.push('a ends')
    })
    const quick = backend.transaction(async (tx) => {
      order.push('b begins')
      await tx.profiles.put([profile('b')])
      order.push('b ends')
    })
    const failing = backend.transaction(async () => { throw new Error('rolled back') })
    await Promise.all([slow, quick, expect(failing).rejects.toThrow('rolled back')])
    expect(order).toEqual(['a begins', 'a ends', 'b begins', 'b ends'])
    await backend.transaction(async () => undefined) // a failed transaction does not block the next
    await backend.close()
    t.cleanup()
  })
})

describe('SQLite state migration 9 (identifiers in append order)', () => {
  it('keeps the identifiers of a version-8 state, appends new ones after them and keeps the audit triggers working', async () => {
    const t = tempDir()
    try {
      const path = join(t.dir, 'state.db')
      const v8 = new Database(path)
      for (let v = 0; v < 8; v++) v8.exec(MIGRATIONS[v]!)
      v8.pragma('user_version = 8')
      const insert = v8.prepare('INSERT INTO identifiers (key, type, value, profile_id, first_seen, sealed) VALUES (?, ?, ?, ?, ?, ?)')
      const old = [['~zz', 'email', '~zz', 'p1', 30, 'sealed-1'], ['~aa', 'user_id', '~aa', 'p1', 10, null], ['~mm', 'anonymous_id', '~mm', 'p2', 20, null]] as const
      for (const row of old) insert.run(...row)
      v8.close()

      const backend = new SqliteStateBackend({ path, sync: 'normal' })
      await backend.migrate()
      await backend.transaction((tx) => tx.identity.apply({
        nodes: [{ key: '~bb', type: 'email', value: '~bb', profileId: 'p1', firstSeen: 40 }],
        repoints: [{ from: 'p2', to: 'p1' }],
        edges: [{ from: '~bb', to: '~zz', rule: 'probabilistic', messageId: 'm1', sourceId: 's', eventTime: 40, confidence: 0.97 }],
        merges: [], rejections: [],
      }))
      expect([...(await backend.transaction((tx) => tx.identity.lookup(['~aa', '~bb', '~zz', '~none'])))].sort())
        .toEqual([['~aa', 'p1'], ['~bb', 'p1'], ['~zz', 'p1']])
      await backend.close()

      const db = new Database(path, { readonly: true })
      try {
        expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length)
        // Old rows by first sight, then the new one; repointed rows moved profile without moving place.
        expect(db.prepare('SELECT key, profile_id, sealed FROM identifiers ORDER BY rowid').all()).toEqual([
          { key: '~aa', profile_id: 'p1', sealed: null }, { key: '~mm', profile_id: 'p1', sealed: null },
          { key: '~zz', profile_id: 'p1', sealed: 'sealed-1' }, { key: '~bb', profile_id: 'p1', sealed: null },
        ])
        expect(db.prepare("SELECT name FROM sqlite_schema WHERE tbl_name = 'identifiers' AND type = 'index' AND sql IS NOT NULL").all())
          .toEqual([{ name: 'identifiers_profile' }])
        // The match trigger reads the profile of the edge's first key from the migrated table.
        expect(db.prepare("SELECT kind, profile_a, key_a FROM identity_audit_outbox").all()).toEqual([{ kind: 'match', profile_a: 'p1', key_a: '~bb' }])
      } finally {
        db.close()
      }
    } finally {
      t.cleanup()
    }
  })
})
