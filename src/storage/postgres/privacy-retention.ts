/**
 * @module RetentionStore on PostgreSQL: a pool of its own; each profile's traits are read `FOR UPDATE` and
 * rewritten in one transaction, so a concurrent pipeline write is never lost.
 */
import type { JsonObject } from '../../core/event.js'
import { CLEAR_TRAITS, type RetentionStore, type TraitEdit, type TraitSealing } from '../../governance/retention/retention-store.js'
import type { TopicPartitionOffset } from '../../log/event-log.js'
import { loadPostgresDriver, type PostgresPool } from './postgres-pool.js'
import { inTransaction, num, run } from './postgres-query.js'

export async function openPostgresRetentionStore(options: { url: string; schema: string }, sealing: TraitSealing = CLEAR_TRAITS): Promise<PostgresRetentionStore> {
  const createPool = await loadPostgresDriver()
  return new PostgresRetentionStore(createPool({ url: options.url, schema: options.schema, poolSize: 2, applicationName: 'tessera-retention' }), sealing)
}

export class PostgresRetentionStore implements RetentionStore {
  readonly #pool: PostgresPool
  readonly #sealing: TraitSealing

  /** @param sealing opens and reseals sealed traits. */
  constructor(pool: PostgresPool, sealing: TraitSealing = CLEAR_TRAITS) {
    this.#pool = pool
    this.#sealing = sealing
  }

  async expireEvents(cutoff: number, dryRun: boolean): Promise<number> {
    if (dryRun) {
      const { rows } = await run<{ n: string }>(this.#pool, 'count expired events', 'SELECT count(*) AS n FROM profile_events WHERE timestamp < $1', [cutoff])
      return num(rows[0]!.n)
    }
    const { rows } = await run<{ n: string }>(this.#pool, 'delete expired events',
      'WITH d AS (DELETE FROM profile_events WHERE timestamp < $1 RETURNING 1) SELECT count(*) AS n FROM d', [cutoff])
    return num(rows[0]!.n)
  }

  async editTraitsOlderThan(cutoff: number, edit: TraitEdit, dryRun: boolean): Promise<number> {
    const { rows } = await run<{ id: string }>(this.#pool, 'find profiles with expired traits',
      'SELECT id FROM profiles WHERE EXISTS (SELECT 1 FROM jsonb_each_text(trait_times) AS t WHERE t.value::numeric < $1)', [cutoff])
    let changed = 0
    for (const { id } of rows) {
      await inTransaction(this.#pool, 'apply retention to a profile', async (client) => {
        const { rows: found } = await run<{ traits: JsonObject; sealed_traits: string | null; trait_times: Record<string, number> }>(client, 'read traits',
          'SELECT traits, sealed_traits, trait_times FROM profiles WHERE id = $1 FOR UPDATE', [id])
        const row = found[0]
        const traits = row ? (await this.#sealing.openTraits([{ id, traits: row.traits, ...(row.sealed_traits === null ? {} : { sealedTraits: row.sealed_traits }) }]))[0]! : null
        const next = row && traits ? edit({ id, traits, traitTimes: row.trait_times }) : null
        if (next) {
          changed++
          if (!dryRun) {
            const [stored] = await this.#sealing.sealTraits([{ id, traits: next.traits }])
            await run(client, 'rewrite traits', 'UPDATE profiles SET traits = $1::jsonb, sealed_traits = $2, trait_times = $3::jsonb WHERE id = $4',
              [JSON.stringify(stored!.traits), stored!.sealedTraits ?? null, JSON.stringify(next.traitTimes), id])
          }
        }
      })
    }
    return changed
  }

  async committedOffsets(group: string, topic: string): Promise<readonly TopicPartitionOffset[]> {
    const { rows } = await run<{ partition: number; next_offset: string }>(this.#pool, 'read consumer offsets',
      'SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2 ORDER BY partition', [group, topic])
    return rows.map((r) => ({ topic, partition: Number(r.partition), offset: num(r.next_offset) }))
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}
