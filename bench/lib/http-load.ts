/**
 * @module HTTP load generator for the tracking API (undici connection pool): sends the workload's requests from
 * `connections` concurrent senders for a fixed time, either as fast as the server answers (closed loop) or paced
 * at a target rate of events per second (open loop), optionally holding back while the pipeline's backlog is
 * above a bound. Only requests answered 200 count as accepted; 429/503 answers are counted and retried later.
 */
import { Pool } from 'undici'
import { Reservoir } from './stats.js'
import type { TrackingRequest, Workload } from './workload.js'

export interface LoadOptions {
  readonly durationMs: number
  readonly connections: number
  /** Events per second to offer; absent means as fast as the server answers. */
  readonly rateEventsPerS?: number
  /** Holds senders back while `accepted − processed()` exceeds `max` (keeps an end-to-end run's backlog bounded). */
  readonly backlog?: { readonly max: number; readonly processed: () => number }
  /** Produces the next request (default: the workload's mix of batches and single calls). */
  readonly nextRequest?: () => TrackingRequest
}

export interface LoadResult {
  readonly seconds: number
  readonly requests: number
  readonly acceptedEvents: number
  readonly refusedRequests: number
  readonly failedRequests: number
  /** Latency of accepted requests, ms (sampled). */
  readonly latencies: Reservoir
  /** Time spent held back by the backlog bound, ms (all senders added up). */
  readonly heldBackMs: number
  readonly firstError: string | null
}

export interface TrackingTarget {
  readonly url: string
  readonly authorization: string
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A pool of keep-alive connections to one server. Close it with `close()`. */
export function trackingPool(url: string, connections: number): Pool {
  return new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 30_000 })
}

/** Sends one request; returns the HTTP status (0 on a network error) and the latency in ms. */
export async function send(pool: Pool, target: TrackingTarget, request: TrackingRequest): Promise<{ status: number; ms: number; error?: string }> {
  const started = performance.now()
  try {
    const res = await pool.request({
      path: request.path, method: 'POST', body: request.body,
      headers: { 'content-type': 'application/json', authorization: target.authorization },
    })
    await res.body.dump()
    return { status: res.statusCode, ms: performance.now() - started }
  } catch (error) {
    return { status: 0, ms: performance.now() - started, error: error instanceof Error ? error.message : String(error) }
  }
}

export async function runLoad(pool: Pool, target: TrackingTarget, workload: Workload, options: LoadOptions): Promise<LoadResult> {
  const latencies = new Reservoir(200_000)
  const next = options.nextRequest ?? (() => workload.request())
  let requests = 0
  let refusedRequests = 0
  let failedRequests = 0
  let heldBackMs = 0
  let firstError: string | null = null
  const acceptedBefore = workload.accepted
  const started = performance.now()
  const until = started + options.durationMs
  let nextAt = started
  await Promise.all(Array.from({ length: options.connections }, async () => {
    while (performance.now() < until) {
      const request = next()
      if (options.rateEventsPerS !== undefined) {
        const now = performance.now()
        if (nextAt < now - 1000) nextAt = now // fell far behind: do not burst to catch up
        const at = nextAt
        nextAt += (request.events.length / options.rateEventsPerS) * 1000
        if (at > now) await sleep(at - now)
        if (performance.now() >= until) break
      }
      if (options.backlog) {
        const bound = options.backlog
        const waitStart = performance.now()
        while (workload.accepted - bound.processed() > bound.max && performance.now() < until) await sleep(5)
        heldBackMs += performance.now() - waitStart
        if (performance.now() >= until) break
      }
      const { status, ms, error } = await send(pool, target, request)
      requests++
      if (status === 200) {
        workload.accept(request)
        latencies.add(ms)
      } else if (status === 429 || status === 503) {
        refusedRequests++
        await sleep(50)
      } else {
        failedRequests++
        firstError ??= error ?? `HTTP ${status} on ${request.path}`
        await sleep(50)
      }
    }
  }))
  return {
    seconds: (performance.now() - started) / 1000,
    requests, acceptedEvents: workload.accepted - acceptedBefore, refusedRequests, failedRequests, latencies, heldBackMs, firstError,
  }
}
