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

  it('refuses a second transaction while one is running', async () => {
    const t = tempDir()
    const backend = new SqliteStateBackend({ path: join(t.dir, 'state.db'), sync: 'normal' })
    await backend.migrate()
    await backend.transaction(async () => {
      await expect(backend.transaction(async () => undefined)).rejects.toThrow(/already running/)
    })
    await backend.close()
    t.cleanup()
  })
})
