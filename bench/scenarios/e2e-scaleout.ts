/**
 * @module Scenarios `e2e-scaleout-1w` and `e2e-scaleout-2w`: the scale-out mode end to end on librdkafka's mock
 * cluster (three brokers on loopback) and PostgreSQL: one `tessera up --role ingest` and one or two
 * `--role pipeline` processes in one consumer group. Same load and rate measurement as e2e-embedded phase 1 (the
 * pipeline's committed offsets in PostgreSQL), then drained and count-checked. A pipeline that stops making
 * progress fails the scenario with a stall message instead of hanging.
 */
import { checkCounts, prime, ProgressPoller, sustainedRun, waitForDrain } from '../lib/end-to-end.js'
import { trackingPool } from '../lib/http-load.js'
import { RssSampler } from '../lib/machine.js'
import type { ScenarioResult } from '../lib/result.js'
import { round, summarize } from '../lib/stats.js'
import { startScaleout } from '../lib/tessera-cluster.js'
import { Workload } from '../lib/workload.js'

export interface E2eScaleoutOptions {
  readonly workers: number
  readonly seconds: number
  readonly connections: number
  readonly persons: number
  readonly maxBacklog: number
  /** Fail when the pipeline makes no progress for this long while draining. */
  readonly stallMs: number
  readonly dir: string
  readonly seed: string
  readonly quick: boolean
}

export async function runE2eScaleout(options: E2eScaleoutOptions): Promise<ScenarioResult> {
  const cluster = await startScaleout(options.dir, { workers: options.workers, partitions: 8 })
  const pool = trackingPool(cluster.url, options.connections)
  const sampler = new RssSampler(() => cluster.processes.map((p) => p.process.child.pid!))
  const poller = new ProgressPoller(() => cluster.processed(), 250)
  const workload = new Workload({ seed: options.seed, persons: options.persons, tag: `so${options.workers}` })
  try {
    const primeSeconds = await prime(cluster, pool, workload, options.stallMs)
    const run = await sustainedRun(cluster, pool, workload, poller, {
      seconds: options.seconds, connections: options.connections, maxBacklog: options.maxBacklog, slices: options.quick ? 2 : 4,
    })
    if (run.load.acceptedEvents === 0) throw new Error(`no request was accepted: ${run.load.firstError ?? 'all refused'}`)
    const drain = await waitForDrain(cluster, workload.accepted, options.stallMs)
    const check = await checkCounts(cluster, workload, 0)
    sampler.stop()
    const rss = Object.fromEntries(cluster.processes.map((p) => [p.role, round(sampler.peak.get(p.process.child.pid!) ?? 0, 0)]))
    const latency = summarize(run.load.latencies.values())
    return {
      name: `e2e-scaleout-${options.workers}w`,
      events_per_s: run.eventsPerS,
      p50_ms: latency.p50_ms,
      p99_ms: latency.p99_ms,
      rss_mb: round([...sampler.peak.values()].reduce((a, b) => a + b, 0), 0),
      measures: `events/s from HTTP accept to profile updated (event in its profile's timeline in PostgreSQL), 8 partitions, ${options.workers} pipeline process(es), sustained ${run.windowSeconds} s; p50/p99 = ingest request latency; RSS = all Tessera processes`,
      workers: options.workers,
      first_batch_processed_after_s: round(primeSeconds, 1),
      sustained_seconds: run.windowSeconds,
      slice_events_per_s: run.sliceRates,
      accepted_per_s: round(run.load.acceptedEvents / run.load.seconds, 0),
      backlog_bound: options.maxBacklog,
      drain_s: round(drain, 1),
      rss_mb_by_process: rss,
      refused_requests: run.load.refusedRequests,
      ...check,
      ...(options.quick ? { note: `--quick: sustained ${run.windowSeconds} s` } : {}),
    }
  } finally {
    sampler.stop()
    await poller.stop().catch(() => undefined)
    await pool.close()
    await cluster.stop()
  }
}
