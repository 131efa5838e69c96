/**
 * @module Batching HTTP client for the tracking API (`POST /v1/batch`): packs events into batches under the
 * request and event size limits, sends a bounded number of batches at once, retries overload and network faults,
 * and splits a batch the server rejected (400) to deliver its valid events and report the invalid ones.
 */
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { systemClock, type Clock } from '../core/clock.js'
import type { FieldProblem } from '../core/errors.js'
import { batchBodyBytes, encodeBatch, encodeEvent, MAX_EVENT_BYTES } from './batch-encoding.js'
import { describeProblems, parseErrorAnswer, problemsByEvent } from './batch-problems.js'
import { ClientError, describeFetchFailure } from './client-error.js'
import type { ClientEvent } from './client-event.js'
import { DEFAULT_BACKOFF, parseRetryAfter, RETRYABLE_STATUSES, retryDelayMs, type BackoffOptions } from './retry-policy.js'

/** The subset of `fetch` the client calls; injectable so that a test or a proxy-aware caller can supply its own. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>

/** An event the client will not deliver, and why. */
export interface EventRejection<Ref> {
  readonly event: ClientEvent
  /** What the caller passed to {@link TrackingClient.enqueue} with the event (a line number, a row). */
  readonly ref: Ref | undefined
  /** `client`: refused before sending (too large); `server`: the tracking API answered 400 or 413 for it. */
  readonly by: 'client' | 'server'
  /** HTTP status of the answer that rejected it, when `by` is `server`. */
  readonly status: number | undefined
  /** One line for a person, from the server's message and problems. */
  readonly message: string
  /** The server's problems for this event, with fields relative to the event (`.userId`). */
  readonly problems: readonly FieldProblem[]
}

export interface RetryNotice {
  /** 1 for the first retry. */
  readonly attempt: number
  readonly delayMs: number
  /** `HTTP 429`, `HTTP 503`, `ECONNREFUSED (...)`. */
  readonly reason: string
}

export interface TrackingClientOptions<Ref> {
  /** Base URL of the Tessera server. @example 'http://127.0.0.1:3000' */
  readonly url: string
  /** Write key of the source the events belong to; sent as HTTP Basic `base64(writeKey + ':')`. */
  readonly writeKey: string
  /** Most events per request (default 100). */
  readonly maxBatchEvents?: number
  /** Most bytes per request body (default 450,000: under the API's 500 KB with room for proxies' headers). */
  readonly maxBatchBytes?: number
  /** Events larger than this are rejected without sending (default 32 KB, the API's limit). */
  readonly maxEventBytes?: number
  /** Most requests in flight at once (default 4). */
  readonly concurrency?: number
  /** Retries of one request after 429/5xx/network faults before giving up (default 5). */
  readonly retries?: number
  readonly backoff?: BackoffOptions
  /** Per-request timeout (default 30 s). */
  readonly requestTimeoutMs?: number
  /** Source of `sentAt`, which the server compares with its own clock to correct event timestamps. */
  readonly clock?: Clock
  readonly fetch?: FetchLike
  /** Called once per event that will not be delivered. */
  readonly onRejected?: (rejection: EventRejection<Ref>) => void
  /** Called after each accepted request with the number of events it carried. */
  readonly onAccepted?: (events: number) => void
  /** Called before each retry wait. */
  readonly onRetry?: (notice: RetryNotice) => void
}

export interface TrackingStats {
  /** Events passed to `enqueue`. */
  readonly enqueued: number
  /** Events the server accepted. */
  readonly sent: number
  /** Events refused (too large, or invalid by the server's 400 answer). */
  readonly rejected: number
  /** Events not delivered because the client failed (unreachable server, refused key). */
  readonly failed: number
  /** Requests re-sent after 429/5xx/network faults. */
  readonly retried: number
  /** Requests made, retries and splits included. */
  readonly requests: number
}

interface PendingEvent<Ref> {
  readonly event: ClientEvent
  readonly json: string
  readonly bytes: number
  readonly ref: Ref | undefined
}

type PostOutcome =
  | { readonly kind: 'accepted' }
  | { readonly kind: 'invalid'; readonly status: number; readonly message: string; readonly problems: readonly FieldProblem[] }
  | { readonly kind: 'too_large'; readonly status: number; readonly message: string }
  | { readonly kind: 'failed'; readonly error: ClientError }

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`TrackingClient: ${name} must be a positive integer, got ${value}`)
  return value
}

/** `http://host:3000/` + `/v1/batch` without a double slash, keeping any path prefix of a reverse proxy. */
export function endpointUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path
}

/**
 * Sends Segment-spec events to a Tessera tracking API in batches.
 *
 * `enqueue` resolves once the event is buffered; it waits while `concurrency` requests are in flight, so a
 * producer that awaits it (a file import) never holds more than a few batches in memory. `flush` sends what is
 * buffered and waits for every request. After a fault that retries cannot fix (server unreachable, key refused),
 * the client stops: `enqueue` and `flush` throw that {@link ClientError} (or the error a callback threw), and
 * undelivered events count as `failed`.
 *
 * @example
 * const client = new TrackingClient({ url: 'http://127.0.0.1:3000', writeKey, onRejected: (r) => console.log(r.message) })
 * await client.enqueue({ type: 'track', userId: 'u1', event: 'Signed Up' })
 * const stats = await client.flush()
 */
export class TrackingClient<Ref = undefined> {
  readonly #endpoint: string
  readonly #authorization: string
  readonly #maxBatchEvents: number
  readonly #maxBatchBytes: number
  readonly #maxEventBytes: number
  readonly #concurrency: number
  readonly #retries: number
  readonly #backoff: BackoffOptions
  readonly #timeoutMs: number
  readonly #clock: Clock
  readonly #fetch: FetchLike
  readonly #onRejected: ((rejection: EventRejection<Ref>) => void) | undefined
  readonly #onAccepted: ((events: number) => void) | undefined
  readonly #onRetry: ((notice: RetryNotice) => void) | undefined

  #buffer: PendingEvent<Ref>[] = []
  #bufferBytes = 0
  readonly #inFlight = new Set<Promise<void>>()
  /** The fault that stopped the client: a {@link ClientError}, or whatever a caller's callback threw. */
  #failure: Error | undefined
  #stats = { enqueued: 0, sent: 0, rejected: 0, failed: 0, retried: 0, requests: 0 }

  constructor(options: TrackingClientOptions<Ref>) {
    this.#endpoint = endpointUrl(options.url, '/v1/batch')
    this.#authorization = 'Basic ' + Buffer.from(`${options.writeKey}:`).toString('base64')
    this.#maxBatchEvents = positiveInteger('maxBatchEvents', options.maxBatchEvents ?? 100)
    this.#maxBatchBytes = positiveInteger('maxBatchBytes', options.maxBatchBytes ?? 450_000)
    this.#maxEventBytes = positiveInteger('maxEventBytes', options.maxEventBytes ?? MAX_EVENT_BYTES)
    this.#concurrency = positiveInteger('concurrency', options.concurrency ?? 4)
    this.#retries = options.retries ?? 5
    if (!Number.isInteger(this.#retries) || this.#retries < 0) throw new RangeError(`TrackingClient: retries must be 0 or more, got ${this.#retries}`)
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000
    this.#clock = options.clock ?? systemClock
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init))
    this.#onRejected = options.onRejected
    this.#onAccepted = options.onAccepted
    this.#onRetry = options.onRetry
  }

  /** Counters so far (a snapshot). */
  get stats(): TrackingStats {
    return { ...this.#stats }
  }

  /**
   * Buffers one event, sending the buffer first if the event would not fit. A missing `messageId` is filled
   * (a UUID) so that retries are deduplicated by the server. Throws the client's {@link ClientError} once it
   * has failed.
   */
  async enqueue(event: ClientEvent, ref?: Ref): Promise<void> {
    if (this.#failure) throw this.#failure
    this.#stats.enqueued++
    const complete: ClientEvent = event.messageId === undefined ? { ...event, messageId: randomUUID() } : event
    const { json, bytes } = encodeEvent(complete)
    if (bytes > this.#maxEventBytes) {
      this.#reject({ event: complete, json, bytes, ref }, 'client', undefined,
        `event is ${bytes.toLocaleString('en-US')} bytes; the tracking API accepts at most ${this.#maxEventBytes.toLocaleString('en-US')} bytes per event`, [])
      return
    }
    if (this.#buffer.length > 0 && batchBodyBytes(this.#bufferBytes + bytes, this.#buffer.length + 1) > this.#maxBatchBytes) {
      await this.#dispatchBuffer()
    }
    if (this.#failure) {
      // Failed while waiting for a free slot: this event will never be sent.
      this.#stats.failed++
      throw this.#failure
    }
    this.#buffer.push({ event: complete, json, bytes, ref })
    this.#bufferBytes += bytes
    if (this.#buffer.length >= this.#maxBatchEvents) await this.#dispatchBuffer()
    // The event is in a dispatched batch (or the buffer), which counts it as failed if the client has failed.
    if (this.#failure) throw this.#failure
  }

  /**
   * Sends the buffered events and waits for every request in flight. Resolves with the final counters, in
   * which `enqueued` = `sent` + `rejected` + `failed`; throws if the client has failed.
   */
  async flush(): Promise<TrackingStats> {
    if (this.#buffer.length > 0 && !this.#failure) await this.#dispatchBuffer()
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight])
    if (this.#buffer.length > 0) {
      // Only reachable after a failure: what is still buffered will never be sent.
      this.#stats.failed += this.#buffer.length
      this.#buffer = []
      this.#bufferBytes = 0
    }
    if (this.#failure) throw this.#failure
    return this.stats
  }

  /** Hands the buffer to a delivery once a slot is free. Never throws: faults are kept in `#failure`. */
  async #dispatchBuffer(): Promise<void> {
    const batch = this.#buffer
    this.#buffer = []
    this.#bufferBytes = 0
    while (this.#inFlight.size >= this.#concurrency) await Promise.race(this.#inFlight)
    const delivery: Promise<void> = this.#deliver(batch)
      .catch((error: unknown) => {
        // #deliver handles every expected outcome itself; what reaches here was thrown by a callback (or is a
        // bug) and stops the client, so that it surfaces from the next enqueue or flush rather than vanishing.
        this.#failure ??= error instanceof Error ? error : new Error(String(error))
        this.#stats.failed += batch.length
      })
      .finally(() => this.#inFlight.delete(delivery))
    this.#inFlight.add(delivery)
  }

  /** Delivers a batch; on 400 sends its valid events and reports the invalid ones, on 413 splits it. */
  async #deliver(batch: readonly PendingEvent<Ref>[]): Promise<void> {
    if (batch.length === 0) return
    if (this.#failure) {
      this.#stats.failed += batch.length
      return
    }
    const outcome = await this.#post(batch)
    switch (outcome.kind) {
      case 'accepted':
        this.#stats.sent += batch.length
        this.#onAccepted?.(batch.length)
        return
      case 'failed':
        this.#failure ??= outcome.error
        this.#stats.failed += batch.length
        return
      case 'too_large':
        if (batch.length === 1) {
          this.#reject(batch[0]!, 'server', outcome.status, `too large for the tracking API: ${outcome.message}`, [])
          return
        }
        await this.#deliverHalves(batch)
        return
      case 'invalid': {
        const byIndex = problemsByEvent(outcome.problems, batch.length)
        if (byIndex.size > 0) {
          // The answer names the bad events: report them and re-send the rest (which a server that lists only
          // its first problem may reject again, naming the next one: each round removes at least one event).
          const rest: PendingEvent<Ref>[] = []
          batch.forEach((item, index) => {
            const problems = byIndex.get(index)
            if (problems) this.#reject(item, 'server', outcome.status, describeProblems(problems), problems)
            else rest.push(item)
          })
          await this.#deliver(rest)
        } else if (batch.length === 1) {
          this.#reject(batch[0]!, 'server', outcome.status, outcome.message, outcome.problems)
        } else {
          // The answer does not say which events are bad: halve until each bad event is alone.
          await this.#deliverHalves(batch)
        }
        return
      }
    }
  }

  async #deliverHalves(batch: readonly PendingEvent<Ref>[]): Promise<void> {
    const middle = Math.ceil(batch.length / 2)
    await this.#deliver(batch.slice(0, middle))
    await this.#deliver(batch.slice(middle))
  }

  /** One batch to the API, retrying overload and network faults with `Retry-After` or backoff. */
  async #post(batch: readonly PendingEvent<Ref>[]): Promise<PostOutcome> {
    const eventJson = batch.map((item) => item.json)
    for (let attempt = 0; ; attempt++) {
      const body = encodeBatch(eventJson, new Date(this.#clock.now()).toISOString())
      let response: Response
      this.#stats.requests++
      try {
        response = await this.#fetch(this.#endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: this.#authorization },
          body,
          signal: AbortSignal.timeout(this.#timeoutMs),
        })
      } catch (error) {
        const reason = describeFetchFailure(error)
        if (attempt < this.#retries) {
          await this.#waitBeforeRetry(attempt, undefined, reason)
          continue
        }
        return {
          kind: 'failed',
          error: new ClientError('CLIENT_UNREACHABLE', `cannot reach the tracking API at ${this.#endpoint}: ${reason}`, { cause: error }),
        }
      }
      // The body is always read: undici keeps the connection busy until it is consumed.
      const text = await response.text()
      const status = response.status
      if (status >= 200 && status < 300) return { kind: 'accepted' }
      if (status === 400) {
        const answer = parseErrorAnswer(text, status)
        return { kind: 'invalid', status, message: answer.message, problems: answer.problems }
      }
      if (status === 413) return { kind: 'too_large', status, message: parseErrorAnswer(text, status).message }
      if (status === 401 || status === 403) {
        return {
          kind: 'failed',
          error: new ClientError('CLIENT_UNAUTHORIZED', `the tracking API refused the write key (HTTP ${status}: ${parseErrorAnswer(text, status).message})`, { status }),
        }
      }
      if (RETRYABLE_STATUSES.has(status)) {
        if (attempt < this.#retries) {
          const retryAfter = parseRetryAfter(response.headers.get('retry-after'), this.#clock.now())
          await this.#waitBeforeRetry(attempt, retryAfter, `HTTP ${status}`)
          continue
        }
        return {
          kind: 'failed',
          error: new ClientError('CLIENT_OVERLOADED',
            `the tracking API kept answering HTTP ${status} after ${this.#retries} retries: ${parseErrorAnswer(text, status).message}`, { status }),
        }
      }
      return {
        kind: 'failed',
        error: new ClientError('CLIENT_HTTP', `unexpected answer from the tracking API: HTTP ${status}: ${parseErrorAnswer(text, status).message}`, { status }),
      }
    }
  }

  async #waitBeforeRetry(attempt: number, retryAfterMs: number | undefined, reason: string): Promise<void> {
    const delayMs = retryDelayMs(attempt, retryAfterMs, this.#backoff)
    this.#stats.retried++
    this.#onRetry?.({ attempt: attempt + 1, delayMs, reason })
    await sleep(delayMs)
  }

  #reject(item: PendingEvent<Ref>, by: 'client' | 'server', status: number | undefined, message: string, problems: readonly FieldProblem[]): void {
    this.#stats.rejected++
    this.#onRejected?.({ event: item.event, ref: item.ref, by, status, message, problems })
  }
}
