/**
 * @module Scenario `e2e-embedded`: the embedded mode end to end, `tessera up` as its own process on the defaults.
 *
 * Phase 1 (max rate): the workload's mix as fast as the pipeline takes it, the backlog of accepted but unprocessed
 * events held under a bound, for `seconds` after a warm-up; the rate is the growth of the pipeline's committed
 * offsets (state and offsets commit together, so a counted event is in its profile).
 * Phase 2 (latency): the mix paced at 50% of phase 1's rate while, every `probeEveryMs`, a probe `identify` for a new
 * user is sent and `GET /v1/profiles?identifier=user_id:...` is polled every 10 ms until the profile answers;
 * the delay runs from the HTTP 200 of the probe to the first answer that shows it.
 * Then everything is drained and checked: eventCount over all profiles = events accepted, sampled people's
 * profiles exact (identifiers and counts), each probe profile counts exactly one event.
 */
import type { Pool } from 'undici'
import { checkCounts, prime, ProgressPoller, sustainedRun, waitForDrain } from '../lib/end-to-end.js'
import { runLoad, send, trackingPool } from '../lib/http-load.js'
import { RssSampler } from '../lib/machine.js'
import type { ScenarioResult } from '../lib/result.js'
import { round, summarize } from '../lib/stats.js'
import { startEmbedded, type TesseraCluster } from '../lib/tessera-cluster.js'
import { Workload } from '../lib/workload.js'

export interface E2eEmbeddedOptions {
  readonly seconds: number
  readonly latencySeconds: number
  /** How often phase 2 sends a visibility probe (default 250 ms); a p99 needs a few hundred probes to mean anything. */
  readonly probeEveryMs?: number
  readonly connections: number
  readonly persons: number
  readonly maxBacklog: number
  readonly dir: string
  readonly seed: string
  readonly quick: boolean
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

interface ProbeRun {
  readonly delaysMs: number[]
  readonly userIds: string[]
  readonly failures: string[]
}

/** Sends a probe every `everyMs` until `until`, and measures accept → visible for each. */
async function probeVisibility(cluster: TesseraCluster, pool: Pool, tag: string, until: number, everyMs = 250): Promise<ProbeRun> {
  const run: ProbeRun = { delaysMs: [], userIds: [], failures: [] }
  const pending: Promise<void>[] = []
  for (let i = 0; performance.now() < until; i++) {
    const userId = `probe-${tag}-${i}`
    const body = { type: 'identify', userId, anonymousId: `probe-anon-${tag}-${i}`, messageId: `probe-${tag}-${i}`, traits: { plan: 'probe' } }
    const request = { path: '/v1/identify', body: JSON.stringify(body), events: [] }
    pending.push((async () => {
      const { status } = await send(pool, cluster, request)
      if (status !== 200) {
        run.failures.push(`probe ${userId} answered ${status}`)
        return
      }
      const accepted = performance.now()
      run.userIds.push(userId)
      for (;;) {
        const found = await cluster.admin(`/v1/profiles?identifier=user_id:${userId}`)
        if (found !== null) {
          run.delaysMs.push(performance.now() - accepted)
          return
        }
        if (performance.now() - accepted > 60_000) {
          run.failures.push(`probe ${userId} not visible after 60 s`)
          return
        }
        await sleep(10)
      }
    })())
    await sleep(everyMs)
  }
  await Promise.all(pending)
  return run
}

export async function runE2eEmbedded(options: E2eEmbeddedOptions): Promise<ScenarioResult> {
  const cluster = await startEmbedded(options.dir)
  const pool = trackingPool(cluster.url, options.connections)
  const probePool = trackingPool(cluster.url, 4)
  const sampler = new RssSampler(() => cluster.processes.map((p) => p.process.child.pid!))
  const poller = new ProgressPoller(() => cluster.processed())
  const workload = new Workload({ seed: options.seed, persons: options.persons, tag: 'e2e' })
  try {
    await prime(cluster, pool, workload, 30_000)
    const started = performance.now()
    const max = await sustainedRun(cluster, pool, workload, poller, {
      seconds: options.seconds, connections: options.connections, maxBacklog: options.maxBacklog, slices: options.quick ? 2 : 6,
    })
    if (max.load.acceptedEvents === 0) throw new Error(`no request was accepted: ${max.load.firstError ?? 'all refused'}`)
    const rssPhase1 = Math.max(...sampler.peak.values())
    const firstDrain = await waitForDrain(cluster, workload.accepted, 60_000)

    // Phase 2: half the measured rate, with visibility probes.
    const halfRate = Math.max(100, Math.round(max.eventsPerS / 2))
    const phase2Until = performance.now() + options.latencySeconds * 1000
    const [paced, probes] = await Promise.all([
      runLoad(pool, cluster, workload, { durationMs: options.latencySeconds * 1000, connections: options.connections, rateEventsPerS: halfRate }),
      probeVisibility(cluster, probePool, 'p2', phase2Until, options.probeEveryMs ?? 250),
    ])
    if (probes.failures.length > 0) throw new Error(`visibility probes failed: ${probes.failures.slice(0, 3).join('; ')}`)
    if (probes.delaysMs.length === 0) throw new Error('no visibility probe completed')
    const accepted = workload.accepted + probes.userIds.length
    const drainSeconds = await waitForDrain(cluster, accepted, 60_000)
    const endToEndSeconds = (performance.now() - started) / 1000
    const check = await checkCounts(cluster, workload, probes.userIds.length)
    for (const userId of probes.userIds.slice(0, 20)) {
      const view = await cluster.admin<{ eventCount: number }>(`/v1/profiles?identifier=user_id:${userId}`)
      if (view?.eventCount !== 1) throw new Error(`probe profile ${userId} counts ${view?.eventCount} events, expected 1`)
    }
    sampler.stop()
    const delay = summarize(probes.delaysMs)
    return {
      name: 'e2e-embedded',
      events_per_s: max.eventsPerS,
      p50_ms: delay.p50_ms,
      p99_ms: delay.p99_ms,
      rss_mb: round(Math.max(...sampler.peak.values()), 0),
      measures: `events/s from HTTP accept to profile updated, sustained ${max.windowSeconds} s; p50/p99 = accept -> visible in GET /v1/profiles at 50% of that rate (${delay.count} probes)`,
      sustained_seconds: max.windowSeconds,
      warmup_seconds: max.warmupSeconds,
      slice_events_per_s: max.sliceRates,
      accepted_per_s_phase1: round(max.load.acceptedEvents / max.load.seconds, 0),
      backlog_bound: options.maxBacklog,
      backlog_at_end_phase1: max.backlogAtEnd,
      drain_after_phase1_s: round(firstDrain, 1),
      request_p50_ms_phase1: summarize(max.load.latencies.values()).p50_ms,
      request_p99_ms_phase1: summarize(max.load.latencies.values()).p99_ms,
      phase2_rate_events_per_s: halfRate,
      phase2_achieved_events_per_s: round(paced.acceptedEvents / paced.seconds, 0),
      visibility_probes: delay.count,
      visibility_p90_ms: delay.p90_ms,
      visibility_max_ms: delay.max_ms,
      visibility_poll_interval_ms: 10,
      rss_mb_phase1: round(rssPhase1, 0),
      drain_after_phase2_s: round(drainSeconds, 1),
      overall_seconds: round(endToEndSeconds, 1),
      refused_requests: max.load.refusedRequests + paced.refusedRequests,
      ...check,
      events_by_type: workload.acceptedByType(),
      ...(options.quick ? { note: `--quick: sustained ${max.windowSeconds} s, not 60 s` } : {}),
    }
  } finally {
    sampler.stop()
    await poller.stop().catch(() => undefined)
    await pool.close()
    await probePool.close()
    await cluster.stop()
  }
}
