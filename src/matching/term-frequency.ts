/**
 * @module Term frequencies of the exact-match values of a comparison: how common a value is decides how much an
 * exact match on it is worth (Splink's TF adjustment: `log2(u_exact) - log2(max(tf, tf_min))`), so "smith"
 * counts for less than "sondergeld".
 */
import type { Comparison } from './comparisons.js'
import type { MatchRecord } from './match-record.js'

export class TermFrequencies {
  readonly #counts = new Map<string, number>()
  #total = 0

  /** A table restored from saved counts (values left out of a saved table count as seen once). */
  static fromCounts(counts: Iterable<readonly [string, number]>, total: number): TermFrequencies {
    const table = new TermFrequencies()
    for (const [value, count] of counts) table.#counts.set(value, count)
    table.#total = total
    return table
  }

  /** Counts the value of one record. */
  add(value: string): void {
    this.#counts.set(value, (this.#counts.get(value) ?? 0) + 1)
    this.#total++
  }

  /** Number of non-missing values counted. */
  get total(): number {
    return this.#total
  }

  /** Relative frequency of a value among the non-missing values; a value never seen counts as seen once. */
  frequency(value: string): number {
    if (this.#total === 0) return 1
    return (this.#counts.get(value) ?? 1) / this.#total
  }

  /** Probability that two random non-missing values are equal: Σ f². */
  collisionProbability(): number {
    if (this.#total === 0) return 0
    let sum = 0
    for (const count of this.#counts.values()) sum += (count / this.#total) ** 2
    return sum
  }

  /** Counts as JSON-friendly pairs, most frequent first (for a saved model). */
  top(limit: number): [string, number][] {
    return [...this.#counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit)
  }
}

/** Frequency tables of every comparison's column (all of them: u of the exact level uses Σ f² too). */
export function countTermFrequencies(comparisons: readonly Comparison[], records: Iterable<MatchRecord>): TermFrequencies[] {
  const tables = comparisons.map(() => new TermFrequencies())
  for (const record of records) {
    for (let i = 0; i < comparisons.length; i++) {
      const value = record.fields[comparisons[i]!.column]
      if (value) tables[i]!.add(value.s)
    }
  }
  return tables
}
