import { adminQuery, dropSchema, freshSchemaName, requirePostgres } from '../../../test/support/services.js'
import { runAuditStoreContract } from '../../governance/audit-store.contract.js'
import { leafHash } from '../../governance/merkle.js'
import { openPostgresAuditStore } from './audit-store.js'

const url = await requirePostgres()

if (url) {
  runAuditStoreContract('postgres', async () => {
    const schema = freshSchemaName('audit')
    const open = (): ReturnType<typeof openPostgresAuditStore> => openPostgresAuditStore({ url, schema, applicationName: 'tessera-test-audit' })
    const store = await open()
    /** Runs as an attacker with table access: the append-only triggers are switched off first. */
    const raw = async (sql: string, values: unknown[] = []): Promise<void> => {
      await adminQuery(url, `ALTER TABLE ${schema}.audit_entries DISABLE TRIGGER USER; ALTER TABLE ${schema}.audit_checkpoints DISABLE TRIGGER USER`)
      await adminQuery(url, sql.replaceAll('$S.', `${schema}.`), values)
    }
    return {
      store,
      reopen: open,
      tamper: {
        editEntry: (seq, text, fix) => raw(fix ? 'UPDATE $S.audit_entries SET entry = $1, leaf_hash = $2 WHERE seq = $3' : 'UPDATE $S.audit_entries SET entry = $1 WHERE seq = $2',
          fix ? [text, leafHash(Buffer.from(text)), seq] : [text, seq]),
        deleteEntry: (seq) => raw('DELETE FROM $S.audit_entries WHERE seq = $1', [seq]),
        swapEntries: (a, b) => raw(`UPDATE $S.audit_entries AS t SET entry = o.entry, leaf_hash = o.leaf_hash FROM $S.audit_entries AS o
          WHERE (t.seq = $1 AND o.seq = $2) OR (t.seq = $2 AND o.seq = $1)`, [a, b]),
        plainDelete: async (seq) => {
          await adminQuery(url, `DELETE FROM ${schema}.audit_entries WHERE seq = $1`, [seq])
        },
        truncate: async (from, checkpoints) => {
          await raw('DELETE FROM $S.audit_entries WHERE seq >= $1', [from])
          if (checkpoints) await raw('DELETE FROM $S.audit_checkpoints WHERE tree_size > $1', [from])
        },
      },
      cleanup: async () => {
        await store.close()
        await dropSchema(url, schema)
      },
    }
  })
}
