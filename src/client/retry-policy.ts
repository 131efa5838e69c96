/**
 * @module When and how long the tracking client waits before re-sending a batch: `Retry-After` when the server
 * gives one (capped), otherwise exponential backoff with jitter (capped).
 */

/** Statuses worth retrying: overload (429, 503) and transient gateway or server faults. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504])

export interface BackoffOptions {
  /** Delay before the first retry; doubles after each. */
  readonly baseMs: number
  /** Largest backoff delay. */
  readonly maxMs: number
  /** Largest wait honoured from a `Retry-After` header, so a misconfigured server cannot stall a client for hours. */
  readonly maxRetryAfterMs: number
}

export const DEFAULT_BACKOFF: BackoffOptions = Object.freeze({ baseMs: 300, maxMs: 5_000, maxRetryAfterMs: 30_000 })

/**
 * Reads a `Retry-After` header (RFC 9110 §10.2.3: delay in seconds or an HTTP date) as milliseconds from `nowMs`;
 * undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined
  const text = value.trim()
  if (text === '') return undefined
  if (/^\d+$/.test(text)) return Number(text) * 1000
  // Every HTTP-date form names the month; without this, V8's lenient Date.parse reads '-1' as a year.
  if (!/[a-z]{3}/i.test(text)) return undefined
  const date = Date.parse(text)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - nowMs)
}

/**
 * Delay before retry number `attempt` (0 for the first retry). "Equal jitter" (half fixed, half random) spreads
 * clients that failed together without ever retrying immediately.
 */
export function retryDelayMs(
  attempt: number,
  retryAfterMs: number | undefined,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, options.maxRetryAfterMs)
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** attempt)
  return Math.round(ceiling / 2 + (random() * ceiling) / 2)
}
