import { join } from 'node:path'
import Database from 'better-sqlite3'
import { tempDir } from '../../../test/support/factories.js'
import { runAuditStoreContract } from '../../governance/audit-store.contract.js'
import { leafHash } from '../../governance/merkle.js'
import { SqliteAuditStore } from './audit-store.js'

runAuditStoreContract('sqlite', async () => {
  const t = tempDir()
  const path = join(t.dir, 'audit.db')
  const store = new SqliteAuditStore({ path })
  const raw = (sql: string, ...params: unknown[]): void => {
    const db = new Database(path)
    db.exec('DROP TRIGGER IF EXISTS audit_entries_no_update; DROP TRIGGER IF EXISTS audit_entries_no_delete; DROP TRIGGER IF EXISTS audit_checkpoints_no_delete')
    db.prepare(sql).run(...params)
    db.close()
  }
  return {
    store,
    reopen: async () => new SqliteAuditStore({ path }),
    tamper: {
      editEntry: async (seq, text, fix) => raw(fix ? 'UPDATE audit_entries SET entry = ?, leaf_hash = ? WHERE seq = ?' : 'UPDATE audit_entries SET entry = ? WHERE seq = ?',
        ...(fix ? [text, leafHash(Buffer.from(text)), seq] : [text, seq])),
      deleteEntry: async (seq) => raw('DELETE FROM audit_entries WHERE seq = ?', seq),
      swapEntries: async (a, b) => {
        const db = new Database(path, { readonly: true })
        const get = (seq: number): { entry: string; leaf_hash: Buffer } => db.prepare('SELECT entry, leaf_hash FROM audit_entries WHERE seq = ?').get(seq) as { entry: string; leaf_hash: Buffer }
        const [ra, rb] = [get(a), get(b)]
        db.close()
        raw('UPDATE audit_entries SET entry = ?, leaf_hash = ? WHERE seq = ?', rb.entry, rb.leaf_hash, a)
        raw('UPDATE audit_entries SET entry = ?, leaf_hash = ? WHERE seq = ?', ra.entry, ra.leaf_hash, b)
      },
      plainDelete: async (seq) => {
        const db = new Database(path)
        try {
          db.prepare('DELETE FROM audit_entries WHERE seq = ?').run(seq)
        } finally {
          db.close()
        }
      },
      truncate: async (from, checkpoints) => {
        raw('DELETE FROM audit_entries WHERE seq >= ?', from)
        if (checkpoints) raw('DELETE FROM audit_checkpoints WHERE tree_size > ?', from)
      },
    },
    cleanup: async () => {
      await store.close()
      t.cleanup()
    },
  }
})
