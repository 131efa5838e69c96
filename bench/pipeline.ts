/**
 * @module `npm run bench:pipeline [-- --events N] [-- --runs R]`: the embedded pipeline's stages alone, without HTTP,
 * as the inner loop for optimising them.
 *
 * Each run: a fresh data dir; `events.raw` pre-filled with N events of the benchmark workload (bench/lib/workload.ts,
 * through ingest's `prepareBatch`, appended as ingest appends them); then the pipeline started exactly as `tessera up`
 * starts it in the embedded mode (the worker thread of src/pipeline/pipeline-host.ts on the default config: dedupe,
 * suppress, enrich, resolve identity, update profiles, publish to events.resolved) and timed until it has committed
 * every event. Measured from the end of its first batch (the worker's start-up is left out), per event: wall time, CPU time of the whole process (user + system, so the worker thread's
 * work; the main thread only polls the lag), bytes written (`wchar` of /proc/self/io, every write() of SQLite
 * including WAL checkpoints) and the growth of the files (output log, state; database + WAL).
 *
 * After each run the state is checked as bench/run.ts checks the e2e runs: the profiles count exactly N events, and
 * each sampled person's profile holds exactly the expected identifiers and event count. A run that fails the check
 * exits 1: the benchmark never passes by skipping work.
 *
 * Profile it with `node --cpu-prof --cpu-prof-dir=.tmp/prof --import tsx bench/pipeline.ts --events 100000` and
 * summarise the worker's profile with `npx tsx bench/profile-summary.ts .tmp/prof/<file>.cpuprofile`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import { openLog } from '../src/app/open-log.js'
import { openState } from '../src/app/open-state.js'
import { openIdentifierCodec } from '../src/app/identifier-scheme.js'
import { openConfiguredKeyring } from '../src/governance/crypto/open-keyring.js'
import { splitIdentifierKey } from '../src/identity/identity-store.js'
import { dataLayout } from '../src/app/data-layout.js'
import { defaultConfig, type TesseraConfig } from '../src/config/config.js'
import { prepareBatch } from '../src/ingest/prepare-events.js'
import { TOPICS } from '../src/log/event-log.js'
import { startWorkerPipeline } from '../src/pipeline/pipeline-host.js'
import { median, round } from './lib/stats.js'
import { Workload } from './lib/workload.js'

const HELP = `Usage: npm run bench:pipeline -- [--events N] [--runs R] [--persons P] [--seed S] [--encryption on|off] [--batch-size B] [--keep]

  --events   events pre-filled into events.raw and processed per run (default 100000)
  --runs     runs, each on a fresh data dir; the summary gives medians (default 1)
  --persons  distinct people of the workload (default 100000, as npm run bench)
  --seed     workload seed (default tessera-bench-1)
  --encryption  seal the event logs (default on, as governance.encryption.enabled; off = TESSERA_ENCRYPTION=off)
  --batch-size  pipeline.batchSize (default: the config's default)
  --keep     keep the data dirs (printed) instead of deleting them`

interface RunResult {
  readonly events: number
  readonly seconds: number
  readonly eventsPerS: number
  readonly cpuUsPerEvent: number
  readonly wcharPerEvent: number
  readonly outputBytesPerEvent: number
  readonly stateBytesPerEvent: number
  readonly batches: number
  readonly dir: string
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Bytes passed to write() by this process so far (all threads), or NaN where /proc is not available. */
function writtenBytes(): number {
  try {
    const match = /^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))
    return match ? Number(match[1]) : Number.NaN
  } catch {
    return Number.NaN
  }
}

/** Size of a SQLite database with its WAL. */
function fileBytes(path: string): number {
  return [path, `${path}-wal`].reduce((sum, p) => sum + (existsSync(p) ? statSync(p).size : 0), 0)
}

async function fill(config: TesseraConfig, rawLog: string, workload: Workload, events: number): Promise<void> {
  const log = await openLog(config, { path: rawLog })
  await log.ensureTopic(TOPICS.raw, config.log.partitions)
  const stamp = { sourceId: 'bench', ip: '127.0.0.1', maxEventBytes: 32 * 1024 } as const
  let left = events
  const appends: Promise<unknown>[] = []
  while (left > 0) {
    const generated = Array.from({ length: Math.min(100, left) }, () => workload.next())
    const prepared = prepareBatch({ batch: generated.map((e) => e.body) }, { ...stamp, receivedAtMs: Date.now() })
    if (!prepared.ok) throw new Error(`ingest refused generated events: ${JSON.stringify(prepared.problems.slice(0, 3))}`)
    appends.push(log.append(TOPICS.raw, prepared.records.map((r) => ({ key: r.key, value: r.value }))))
    workload.accept({ events: generated })
    left -= generated.length
    if (appends.length >= 50) await Promise.all(appends.splice(0))
  }
  await Promise.all(appends)
  await log.close()
}

/**
 * The checks of bench/lib/end-to-end.ts `checkCounts`, read straight from the state file; the expected identifiers
 * keyed as the state stores them (`stored`: the state's identifier codec, pseudonymous keys by default).
 */
function checkState(statePath: string, workload: Workload, stored: (key: string) => string): void {
  const db = new Database(statePath, { readonly: true })
  try {
    const problems: string[] = []
    const sum = (db.prepare('SELECT coalesce(sum(event_count), 0) AS n FROM profiles WHERE merged_into IS NULL').get() as { n: number }).n
    if (sum !== workload.accepted) problems.push(`the profiles count ${sum} events but ${workload.accepted} were appended`)
    const profileOf = db.prepare('SELECT profile_id FROM identifiers WHERE key = ?')
    const keysOf = db.prepare('SELECT key FROM identifiers WHERE profile_id = ? ORDER BY key')
    const countOf = db.prepare('SELECT event_count, merged_into FROM profiles WHERE id = ?')
    const expected = workload.expectedSampled()
    if (expected.length === 0) problems.push('no sampled person sent an event: use more --events')
    for (const group of expected) {
      const row = profileOf.get(stored(group.keys[0]!)) as { profile_id: string } | undefined
      if (!row) {
        problems.push(`no profile holds ${group.keys[0]}`)
        continue
      }
      const keys = (keysOf.all(row.profile_id) as { key: string }[]).map((k) => k.key)
      const profile = countOf.get(row.profile_id) as { event_count: number; merged_into: string | null } | undefined
      if (keys.join(',') !== group.keys.map(stored).sort().join(',')) problems.push(`profile of ${group.keys[0]} holds [${keys.join(', ')}], expected [${group.keys.join(', ')}]`)
      if (profile?.merged_into !== null) problems.push(`profile of ${group.keys[0]} is missing or merged away`)
      else if (profile.event_count !== group.eventCount) problems.push(`profile of ${group.keys[0]} counts ${profile.event_count} events, expected ${group.eventCount}`)
      if (problems.length >= 10) break
    }
    if (problems.length > 0) throw new Error(`count check failed: ${problems.join('; ')}`)
  } finally {
    db.close()
  }
}

/** How the state keys identifiers: its recorded scheme, with the data dir's keyring when pseudonymous. */
async function storedKeyOf(config: TesseraConfig, layout: ReturnType<typeof dataLayout>): Promise<(key: string) => string> {
  const keys = await openConfiguredKeyring(config, layout.dataDir)
  const state = await openState(config, layout.state)
  try {
    const { codec } = await openIdentifierCodec(config, state, keys?.keyring ?? null)
    return (key) => {
      const { type, value } = splitIdentifierKey(key)
      return codec.storedKey(type, value)
    }
  } finally {
    await state.close()
    await keys?.close()
  }
}

async function runOnce(events: number, persons: number, seed: string, encrypted: boolean, batchSize: number | undefined): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-pipeline-'))
  const defaults = defaultConfig()
  const config: TesseraConfig = {
    ...defaults, dataDir: dir,
    governance: { ...defaults.governance, encryption: { ...defaults.governance.encryption, enabled: encrypted } },
    pipeline: { ...defaults.pipeline, batchSize: batchSize ?? defaults.pipeline.batchSize },
  }
  const layout = dataLayout(dir)
  const workload = new Workload({ seed, persons, tag: 'pipeline' })
  await fill(config, layout.rawLog, workload, events)

  const input = await openLog(config, { path: layout.rawLog, readOnly: true })
  const logger = { info: () => {}, warn: (o: object, m: string) => console.error('warn:', m, JSON.stringify(o)), error: (o: object, m: string) => console.error('error:', m, JSON.stringify(o)) }
  // Measured from the end of the first batch: the worker's start (module loading, opening files) is not per-event work.
  let batches = 0
  let warm: { cpu: NodeJS.CpuUsage; written: number; t: number; events: number } | null = null
  const pipeline = startWorkerPipeline({
    config, paths: { rawLog: layout.rawLog, outputLog: layout.outputLog, state: layout.state }, input, logger,
    onBatch: (report) => {
      batches++
      warm ??= { cpu: process.cpuUsage(), written: writtenBytes(), t: performance.now(), events: report.records }
    },
  })
  // Poll the worker's committed offsets (reported every 100 ms) rather than drain(), which measures lag on this thread.
  while (pipeline.status().processed + pipeline.status().duplicates < events) {
    if (pipeline.status().lastError) throw new Error(`pipeline failed: ${pipeline.status().lastError}`)
    await sleep(20)
  }
  const seconds = (performance.now() - warm!.t) / 1000
  const cpu = process.cpuUsage(warm!.cpu)
  const written = writtenBytes() - warm!.written
  const measured = events - warm!.events
  await pipeline.stop()
  await input.close()
  checkState(layout.state, workload, await storedKeyOf(config, layout))
  return {
    events, seconds, eventsPerS: measured / seconds, cpuUsPerEvent: (cpu.user + cpu.system) / measured,
    wcharPerEvent: written / measured, outputBytesPerEvent: fileBytes(layout.outputLog) / events,
    stateBytesPerEvent: fileBytes(layout.state) / events, batches, dir,
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '100000' }, runs: { type: 'string', default: '1' }, persons: { type: 'string', default: '100000' },
      seed: { type: 'string', default: 'tessera-bench-1' }, keep: { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
      encryption: { type: 'string', default: 'on' }, 'batch-size': { type: 'string' },
    },
  })
  if (values.help) {
    console.log(HELP)
    return
  }
  const positive = (name: string, raw: string): number => {
    const n = Number(raw)
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${raw}"\n\n${HELP}`)
    return n
  }
  const events = positive('events', values.events)
  const runs = positive('runs', values.runs)
  const persons = positive('persons', values.persons)
  if (values.encryption !== 'on' && values.encryption !== 'off') throw new Error(`--encryption must be on or off, got "${values.encryption}"\n\n${HELP}`)
  const encrypted = values.encryption === 'on'
  const batchSize = values['batch-size'] === undefined ? undefined : positive('batch-size', values['batch-size'])
  const results: RunResult[] = []
  for (let i = 0; i < runs; i++) {
    const r = await runOnce(events, persons, values.seed, encrypted, batchSize)
    results.push(r)
    console.log(`run ${i + 1}/${runs}: ${Math.round(r.eventsPerS)} events/s, ${round(r.cpuUsPerEvent, 1)} µs CPU/event, `
      + `${Math.round(r.wcharPerEvent)} bytes written/event (output log ${Math.round(r.outputBytesPerEvent)}, state ${Math.round(r.stateBytesPerEvent)} bytes/event in files), `
      + `${r.batches} batches, ${round(r.seconds, 2)} s; counts checked`)
    if (values.keep) console.log(`  data dir kept: ${r.dir}`)
    else rmSync(r.dir, { recursive: true, force: true })
  }
  const med = (f: (r: RunResult) => number): number => median(results.map(f))
  console.log(JSON.stringify({
    scenario: 'pipeline', events, runs, persons, encryption: values.encryption, batch_size: batchSize ?? defaultConfig().pipeline.batchSize,
    median: {
      events_per_s: Math.round(med((r) => r.eventsPerS)), cpu_us_per_event: round(med((r) => r.cpuUsPerEvent), 1),
      written_bytes_per_event: Math.round(med((r) => r.wcharPerEvent)),
      output_log_bytes_per_event: Math.round(med((r) => r.outputBytesPerEvent)), state_bytes_per_event: Math.round(med((r) => r.stateBytesPerEvent)),
    },
  }))
}

main().catch((error: unknown) => {
  console.error((error as Error).message)
  process.exitCode = 1
})
