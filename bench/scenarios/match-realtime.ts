/**
 * @module Scenario `match-realtime-1m`: the real-time matching decision of the resolve-identity stage at 1M
 * profiles, on the embedded SQLite state. A model is trained (the real unsupervised training) on a generated
 * sample; then 1M people (given name, surname, date of birth, city, an e-mail) are written as the pipeline writes
 * them, through the IdentityStore port (identifiers, match records and blocking keys, in large batches). Then
 * identify events whose e-mail links nothing are resolved through the real stage with matching on: half are
 * corrupted copies of stored people (a typo, a missing city, a day off in the date of birth), half are new people.
 * Each event is resolved alone in its own transaction and the stage time measured (the per-event latency of
 * the decision: candidate lookup through the persisted index, scoring, the guards), then in pipeline-sized
 * batches (throughput). Runs in a child process of its own (this file forks itself), so its RSS is its own.
 *
 * The model uses the default blocking rules of its columns (what a `match.json` without `blocking` gets); with
 * `--blocking two-field` it uses the two-field rules of {@link REALTIME_BLOCKING} instead, for comparison.
 *
 * Direct run: `npx tsx bench/scenarios/match-realtime.ts [--profiles 1000000] [--events 5000] [--blocking default|two-field] [--prefer N] [--cpu-prof FILE]`.
 */
import { fork } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { PerformanceObserver } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { DEFAULT_IDENTIFIER_TYPES } from '../../src/config/identity-types.js'
import { DEFAULT_MATCHING } from '../../src/config/config.js'
import type { RawEvent } from '../../src/core/event.js'
import { randomInt, seededRandom } from '../../src/core/seeded-random.js'
import { compileIdentityRules } from '../../src/identity/identity-rules.js'
import type { IdentifierNode, MatchRecordWrite } from '../../src/identity/identity-store.js'
import { eventTime } from '../../src/identity/resolve-batch.js'
import { RealtimeMatching } from '../../src/matching/realtime.js'
import { parseMatchConfig } from '../../src/matching/match-config.js'
import { trainModel } from '../../src/matching/train.js'
import { TRAIT_MATCH_CONFIG } from '../../src/matching/testing/realtime-model.js'
import { makeRecord, population } from '../../src/matching/testing/synthetic.js'
import { createResolveIdentityStage } from '../../src/pipeline/stages/resolve-identity.js'
import type { BatchContext, WorkItem } from '../../src/pipeline/stage.js'
import { SqliteStateBackend } from '../../src/storage/sqlite/sqlite-backend.js'
import { round, summarize } from '../lib/stats.js'
import type { ScenarioResult } from '../lib/result.js'

export interface MatchRealtimeOptions {
  readonly name: string
  readonly profiles: number
  /** Events resolved one per transaction (the latency sample). */
  readonly singleEvents: number
  /** Events resolved in batches of `batchSize` (throughput). */
  readonly batchEvents: number
  readonly batchSize: number
  readonly dir: string
  /** The model's blocking rules: the default ones of its columns (default), or {@link REALTIME_BLOCKING}. */
  readonly blocking?: 'default' | 'two-field'
  /** identity.matching.preferBlockSize (`--prefer N`); default: the config's default (off). */
  readonly preferBlockSize?: number | null
  /** Write a V8 CPU profile of the one-event-per-transaction phase (after warm-up) to this file (`--cpu-prof FILE`). */
  readonly cpuProfile?: string | null
}

const GIVEN = ['james', 'mary', 'john', 'patricia', 'robert', 'jennifer', 'michael', 'linda', 'william', 'elizabeth', 'olivia', 'noah', 'amelia', 'harry', 'isla', 'oscar', 'freya', 'arthur', 'ivy', 'leo']
const SURNAME = ['smith', 'jones', 'taylor', 'brown', 'williams', 'wilson', 'johnson', 'davies', 'robinson', 'wright', 'patel', 'khan']
const CITY = ['london', 'leeds', 'bristol', 'manchester', 'liverpool', 'york', 'bath', 'derby', 'hull', 'cardiff', 'glasgow', 'leicester', 'oxford', 'norwich', 'exeter', 'durham', 'chester', 'brighton', 'reading', 'swansea']
const SYLLABLES = ['ka', 'lo', 'mi', 'ren', 'sa', 'tor', 'vel', 'an', 'bri', 'dor', 'el', 'fin', 'gar', 'hal', 'is', 'jon', 'ker', 'lin', 'mor', 'ny', 'pe', 'qua', 'ru', 'sten', 'ul', 'wy']

/** Two-field blocking rules, for comparison with the default ones (`--blocking two-field`). */
export const REALTIME_BLOCKING = [
  ['given:metaphone', 'surname:metaphone'], ['surname:metaphone', 'dob'], ['given:metaphone', 'dob'], ['surname:metaphone', 'city'], ['dob', 'city'],
]

export type Person = { given: string; surname: string; dob: string; city: string }

/** Person `i`, always the same for the same index (so duplicates can be made without keeping a million in memory). */
export function person(i: number): Person {
  const random = seededRandom(i * 2_654_435_761 + 17)
  const syl = (n: number): string => Array.from({ length: n }, () => SYLLABLES[randomInt(random, SYLLABLES.length)]!).join('')
  const given = random() < 0.4 ? GIVEN[randomInt(random, GIVEN.length)]! : syl(2)
  const surname = random() < 0.1 ? SURNAME[randomInt(random, SURNAME.length)]! : syl(3)
  const dob = new Date(Date.UTC(1935, 0, 1) + randomInt(random, 70 * 365) * 86_400_000).toISOString().slice(0, 10)
  return { given, surname, dob, city: CITY[randomInt(random, CITY.length)]! }
}

export function corrupt(p: Person, random: () => number): Person {
  const kind = randomInt(random, 3)
  if (kind === 0) {
    const at = 1 + randomInt(random, Math.max(1, p.surname.length - 1))
    return { ...p, surname: p.surname.slice(0, at) + p.surname.slice(at + 1) }
  }
  if (kind === 1) return { ...p, city: '' }
  const d = new Date(Date.parse(p.dob) + 86_400_000).toISOString().slice(0, 10)
  return { ...p, dob: d }
}

export function identify(id: string, p: Person, at: number): RawEvent {
  const ts = new Date(at).toISOString()
  const traits = Object.fromEntries(Object.entries({ ...p, email: `${id}@bench.example` }).filter(([, v]) => v !== ''))
  return { type: 'identify', messageId: `m-${id}`, sourceId: 'crm', timestamp: ts, receivedAt: ts, traits } as RawEvent
}

export async function runMatchRealtime(options: MatchRealtimeOptions): Promise<ScenarioResult> {
  const trainStart = performance.now()
  // The default rules include the date of birth alone (~40 profiles per key at 1M, growing with the profiles); the
  // stage scores a key's candidates before it reads their identifiers, so such blocks cost a read and a few weights.
  const blocking = options.blocking ?? 'default'
  const prefer = options.preferBlockSize ?? DEFAULT_MATCHING.preferBlockSize
  const config = parseMatchConfig(blocking === 'two-field' ? { ...TRAIT_MATCH_CONFIG, blocking: REALTIME_BLOCKING } : TRAIT_MATCH_CONFIG)
  const { raw } = population(3000, 600, 11)
  const matching = new RealtimeMatching(trainModel(config, raw.map((v, i) => makeRecord(config, `r${i}`, v)), null).model, {
    autoMerge: DEFAULT_MATCHING.autoMerge, review: DEFAULT_MATCHING.review, maxBlockSize: DEFAULT_MATCHING.maxBlockSize,
    ...(prefer === null ? {} : { preferBlockSize: prefer }),
  })
  const trainSeconds = (performance.now() - trainStart) / 1000
  const state = new SqliteStateBackend({ path: join(options.dir, 'state.db'), sync: 'normal' })
  await state.migrate()
  const rules = compileIdentityRules(DEFAULT_IDENTIFIER_TYPES, 'US')

  // 1. Build: one profile per person, with its e-mail identifier, match record and blocking keys.
  const buildStart = performance.now()
  const base = Date.UTC(2025, 0, 1)
  let keys = 0
  for (let from = 0; from < options.profiles; from += 20_000) {
    const nodes: IdentifierNode[] = []
    const records: MatchRecordWrite[] = []
    for (let i = from; i < Math.min(options.profiles, from + 20_000); i++) {
      const profileId = `p${i}`
      const event = identify(`seed${i}`, person(i), base)
      const record = matching.overlay(profileId, null, matching.prepare(event)!)
      const k = matching.keysOf(record)
      keys += k.length
      records.push({ profileId, fields: matching.encode(record), keys: k })
      nodes.push({ key: `email:seed${i}@bench.example`, type: 'email', value: `seed${i}@bench.example`, profileId, firstSeen: base })
    }
    await state.transaction((tx) => tx.identity.apply({ nodes, repoints: [], edges: [], merges: [], rejections: [], matchRecords: records }))
  }
  const buildSeconds = (performance.now() - buildStart) / 1000
  const rssAfterBuild = process.memoryUsage().rss

  const stage = createResolveIdentityStage(rules, { profileAges: 'identifiers', matching })
  const random = seededRandom(99)
  let n = 0
  const nextEvent = (): RawEvent => {
    n++
    const at = base + 86_400_000 + n
    if (n % 2 === 0) return identify(`dup${n}`, corrupt(person(randomInt(random, options.profiles)), random), at)
    return identify(`new${n}`, person(options.profiles + 1_000_000 + n), at)
  }
  const counts: Record<string, number> = {}
  let peakRss = rssAfterBuild
  // CPU time of the process during the stage (user + system, all threads): on a shared machine the wall-clock
  // latency also counts the time the process waited for a core; this one does not.
  let stageCpuMs = 0
  // The main thread's time waiting for a core while runnable (Linux schedstat, added up at each switch-in, so exact
  // when read from the running thread): on a shared machine that is the part of the wall-clock time that is the
  // machine's, not the stage's. (Its run-time field is only brought up to date at scheduler ticks, too coarse for a
  // per-event figure; the process CPU time above is exact but also counts V8's GC helper threads.)
  let stageRunqueueMs = 0
  const resolve = async (events: readonly RawEvent[]): Promise<number> => {
    const items: WorkItem[] = events.map((event, i) => ({
      record: { topic: 'events.raw', partition: 0, offset: n + i, key: event.messageId, value: '', timestamp: Date.now() },
      event, time: eventTime(event), enrichment: {},
    }))
    let stageMs = 0
    await state.transaction(async (tx) => {
      const batch: BatchContext = { items, tx, now: Date.now(), counts }
      const t = performance.now()
      const cpu = process.cpuUsage()
      const sched = threadSchedstat()
      await stage.run(batch)
      const used = process.cpuUsage(cpu)
      stageMs = performance.now() - t
      const schedAfter = threadSchedstat()
      stageCpuMs = (used.user + used.system) / 1000
      if (sched && schedAfter) stageRunqueueMs = Number(schedAfter[1] - sched[1]) / 1e6
    })
    peakRss = Math.max(peakRss, process.memoryUsage().rss)
    return stageMs
  }

  // 2. One event per transaction: the decision's latency.
  for (let i = 0; i < 200; i++) await resolve([nextEvent()]) // warm-up (JIT, page cache)
  const warm = { ...counts }
  const single: number[] = []
  const singleCpu: number[] = []
  const singleRunqueue: number[] = []
  // Garbage-collection pauses of the main thread during the phase (a scavenge that falls inside an event is its tail).
  const pauses: number[] = []
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push(e.duration)
  })
  gc.observe({ entryTypes: ['gc'] })
  const profiler = options.cpuProfile ? new Session() : null
  if (profiler) {
    profiler.connect()
    await profiler.post('Profiler.enable')
    await profiler.post('Profiler.start')
  }
  for (let i = 0; i < options.singleEvents; i++) {
    single.push(await resolve([nextEvent()]))
    // Between events (outside the measured time) let the event loop turn, as the pipeline does between batches: the
    // GC entries above are delivered from its task queue.
    await new Promise((resolve) => setImmediate(resolve))
    singleCpu.push(stageCpuMs)
    singleRunqueue.push(stageRunqueueMs)
  }
  for (const e of gc.takeRecords()) pauses.push(e.duration)
  gc.disconnect()
  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop')
    writeFileSync(options.cpuProfile!, JSON.stringify(profile))
    profiler.disconnect()
  }
  const singleMerges = (counts.probabilisticMerges ?? 0) - (warm.probabilisticMerges ?? 0)
  const singleReviews = (counts.matchReviews ?? 0) - (warm.matchReviews ?? 0)

  // 3. Pipeline-sized batches: throughput.
  let batchTotalMs = 0
  const perEvent: number[] = []
  for (let done = 0; done < options.batchEvents; done += options.batchSize) {
    const size = Math.min(options.batchSize, options.batchEvents - done)
    const ms = await resolve(Array.from({ length: size }, nextEvent))
    batchTotalMs += ms
    perEvent.push(ms / size)
  }
  const batchMerges = (counts.probabilisticMerges ?? 0) - (warm.probabilisticMerges ?? 0) - singleMerges
  const batchReviews = (counts.matchReviews ?? 0) - (warm.matchReviews ?? 0) - singleReviews
  await state.close()
  const s = summarize(single)
  const c = summarize(singleCpu)
  const b = summarize(perEvent)
  return {
    name: options.name,
    events_per_s: round((options.batchEvents / batchTotalMs) * 1000, 0),
    p50_ms: s.p50_ms,
    p99_ms: s.p99_ms,
    rss_mb: round(peakRss / 2 ** 20, 0),
    measures: `resolve-identity stage with real-time matching on SQLite state with ${options.profiles.toLocaleString('en-US')} profiles ` +
      `(persisted blocking index, ${blocking === 'two-field' ? 'two-field' : 'the default'} blocking rules, identity.matching defaults); p50/p99 = stage time of one event alone in its transaction (${options.singleEvents} events, half ` +
      `corrupted copies of stored people, half new); events/s = batches of ${options.batchSize}`,
    profiles: options.profiles,
    blocking,
    prefer_block_size: prefer,
    blocking_keys: keys,
    single_events: s.count,
    single_cpu_p50_ms: c.p50_ms,
    single_cpu_p99_ms: c.p99_ms,
    ...(threadSchedstat() ? { single_runqueue_wait_p50_ms: summarize(singleRunqueue).p50_ms, single_runqueue_wait_p99_ms: summarize(singleRunqueue).p99_ms } : {}),
    single_gc_pauses: pauses.length,
    single_gc_pause_max_ms: round(Math.max(0, ...pauses), 2),
    load_average_1m: round(loadavg()[0]!, 2),
    single_auto_merges: singleMerges,
    single_reviews: singleReviews,
    single_new_profiles: s.count - singleMerges,
    batch_events: options.batchEvents,
    batch_auto_merges: batchMerges,
    batch_reviews: batchReviews,
    batch_per_event_p50_ms: b.p50_ms,
    batch_per_event_p99_ms: b.p99_ms,
    build_seconds: round(buildSeconds, 1),
    train_seconds: round(trainSeconds, 1),
    rss_after_build_mb: round(rssAfterBuild / 2 ** 20, 0),
  }
}

/** The calling thread's schedstat [time on a core (tick-granular), time waiting for one] in nanoseconds (Linux); null elsewhere. */
export function threadSchedstat(): [bigint, bigint] | null {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')
    return [BigInt(run!), BigInt(wait!)]
  } catch {
    return null
  }
}

const SELF = fileURLToPath(import.meta.url)

/** Runs the scenario in a child process of its own (this file), so its memory figure is its own. */
export function runMatchRealtimeInChild(options: MatchRealtimeOptions, timeoutMs: number): Promise<ScenarioResult> {
  return new Promise((resolve, reject) => {
    const child = fork(SELF, ['--child'], { execArgv: ['--import', 'tsx', '--max-old-space-size=4096'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    let answered = false
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`timed out after ${Math.round(timeoutMs / 1000)} s`))
    }, timeoutMs)
    child.on('message', (message: { ok: true; result: ScenarioResult } | { ok: false; error: string }) => {
      answered = true
      clearTimeout(timer)
      if (message.ok) resolve(message.result)
      else reject(new Error(message.error))
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (!answered) reject(new Error(`the scenario process exited (${signal ?? code}) without a result`))
    })
    child.send(options)
  })
}

if (process.argv[1] === SELF) {
  if (process.argv.includes('--child')) {
    process.once('message', (options: MatchRealtimeOptions) => {
      void runMatchRealtime(options).then(
        (result) => ({ ok: true as const, result }),
        (error: unknown) => ({ ok: false as const, error: error instanceof Error ? error.message : String(error) }),
      ).then((answer) => process.send!(answer, () => process.exit(0)))
    })
  } else {
    const { values } = parseArgs({ options: {
      profiles: { type: 'string', default: '1000000' }, events: { type: 'string', default: '5000' }, blocking: { type: 'string', default: 'default' },
      prefer: { type: 'string' }, 'cpu-prof': { type: 'string' },
    } })
    if (values.blocking !== 'default' && values.blocking !== 'two-field') throw new Error('--blocking must be default or two-field')
    const dir = mkdtempSync(join(tmpdir(), 'tessera-match-rt-'))
    const events = Number(values.events)
    runMatchRealtimeInChild({
      name: 'match-realtime-1m', profiles: Number(values.profiles), singleEvents: events, batchEvents: events * 4, batchSize: 2000, dir, blocking: values.blocking,
      ...(values.prefer === undefined ? {} : { preferBlockSize: Number(values.prefer) }),
      ...(values['cpu-prof'] === undefined ? {} : { cpuProfile: values['cpu-prof'] }),
    }, 30 * 60_000)
      .then((r) => console.log(JSON.stringify(r, null, 2)))
      .catch((e: unknown) => {
        console.error(e)
        process.exitCode = 1
      })
      .finally(() => rmSync(dir, { recursive: true, force: true }))
  }
}
