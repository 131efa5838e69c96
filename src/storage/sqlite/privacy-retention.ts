/**
 * @module RetentionStore on SQLite: its own write connection to the state file (WAL, busy timeout), so it can
 * run next to the pipeline; each profile's traits are read and rewritten in one IMMEDIATE transaction.
 */
import Database from 'better-sqlite3'
import { TesseraError } from '../../core/errors.js'
import { CLEAR_TRAITS, type RetentionStore, type TraitEdit, type TraitSealing } from '../../governance/retention/retention-store.js'
import type { TopicPartitionOffset } from '../../log/event-log.js'
import type { SqliteDatabase } from './sqlite-database.js'

export class SqliteRetentionStore implements RetentionStore {
  readonly #db: SqliteDatabase
  readonly #sealing: TraitSealing

  /** @param path the state file (migrated already). @param sealing opens and reseals sealed traits. */
  constructor(path: string, sealing: TraitSealing = CLEAR_TRAITS) {
    this.#sealing = sealing
    try {
      this.#db = new Database(path, { fileMustExist: true }) as unknown as SqliteDatabase
    } catch (cause) {
      throw new TesseraError('TESSERA_STORE', `cannot open the state store ${path}: ${(cause as Error).message}`, { cause })
    }
    this.#db.pragma('busy_timeout = 10000')
  }

  async expireEvents(cutoff: number, dryRun: boolean): Promise<number> {
    const sql = dryRun ? 'SELECT count(*) AS n FROM profile_events WHERE timestamp < ?' : 'DELETE FROM profile_events WHERE timestamp < ?'
    if (dryRun) return (this.#db.prepare(sql).get(cutoff) as { n: number }).n
    return this.#db.prepare(sql).run(cutoff).changes
  }

  async editTraitsOlderThan(cutoff: number, edit: TraitEdit, dryRun: boolean): Promise<number> {
    const ids = (this.#db.prepare(`SELECT id FROM profiles WHERE EXISTS (SELECT 1 FROM json_each(profiles.trait_times) WHERE value < ?)`)
      .all(cutoff) as { id: string }[]).map((r) => r.id)
    const read = this.#db.prepare('SELECT id, traits, sealed_traits, trait_times FROM profiles WHERE id = ?')
    const write = this.#db.prepare('UPDATE profiles SET traits = ?, sealed_traits = ?, trait_times = ? WHERE id = ?')
    let changed = 0
    for (const id of ids) {
      this.#db.exec('BEGIN IMMEDIATE')
      try {
        const row = read.get(id) as { id: string; traits: string; sealed_traits: string | null; trait_times: string } | undefined
        const traits = row ? (await this.#sealing.openTraits([{ id, traits: JSON.parse(row.traits), ...(row.sealed_traits === null ? {} : { sealedTraits: row.sealed_traits }) }]))[0]! : null
        const next = row && traits ? edit({ id, traits, traitTimes: JSON.parse(row.trait_times) }) : null
        if (next) {
          changed++
          if (!dryRun) {
            const [stored] = await this.#sealing.sealTraits([{ id, traits: next.traits }])
            write.run(JSON.stringify(stored!.traits), stored!.sealedTraits ?? null, JSON.stringify(next.traitTimes), id)
          }
        }
        this.#db.exec('COMMIT')
      } catch (error) {
        this.#db.exec('ROLLBACK')
        throw error
      }
    }
    return changed
  }

  async committedOffsets(group: string, topic: string): Promise<readonly TopicPartitionOffset[]> {
    const rows = this.#db.prepare('SELECT partition, next_offset FROM consumer_offsets WHERE group_id = ? AND topic = ? ORDER BY partition').all(group, topic) as { partition: number; next_offset: number }[]
    return rows.map((r) => ({ topic, partition: Number(r.partition), offset: Number(r.next_offset) }))
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}
