/**
 * @module The parts of an end-to-end run shared by the embedded and scale-out scenarios: load at the highest rate
 * the pipeline sustains (with a bounded backlog, so the run measures the pipeline and not an ever-growing queue),
 * waiting until every accepted event is processed (or failing with a stall message), and the count check that
 * keeps a benchmark from passing by skipping work.
 */
import type { Pool } from 'undici'
import { runLoad, send, type LoadResult } from './http-load.js'
import type { TesseraCluster } from './tessera-cluster.js'
import { round } from './stats.js'
import type { Workload } from './workload.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Polls the processed count in the background, keeping the latest value and the time series. */
export class ProgressPoller {
  readonly series: { readonly t: number; readonly n: number }[] = []
  #latest = 0
  #error: unknown
  #stopped = false
  readonly #loop: Promise<void>

  constructor(count: () => Promise<number>, everyMs = 200) {
    this.#loop = (async () => {
      while (!this.#stopped) {
        try {
          this.#latest = await count()
          this.series.push({ t: performance.now(), n: this.#latest })
        } catch (error) {
          this.#error = error
        }
        await sleep(everyMs)
      }
    })()
  }

  get latest(): number {
    return this.#latest
  }

  /** The processed count at (or just after) time `t`, from the series. */
  at(t: number): { t: number; n: number } | undefined {
    return this.series.find((p) => p.t >= t) ?? this.series[this.series.length - 1]
  }

  async stop(): Promise<void> {
    this.#stopped = true
    await this.#loop
    if (this.#error !== undefined && this.series.length === 0) throw this.#error
  }
}

export interface SustainedRun {
  readonly load: LoadResult
  /** Events per second processed end to end over the measured window (after the warm-up). */
  readonly eventsPerS: number
  readonly windowSeconds: number
  readonly warmupSeconds: number
  /** Rates of consecutive slices of the window, to show the rate held (not just averaged). */
  readonly sliceRates: readonly number[]
  readonly backlogAtEnd: number
}

/**
 * Offers load for `seconds` from `connections` senders, holding back while more than `maxBacklog` accepted events
 * wait for the pipeline; the end-to-end rate is the growth of the processed count between the end of the warm-up
 * and the end of the load.
 */
export async function sustainedRun(
  cluster: TesseraCluster, pool: Pool, workload: Workload, poller: ProgressPoller,
  options: { readonly seconds: number; readonly connections: number; readonly maxBacklog: number; readonly slices: number },
): Promise<SustainedRun> {
  const warmupSeconds = Math.min(5, options.seconds * 0.1)
  const start = performance.now()
  const load = await runLoad(pool, cluster, workload, {
    durationMs: (options.seconds + warmupSeconds) * 1000, connections: options.connections,
    backlog: { max: options.maxBacklog, processed: () => poller.latest },
  })
  const end = performance.now()
  const from = poller.at(start + warmupSeconds * 1000)
  const series = poller.series.filter((p) => p.t <= end)
  const to = series[series.length - 1]
  if (!from || !to || to.t <= from.t) throw new Error('no progress samples during the run (is the state store readable?)')
  const windowSeconds = (to.t - from.t) / 1000
  const sliceRates: number[] = []
  const sliceMs = (to.t - from.t) / options.slices
  for (let i = 0; i < options.slices; i++) {
    const a = poller.at(from.t + i * sliceMs)!
    const b = poller.at(from.t + (i + 1) * sliceMs)!
    if (b.t > a.t) sliceRates.push(Math.round(((b.n - a.n) * 1000) / (b.t - a.t)))
  }
  return {
    load, eventsPerS: round((to.n - from.n) / windowSeconds, 0), windowSeconds: round(windowSeconds, 1), warmupSeconds: round(warmupSeconds, 1),
    sliceRates, backlogAtEnd: workload.accepted - to.n,
  }
}

/**
 * Sends one small batch and waits until the pipeline has processed it, so that the measured run starts with the
 * pipeline running (a Kafka consumer group takes seconds to get its partitions assigned).
 */
export async function prime(cluster: TesseraCluster, pool: Pool, workload: Workload, stallMs: number): Promise<number> {
  const started = performance.now()
  const request = workload.batch(Array.from({ length: 50 }, () => workload.next()))
  const { status, error } = await send(pool, cluster, request)
  if (status !== 200) throw new Error(`the priming batch was not accepted: ${error ?? `HTTP ${status}`}`)
  workload.accept(request)
  await waitForDrain(cluster, workload.accepted, stallMs)
  return (performance.now() - started) / 1000
}

/** Waits until the pipeline has processed `accepted` events; throws a stall message after `timeoutMs` without progress. */
export async function waitForDrain(cluster: TesseraCluster, accepted: number, timeoutMs: number): Promise<number> {
  const started = performance.now()
  let last = -1
  let lastProgress = started
  for (;;) {
    const n = await cluster.processed()
    if (n >= accepted) return (performance.now() - started) / 1000
    if (n !== last) {
      last = n
      lastProgress = performance.now()
    }
    if (performance.now() - lastProgress > timeoutMs) {
      throw new Error(`pipeline stalled: ${n} of ${accepted} accepted events processed, no progress for ${Math.round(timeoutMs / 1000)} s`)
    }
    await sleep(100)
  }
}

export interface CountCheck {
  readonly accepted: number
  readonly eventCountSum: number
  readonly profiles: number
  readonly identifiers: number
  readonly merges: number
  readonly sampledProfilesChecked: number
}

/**
 * The count check after a drained run: the eventCount of all active profiles adds up to the events accepted,
 * merge protection never fired (the workload cannot trigger it), and every sampled person's profiles hold exactly
 * the identifiers and event counts of the ground truth. Throws with every problem found.
 */
export async function checkCounts(cluster: TesseraCluster, workload: Workload, extraAccepted: number): Promise<CountCheck> {
  const accepted = workload.accepted + extraAccepted
  const totals = await cluster.totals()
  const problems: string[] = []
  if (totals.eventCountSum !== accepted) {
    problems.push(`the profiles count ${totals.eventCountSum} events but ${accepted} were accepted`)
  }
  if ((totals.rejections.merge_protection ?? 0) > 0) {
    problems.push(`merge protection dropped ${totals.rejections.merge_protection} identifiers, which this workload cannot cause`)
  }
  const expected = workload.expectedSampled()
  for (const group of expected) {
    const view = await cluster.admin<{ eventCount: number; identities: { type: string; value: string }[] }>(
      `/v1/profiles?identifier=${encodeURIComponent(group.keys[0]!)}`)
    if (view === null) {
      problems.push(`no profile holds ${group.keys[0]}`)
    } else {
      const keys = view.identities.map((i) => `${i.type}:${i.value}`).sort()
      if (view.eventCount !== group.eventCount) problems.push(`profile of ${group.keys[0]} counts ${view.eventCount} events, expected ${group.eventCount}`)
      if (keys.join(',') !== group.keys.join(',')) problems.push(`profile of ${group.keys[0]} holds [${keys.join(', ')}], expected [${group.keys.join(', ')}]`)
    }
    if (problems.length >= 10) break
  }
  if (expected.length === 0) problems.push('no sampled person sent an event: the run was too short to check profiles')
  if (problems.length > 0) throw new Error(`count check failed: ${problems.join('; ')}`)
  return {
    accepted, eventCountSum: totals.eventCountSum, profiles: totals.profiles, identifiers: totals.identifiers, merges: totals.merges,
    sampledProfilesChecked: expected.length,
  }
}
