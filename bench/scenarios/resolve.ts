/**
 * @module Scenarios `resolve-100k` and `resolve-1m`: identity resolution alone, in process, on the embedded SQLite
 * state. The state is first built through the pipeline's own code (ingest's `prepareBatch`, then the
 * resolve-identity stage in a state transaction) from one sign-up `identify` per person and device, which gives
 * one profile per person and 3.25 identifiers per profile on average. Then the live mix (returning visitors,
 * logins, new devices, aliases: merges included) is resolved in batches of the pipeline's default size, and each
 * batch's stage time is measured, and finally events one at a time for a true per-event latency.
 *
 * Profiles are kept as the pipeline keeps them for resolution (a row per profile with its creation time, losers
 * of merges marked), through the ProfileStore port; that bookkeeping and the COMMIT are timed apart from
 * resolution. Runs in its own process (see bench/lib/child-scenario.ts), so its RSS is its own.
 */
import { appendFileSync, writeFileSync } from 'node:fs'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { DEFAULT_IDENTIFIER_TYPES } from '../../src/config/identity-types.js'
import type { RawEvent } from '../../src/core/event.js'
import { compileIdentityRules } from '../../src/identity/identity-rules.js'
import { prepareBatch } from '../../src/ingest/prepare-events.js'
import type { LogRecord } from '../../src/log/event-log.js'
import { createResolveIdentityStage } from '../../src/pipeline/stages/resolve-identity.js'
import { eventTime } from '../../src/identity/resolve-batch.js'
import type { BatchContext, WorkItem } from '../../src/pipeline/stage.js'
import { newProfile } from '../../src/profiles/profile-updates.js'
import { SqliteStateBackend } from '../../src/storage/sqlite/sqlite-backend.js'
import type { StateTransaction } from '../../src/storage/state-backend.js'
import { Reservoir, round, summarize } from '../lib/stats.js'
import type { ScenarioResult } from '../lib/result.js'
import { Workload, type GeneratedEvent } from '../lib/workload.js'

export interface ResolveOptions {
  readonly name: string
  readonly profiles: number
  /** Events of the live mix to resolve after the build. */
  readonly events: number
  /** Events resolved one per transaction at the end. */
  readonly singleEvents: number
  readonly batchSize: number
  readonly dir: string
  /** Also write every event resolved (client JSON, one per line) to `<dir>/events.ndjson` for the SQL baseline. */
  readonly writeEvents: boolean
  readonly seed: string
}

const STAMP = { sourceId: 'bench', ip: '127.0.0.1', maxEventBytes: 32 * 1024 } as const

/** The events as the pipeline reads them from events.raw: through ingest's validation and stamping, then JSON. */
function toWorkItems(events: readonly GeneratedEvent[], offset: number): WorkItem[] {
  const prepared = prepareBatch({ batch: events.map((e) => e.body) }, { ...STAMP, receivedAtMs: Date.now() })
  if (!prepared.ok) throw new Error(`ingest refused generated events: ${JSON.stringify(prepared.problems.slice(0, 3))}`)
  return prepared.records.map((r, i) => {
    const record: LogRecord = { topic: 'events.raw', partition: 0, offset: offset + i, key: r.key, value: r.value, timestamp: Date.now() }
    const event = JSON.parse(r.value) as RawEvent
    return { record, event, time: eventTime(event), enrichment: {} }
  })
}

/** Keeps profile rows as resolution needs them: a row per new profile (creation time), merged losers marked. */
async function keepProfiles(tx: StateTransaction, items: readonly WorkItem[], now: number): Promise<void> {
  const ids = new Set<string>()
  for (const item of items) {
    ids.add(item.profileId!)
    for (const m of item.merged ?? []) ids.add(m)
  }
  const existing = await tx.profiles.get([...ids])
  const writes = new Map<string, ReturnType<typeof newProfile>>()
  for (const item of items) {
    const id = item.profileId!
    if (!existing.has(id) && !writes.has(id)) writes.set(id, newProfile(id, item.time, now))
    for (const loser of item.merged ?? []) {
      const p = writes.get(loser) ?? existing.get(loser)
      if (p) writes.set(loser, { ...p, mergedInto: id, updatedAt: now })
    }
  }
  await tx.profiles.put([...writes.values()])
}

export async function runResolve(options: ResolveOptions): Promise<ScenarioResult> {
  const state = new SqliteStateBackend({ path: join(options.dir, 'state.db'), sync: 'normal' })
  await state.migrate()
  const stage = createResolveIdentityStage(compileIdentityRules(DEFAULT_IDENTIFIER_TYPES, 'US'))
  const workload = new Workload({ seed: options.seed, persons: options.profiles, tag: `${options.name}` })
  const eventsFile = join(options.dir, 'events.ndjson')
  if (options.writeEvents) writeFileSync(eventsFile, '')
  let offset = 0
  let peakRss = 0
  let merges = 0
  const resolveOne = async (events: readonly GeneratedEvent[]): Promise<{ stageMs: number; commitMs: number }> => {
    if (options.writeEvents) appendFileSync(eventsFile, events.map((e) => JSON.stringify(e.body)).join('\n') + '\n')
    const items = toWorkItems(events, offset)
    offset += items.length
    let stageMs = 0
    const counts: Record<string, number> = {}
    const before = performance.now()
    await state.transaction(async (tx) => {
      const now = Date.now()
      const batch: BatchContext = { items, tx, now, counts }
      const t = performance.now()
      await stage.run(batch)
      stageMs = performance.now() - t
      await keepProfiles(tx, items, now)
    })
    merges += counts.merges ?? 0
    workload.accept({ events })
    peakRss = Math.max(peakRss, process.memoryUsage().rss)
    return { stageMs, commitMs: performance.now() - before - stageMs }
  }

  // 1. Build: one identify per person and device, in pipeline-sized batches.
  const buildStart = performance.now()
  let pending: GeneratedEvent[] = []
  for (let person = 0; person < options.profiles; person++) {
    pending.push(...workload.seedEvents(person))
    if (pending.length >= options.batchSize) {
      await resolveOne(pending)
      pending = []
    }
  }
  if (pending.length > 0) await resolveOne(pending)
  const buildSeconds = (performance.now() - buildStart) / 1000
  const buildEvents = workload.accepted
  const built = countState(options.dir)
  const rssAfterBuild = process.memoryUsage().rss

  // 2. The live mix in batches.
  const perEvent: number[] = []
  const batchMs: number[] = []
  const commitMs: number[] = []
  let stageTotalMs = 0
  let measured = 0
  while (measured < options.events) {
    const n = Math.min(options.batchSize, options.events - measured)
    const { stageMs, commitMs: c } = await resolveOne(Array.from({ length: n }, () => workload.next()))
    stageTotalMs += stageMs
    measured += n
    batchMs.push(stageMs)
    perEvent.push(stageMs / n)
    commitMs.push(c)
  }

  // 3. One event per transaction: the latency of resolving a lone event.
  const single = new Reservoir(options.singleEvents)
  for (let i = 0; i < options.singleEvents; i++) single.add((await resolveOne([workload.next()])).stageMs)
  const after = countState(options.dir)
  await state.close()
  if ((after.rejections.merge_protection ?? 0) > 0) {
    throw new Error(`merge protection fired ${after.rejections.merge_protection} times; the workload is built so that it never does`)
  }
  if (built.profiles !== options.profiles) throw new Error(`the build made ${built.profiles} profiles, expected ${options.profiles}`)
  const perEventSummary = summarize(perEvent)
  const singleSummary = summarize(single.values())
  return {
    name: options.name,
    events_per_s: round((measured / stageTotalMs) * 1000, 0),
    p50_ms: perEventSummary.p50_ms,
    p99_ms: perEventSummary.p99_ms,
    rss_mb: round(peakRss / 2 ** 20, 0),
    measures: `resolve-identity stage in process on SQLite state with ${options.profiles.toLocaleString('en-US')} profiles; ` +
      `p50/p99 = stage time per event (batch time / ${options.batchSize}) over ${batchMs.length} batches`,
    profiles_before: built.profiles,
    identifiers_before: built.identifiers,
    profiles_after: after.profiles,
    identifiers_after: after.identifiers,
    events_resolved: measured,
    merges_during_measure: merges,
    batch_size: options.batchSize,
    batch_p50_ms: summarize(batchMs).p50_ms,
    batch_p99_ms: summarize(batchMs).p99_ms,
    commit_and_profiles_p50_ms: summarize(commitMs).p50_ms,
    single_event_p50_ms: singleSummary.p50_ms,
    single_event_p99_ms: singleSummary.p99_ms,
    single_events: singleSummary.count,
    build_events: buildEvents,
    build_seconds: round(buildSeconds, 1),
    build_events_per_s: round(buildEvents / buildSeconds, 0),
    rss_after_build_mb: round(rssAfterBuild / 2 ** 20, 0),
    total_events: workload.accepted,
  }
}

interface StateCounts { profiles: number; identifiers: number; rejections: Record<string, number> }

function countState(dir: string): StateCounts {
  // A short-lived read-only connection, as the admin API reads.
  const reader = new SqliteReadonly(join(dir, 'state.db'))
  try {
    return {
      profiles: reader.count('SELECT count(*) AS n FROM profiles WHERE merged_into IS NULL'),
      identifiers: reader.count('SELECT count(*) AS n FROM identifiers'),
      rejections: Object.fromEntries(reader.rows<{ reason: string; n: number }>('SELECT reason, count(*) AS n FROM identity_rejections GROUP BY reason').map((r) => [r.reason, r.n])),
    }
  } finally {
    reader.close()
  }
}

class SqliteReadonly {
  readonly #db: Database.Database
  constructor(path: string) {
    this.#db = new Database(path, { readonly: true, fileMustExist: true })
  }
  count(sql: string): number {
    return (this.#db.prepare(sql).get() as { n: number }).n
  }
  rows<T>(sql: string): T[] {
    return this.#db.prepare(sql).all() as T[]
  }
  close(): void {
    this.#db.close()
  }
}
