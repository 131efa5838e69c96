/**
 * @module Scenario `baseline-raw-limit`: the machine's raw limit on the benchmark's own events, in one process and
 * with no other work: parse the request bodies the load generator sends (the same JSON), serialise each event
 * and append it to SQLite as the embedded log stores records (a WITHOUT ROWID table keyed by topic, partition and
 * offset; WAL, synchronous=NORMAL, one transaction per 1,000 events). Repeated; the median run is reported.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { median, round } from '../lib/stats.js'
import type { ScenarioResult } from '../lib/result.js'
import { Workload } from '../lib/workload.js'

export interface RawLimitOptions {
  readonly events: number
  readonly repeats: number
  readonly persons: number
  readonly dir: string
  readonly seed: string
}

const TX_EVENTS = 1000
const PARTITIONS = 4

function onePass(bodies: readonly string[], path: string, expected: number): { seconds: number; rows: number } {
  rmSync(path, { force: true })
  rmSync(`${path}-wal`, { force: true })
  rmSync(`${path}-shm`, { force: true })
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(`CREATE TABLE log_records (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL, key TEXT, value TEXT NOT NULL, ts INTEGER NOT NULL,
    PRIMARY KEY (topic, partition, offset)) STRICT, WITHOUT ROWID`)
  const insert = db.prepare('INSERT INTO log_records (topic, partition, offset, key, value, ts) VALUES (?, ?, ?, ?, ?, ?)')
  const next = new Array<number>(PARTITIONS).fill(0)
  let inTx = 0
  const started = performance.now()
  db.exec('BEGIN')
  for (const body of bodies) {
    const parsed = JSON.parse(body) as { batch?: Record<string, unknown>[] } & Record<string, unknown>
    const events = parsed.batch ?? [parsed]
    const ts = Date.now()
    for (const event of events) {
      const key = String(event.userId ?? event.anonymousId ?? '')
      let h = 0
      for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0
      const partition = (h >>> 0) % PARTITIONS
      insert.run('events.raw', partition, next[partition]!++, key, JSON.stringify(event), ts)
      if (++inTx >= TX_EVENTS) {
        db.exec('COMMIT')
        db.exec('BEGIN')
        inTx = 0
      }
    }
  }
  db.exec('COMMIT')
  const seconds = (performance.now() - started) / 1000
  const rows = (db.prepare('SELECT count(*) AS n FROM log_records').get() as { n: number }).n
  db.close()
  if (rows !== expected) throw new Error(`the raw-limit baseline stored ${rows} records for ${expected} events`)
  return { seconds, rows }
}

export function runRawLimit(options: RawLimitOptions): ScenarioResult {
  const workload = new Workload({ seed: options.seed, persons: options.persons })
  const bodies: string[] = []
  let events = 0
  while (events < options.events) {
    const request = workload.request()
    bodies.push(request.body)
    events += request.events.length
  }
  const bytes = bodies.reduce((sum, b) => sum + Buffer.byteLength(b), 0)
  const rates: number[] = []
  for (let i = 0; i < options.repeats; i++) {
    const { seconds } = onePass(bodies, join(options.dir, 'raw-limit.db'), events)
    rates.push(events / seconds)
  }
  return {
    name: 'baseline-raw-limit',
    events_per_s: round(median(rates), 0),
    rss_mb: round(process.memoryUsage().rss / 2 ** 20, 0),
    measures: 'JSON.parse of the load generator\'s request bodies + JSON.stringify per event + SQLite append (WAL, synchronous=NORMAL, 1,000 events per transaction), one process',
    events, requests: bodies.length, mean_event_bytes: Math.round(bytes / events), repeats: options.repeats,
    runs_events_per_s: rates.map((r) => Math.round(r)),
  }
}
