/**
 * @module Opens the WorkloadStore of the configured backend, for the composition root and the CLI: a SQLite file
 * `<dataDir>/workload.db`, or `workload_*` tables in PostgreSQL.
 */
import { join } from 'node:path'
import type { TesseraConfig } from '../config/config.js'
import { openPostgresWorkloadStore } from '../storage/postgres/workload-store.js'
import { SqliteWorkloadStore } from '../storage/sqlite/workload-store.js'
import type { WorkloadStore } from './workload-store.js'

export function workloadStorePath(dataDir: string): string {
  return join(dataDir, 'workload.db')
}

/** Opens and migrates the workload store. */
export async function openWorkloadStore(config: TesseraConfig, dataDir: string): Promise<WorkloadStore> {
  const store: WorkloadStore = config.store.kind === 'postgres'
    ? await openPostgresWorkloadStore({ url: config.store.url!, schema: config.store.schema, applicationName: 'tessera-workload' })
    : new SqliteWorkloadStore({ path: workloadStorePath(dataDir) })
  try {
    await store.migrate()
  } catch (error) {
    await store.close()
    throw error
  }
  return store
}
