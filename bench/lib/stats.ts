/**
 * @module Percentile maths for benchmark samples: nearest-rank percentiles, medians, and a summary of a latency
 * sample in the shape the result file uses.
 */

/**
 * The nearest-rank percentile of an ascending-sorted sample: the smallest value with at least `p` of the sample at
 * or below it. `p` is a fraction in [0, 1]. Throws on an empty sample (a benchmark that measured nothing must not
 * report 0 ms).
 */
export function percentileOfSorted(sorted: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`percentile must be a fraction in [0, 1], got ${p}`)
  if (sorted.length === 0) throw new RangeError('percentile of an empty sample: nothing was measured')
  const rank = Math.max(1, Math.ceil(p * sorted.length))
  return sorted[rank - 1]!
}

/** Sorts a copy and takes the percentile (see {@link percentileOfSorted}). */
export function percentile(sample: readonly number[], p: number): number {
  return percentileOfSorted([...sample].sort((a, b) => a - b), p)
}

/** The median of a sample (mean of the two middle values for an even count). Throws on an empty sample. */
export function median(sample: readonly number[]): number {
  if (sample.length === 0) throw new RangeError('median of an empty sample: nothing was measured')
  const sorted = [...sample].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export interface LatencySummary {
  readonly count: number
  readonly p50_ms: number
  readonly p90_ms: number
  readonly p99_ms: number
  readonly max_ms: number
}

/** Rounds to `digits` decimals (result files keep 3 significant decimals at most). */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

/** p50/p90/p99/max of a latency sample in ms. */
export function summarize(sampleMs: readonly number[]): LatencySummary {
  const sorted = [...sampleMs].sort((a, b) => a - b)
  return {
    count: sorted.length,
    p50_ms: round(percentileOfSorted(sorted, 0.5), 3),
    p90_ms: round(percentileOfSorted(sorted, 0.9), 3),
    p99_ms: round(percentileOfSorted(sorted, 0.99), 3),
    max_ms: round(sorted[sorted.length - 1]!, 3),
  }
}

/**
 * A bounded sample of a stream of values (reservoir sampling, algorithm R), so a long run's latencies fit in
 * memory while every value has the same chance to be kept. Deterministic for a given `seed`.
 */
export class Reservoir {
  readonly #capacity: number
  readonly #values: number[] = []
  #seen = 0
  #state: number

  constructor(capacity = 100_000, seed = 0x9e3779b9) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`reservoir capacity must be a positive integer, got ${capacity}`)
    this.#capacity = capacity
    this.#state = seed >>> 0
  }

  add(value: number): void {
    this.#seen++
    if (this.#values.length < this.#capacity) {
      this.#values.push(value)
      return
    }
    const slot = Math.floor(this.#random() * this.#seen)
    if (slot < this.#capacity) this.#values[slot] = value
  }

  /** How many values were offered (not how many are kept). */
  get seen(): number {
    return this.#seen
  }

  values(): readonly number[] {
    return this.#values
  }

  /** xorshift32: enough for sampling, and reproducible. */
  #random(): number {
    let x = this.#state
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    this.#state = x >>> 0
    return this.#state / 4294967296
  }
}
