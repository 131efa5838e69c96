/**
 * @module Scenario `baseline-sql-stitching`: warehouse-style identity stitching of the same events Tessera
 * resolved in `resolve-100k` (or the quick run's smaller resolve), in SQL with DuckDB, as dbt-id-stitching /
 * RudderStack-style models do: load the events, build the identifier edges of each event (user_id, e-mail
 * lower-cased and trimmed, anonymous id; an alias's previousId as an anonymous id), then label propagation (each
 * identifier takes the smallest label among itself and its neighbours) until no label changes.
 *
 * Agreement: the resulting partition of identifiers is compared with Tessera's (the `identifiers` table of the
 * resolve scenario's state). The workload never triggers merge protection (one user_id and one e-mail per person,
 * no identifier shared between people), and the resolve scenario fails if merge protection fired, so the two
 * must agree exactly; the scenario fails if they do not. Repeated; the median run is reported.
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api'
import { comparePartitions } from '../lib/partition-agreement.js'
import { median, round } from '../lib/stats.js'
import type { ScenarioResult } from '../lib/result.js'

export interface SqlStitchingOptions {
  /** Directory of the resolve scenario: `events.ndjson` and `state.db`. */
  readonly dir: string
  readonly repeats: number
  /** Name of the resolve scenario whose result is compared. */
  readonly against: string
}

interface Pass {
  readonly seconds: number
  readonly stitchSeconds: number
  readonly iterations: number
  readonly events: number
  readonly edges: number
  readonly nodes: number
}

async function scalar(c: DuckDBConnection, sql: string): Promise<number> {
  const rows = (await c.runAndReadAll(sql)).getRows()
  return Number(rows[0]![0])
}

async function stitch(c: DuckDBConnection, eventsFile: string): Promise<Pass> {
  const started = performance.now()
  const file = eventsFile.replace(/'/g, "''")
  await c.run(`CREATE OR REPLACE TABLE events AS SELECT row_number() OVER () AS ev, * FROM read_json('${file}',
    format = 'newline_delimited', columns = {type: 'VARCHAR', userId: 'VARCHAR', anonymousId: 'VARCHAR', previousId: 'VARCHAR', traits: 'JSON'})`)
  await c.run(`CREATE OR REPLACE TABLE event_ids AS
    SELECT ev, unnest(list_filter([
      'user_id:' || trim(userId),
      'email:' || lower(trim(traits ->> 'email')),
      'anonymous_id:' || trim(anonymousId),
      CASE WHEN type = 'alias' THEN 'anonymous_id:' || trim(previousId) END
    ], x -> x IS NOT NULL)) AS key FROM events`)
  await c.run('CREATE OR REPLACE TABLE nodes AS SELECT key, row_number() OVER (ORDER BY key) AS id FROM (SELECT DISTINCT key FROM event_ids)')
  await c.run(`CREATE OR REPLACE TABLE edges AS
    SELECT DISTINCT na.id AS src, nb.id AS dst FROM event_ids a JOIN event_ids b ON a.ev = b.ev AND a.key <> b.key
    JOIN nodes na ON na.key = a.key JOIN nodes nb ON nb.key = b.key`)
  const stitchStart = performance.now()
  await c.run('CREATE OR REPLACE TABLE labels AS SELECT id, id AS label FROM nodes')
  let iterations = 0
  for (;;) {
    iterations++
    await c.run(`CREATE OR REPLACE TABLE next_labels AS
      SELECT l.id, least(l.label, coalesce(min(n.label), l.label)) AS label
      FROM labels l LEFT JOIN edges e ON e.src = l.id LEFT JOIN labels n ON n.id = e.dst GROUP BY l.id, l.label`)
    const changed = await scalar(c, 'SELECT count(*) FROM next_labels n JOIN labels l USING (id) WHERE n.label <> l.label')
    await c.run('DROP TABLE labels')
    await c.run('ALTER TABLE next_labels RENAME TO labels')
    if (changed === 0) break
    if (iterations > 100) throw new Error('label propagation did not converge in 100 iterations')
  }
  const end = performance.now()
  return {
    seconds: (end - started) / 1000, stitchSeconds: (end - stitchStart) / 1000, iterations,
    events: await scalar(c, 'SELECT count(*) FROM events'),
    edges: await scalar(c, 'SELECT count(*) FROM edges'),
    nodes: await scalar(c, 'SELECT count(*) FROM nodes'),
  }
}

export async function runSqlStitching(options: SqlStitchingOptions): Promise<ScenarioResult> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' })
  const c = await instance.connect()
  const passes: Pass[] = []
  try {
    for (let i = 0; i < options.repeats; i++) passes.push(await stitch(c, join(options.dir, 'events.ndjson')))
    const reader = await c.runAndReadAll('SELECT n.key, l.label FROM nodes n JOIN labels l USING (id)')
    const sql = new Map<string, string>(reader.getRows().map((r) => [String(r[0]), String(r[1])]))
    const db = new Database(join(options.dir, 'state.db'), { readonly: true, fileMustExist: true })
    const tessera = new Map<string, string>(
      (db.prepare('SELECT key, profile_id FROM identifiers').all() as { key: string; profile_id: string }[]).map((r) => [r.key, r.profile_id]))
    const protectionFired = (db.prepare("SELECT count(*) AS n FROM identity_rejections WHERE reason = 'merge_protection'").get() as { n: number }).n
    db.close()
    const agreement = comparePartitions(tessera, sql)
    if (!agreement.agree) {
      throw new Error(`SQL stitching and Tessera (${options.against}) disagree: ${agreement.examples.join('; ')}`)
    }
    const rates = passes.map((p) => p.events / p.seconds)
    const mid = passes[rates.indexOf(median(rates))] ?? passes[0]!
    return {
      name: 'baseline-sql-stitching',
      events_per_s: round(median(rates), 0),
      rss_mb: round(process.memoryUsage().rss / 2 ** 20, 0),
      measures: `DuckDB (2 threads): load ${mid.events.toLocaleString('en-US')} events from NDJSON, build identifier edges, label propagation to convergence`,
      events: mid.events, edges: mid.edges, identifiers: mid.nodes, iterations: mid.iterations,
      stitch_only_seconds: round(median(passes.map((p) => p.stitchSeconds)), 3),
      total_seconds: round(median(passes.map((p) => p.seconds)), 3),
      repeats: options.repeats,
      runs_events_per_s: rates.map((r) => Math.round(r)),
      agreement: {
        compared_with: options.against, agree: true, identifiers: agreement.keys, profiles: agreement.groupsA,
        workload: 'no merge-protection rule can fire (one user_id and one e-mail per person, no shared identifiers)',
        merge_protection_rejections: protectionFired,
      },
    }
  } finally {
    c.closeSync()
    instance.closeSync()
  }
}
