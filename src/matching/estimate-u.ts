/**
 * @module u probabilities (P(level | non-match)) from random pairs: almost every random pair is a non-match, so
 * the share of sampled pairs landing in each level estimates u. The exact level is taken from the value
 * frequencies instead (Σ f², exact and cheap, and never zero for a rare value), and the other levels share the
 * rest in the sampled proportions. A level never seen gets a floor of half a pair.
 */
import { NULL_LEVEL, type Comparison } from './comparisons.js'
import type { MatchRecord } from './match-record.js'
import { randomInt, seededRandom } from '../core/seeded-random.js'
import type { TermFrequencies } from './term-frequency.js'

export interface EstimateUOptions {
  readonly pairs: number
  readonly seed: number
}

/**
 * u per comparison and level. For a dedupe pass the same list twice; for a link, the two files (pairs are drawn
 * across them).
 */
export function estimateU(
  comparisons: readonly Comparison[],
  left: readonly MatchRecord[],
  right: readonly MatchRecord[],
  frequencies: readonly TermFrequencies[],
  options: EstimateUOptions,
): number[][] {
  const random = seededRandom(options.seed)
  const counts = comparisons.map((c) => new Array<number>(c.levels.length).fill(0))
  const dedupe = left === right
  const possible = dedupe ? (left.length * (left.length - 1)) / 2 : left.length * right.length
  const draws = Math.min(options.pairs, Math.max(0, possible))
  for (let k = 0; k < draws; k++) {
    const i = randomInt(random, left.length)
    let j = randomInt(random, right.length)
    if (dedupe && j === i) j = (j + 1) % right.length
    const a = left[i]!
    const b = right[j]!
    for (let c = 0; c < comparisons.length; c++) {
      const level = comparisons[c]!.level(a, b)
      if (level !== NULL_LEVEL) counts[c]![level]!++
    }
  }
  return comparisons.map((comparison, c) => {
    const row = counts[c]!
    const observed = row.reduce((s, x) => s + x, 0)
    const exact = Math.max(frequencies[c]!.collisionProbability(), 0.5 / Math.max(1, observed))
    const rest = row.slice(1).map((x) => Math.max(x, 0.5))
    const restTotal = rest.reduce((s, x) => s + x, 0)
    return [exact, ...rest.map((x) => ((1 - exact) * x) / restTotal)].slice(0, comparison.levels.length)
  })
}
