/**
 * @module Scenario `ingest-http`: the tracking API's accept rate. `tessera up` (embedded, defaults: log fsynced per
 * group commit, pipeline in its worker thread, as deployed) on a fresh data dir; the workload's mix of batches
 * (20–100 events) and single calls (/v1/track, /v1/page, /v1/identify, ...) from `connections` keep-alive
 * connections as fast as the server answers. Checked: the raw log holds exactly the accepted events.
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { dataLayout } from '../../src/app/data-layout.js'
import { trackingPool, runLoad } from '../lib/http-load.js'
import { cpuMsOf, RssSampler } from '../lib/machine.js'
import type { ScenarioResult } from '../lib/result.js'
import { round, summarize } from '../lib/stats.js'
import { startEmbedded } from '../lib/tessera-cluster.js'
import { Workload } from '../lib/workload.js'

export interface IngestOptions {
  readonly seconds: number
  readonly connections: number
  readonly persons: number
  readonly dir: string
  readonly seed: string
}

export async function runIngestHttp(options: IngestOptions): Promise<ScenarioResult> {
  const cluster = await startEmbedded(options.dir)
  const pool = trackingPool(cluster.url, options.connections)
  const sampler = new RssSampler(() => cluster.processes.map((p) => p.process.child.pid!))
  const workload = new Workload({ seed: options.seed, persons: options.persons, tag: 'ingest' })
  let stopped = false
  try {
    const pid = cluster.processes[0]!.process.child.pid!
    const cpuBefore = cpuMsOf(pid)
    const load = await runLoad(pool, cluster, workload, { durationMs: options.seconds * 1000, connections: options.connections })
    const cpuAfter = cpuMsOf(pid)
    sampler.stop()
    await pool.close()
    await cluster.stop()
    stopped = true
    if (load.acceptedEvents === 0) throw new Error(`no request was accepted: ${load.firstError ?? 'all refused'}`)
    const log = new Database(dataLayout(join(options.dir, 'data')).rawLog, { readonly: true, fileMustExist: true })
    const stored = (log.prepare("SELECT count(*) AS n FROM log_records WHERE topic = 'events.raw'").get() as { n: number }).n
    log.close()
    if (stored !== load.acceptedEvents) throw new Error(`events.raw holds ${stored} events but ${load.acceptedEvents} were accepted`)
    const latency = summarize(load.latencies.values())
    return {
      name: 'ingest-http',
      events_per_s: round(load.acceptedEvents / load.seconds, 0),
      p50_ms: latency.p50_ms,
      p99_ms: latency.p99_ms,
      rss_mb: round(Math.max(...sampler.peak.values()), 0),
      measures: `events accepted per second (HTTP 200, durable in events.raw) from ${options.connections} connections; p50/p99 = request latency (batches of 20-100 and single calls)`,
      requests_per_s: round(load.requests / load.seconds, 0),
      // The server's CPU (HTTP thread, pipeline thread meanwhile, key store thread) per accepted event.
      ...(cpuBefore === null || cpuAfter === null ? {} : { server_cpu_us_per_event: round((1000 * (cpuAfter - cpuBefore)) / load.acceptedEvents, 1) }),
      seconds: round(load.seconds, 1),
      accepted_events: load.acceptedEvents,
      events_in_log: stored,
      requests: load.requests,
      refused_requests: load.refusedRequests,
      failed_requests: load.failedRequests,
      latency_p90_ms: latency.p90_ms,
      latency_max_ms: latency.max_ms,
      events_by_type: workload.acceptedByType(),
      note: 'pipeline running in the same process',
    }
  } finally {
    sampler.stop()
    if (!stopped) {
      await pool.close()
      await cluster.stop()
    }
  }
}
