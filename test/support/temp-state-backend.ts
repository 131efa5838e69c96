/** Vitest hook helper: a migrated SQLite state backend in a temp folder, new for each test. */
import { join } from 'node:path'
import { afterEach, beforeEach } from 'vitest'
import { SqliteStateBackend } from '../../src/storage/sqlite/sqlite-backend.js'
import { tempDir } from './factories.js'

/** A migrated SQLite state backend in a temp folder, re-created for each test of the calling `describe`. */
export function useTempStateBackend(): { backend: () => SqliteStateBackend } {
  let backend: SqliteStateBackend | undefined
  let cleanup: (() => void) | undefined
  beforeEach(async () => {
    const t = tempDir()
    cleanup = t.cleanup
    backend = new SqliteStateBackend({ path: join(t.dir, 'state.db'), sync: 'normal' })
    await backend.migrate()
  })
  afterEach(async () => {
    await backend?.close()
    cleanup?.()
  })
  return { backend: () => backend! }
}
