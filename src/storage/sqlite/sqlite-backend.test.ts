import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../../test/support/factories.js'
import { profile, runStateBackendContract } from '../state-backend.contract.js'
import { SqliteStateBackend, openSqliteProfileReader } from './sqlite-backend.js'

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
