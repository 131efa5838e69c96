/**
 * @module Expectation-maximisation of the m probabilities (P(level | match)) and of the share of matches among
 * candidate pairs, on the distinct comparison vectors with their counts (cheap: a few thousand patterns for
 * millions of pairs). u stays fixed at the random-pair estimate unless asked otherwise, as in Splink.
 */
import { NULL_LEVEL } from './comparisons.js'

export interface ComparisonPatterns {
  /** Distinct comparison vectors, concatenated (`width` levels each). */
  readonly vectors: Int8Array
  /** How many candidate pairs have each vector. */
  readonly counts: Float64Array
  readonly width: number
  readonly size: number
}

/** Groups the comparison vectors of `count` pairs (concatenated in `vectors`), or of those `include` keeps, into distinct patterns. */
export function countPatterns(vectors: Int8Array, width: number, count: number, include?: (pair: number) => boolean): ComparisonPatterns {
  const index = new Map<string, number>()
  const distinct: number[] = []
  const counts: number[] = []
  for (let p = 0; p < count; p++) {
    if (include && !include(p)) continue
    const offset = p * width
    let key = ''
    for (let c = 0; c < width; c++) key += String.fromCharCode(vectors[offset + c]! + 66)
    const at = index.get(key)
    if (at === undefined) {
      index.set(key, counts.length)
      counts.push(1)
      for (let c = 0; c < width; c++) distinct.push(vectors[offset + c]!)
    } else counts[at]!++
  }
  return { vectors: Int8Array.from(distinct), counts: Float64Array.from(counts), width, size: counts.length }
}

export interface EmParameters {
  /** Share of matches among the pairs trained on. */
  readonly lambda: number
  readonly m: readonly (readonly number[])[]
  readonly u: readonly (readonly number[])[]
}

export interface EmOptions {
  readonly maxIterations?: number
  readonly tolerance?: number
  readonly fixU?: boolean
  /** Keep m as given and estimate only the share of matches. */
  readonly fixM?: boolean
  /** Comparisons left out of this run (those the training pairs were selected on). */
  readonly inactive?: ReadonlySet<number>
  /** Smallest probability a level may get, so that no weight becomes infinite. */
  readonly floor?: number
}

export interface EmResult extends EmParameters {
  readonly iterations: number
  readonly converged: boolean
}

/** Runs EM from `start` on `patterns`; returns the estimates and whether they converged. */
export function expectationMaximisation(patterns: ComparisonPatterns, start: EmParameters, options: EmOptions = {}): EmResult {
  const maxIterations = options.maxIterations ?? 50
  const tolerance = options.tolerance ?? 1e-5
  const floor = options.floor ?? 1e-6
  const inactive = options.inactive ?? new Set<number>()
  const { width, size, vectors, counts } = patterns
  let lambda = start.lambda
  let m = start.m.map((row) => [...row])
  let u = start.u.map((row) => [...row])
  let iterations = 0
  let converged = false
  while (iterations < maxIterations) {
    iterations++
    const mCount = m.map((row) => row.map(() => 0))
    const uCount = u.map((row) => row.map(() => 0))
    let matchMass = 0
    let total = 0
    const prior = Math.log2(lambda / (1 - lambda))
    for (let p = 0; p < size; p++) {
      let w = prior
      const offset = p * width
      for (let c = 0; c < width; c++) {
        const level = vectors[offset + c]!
        if (level === NULL_LEVEL || inactive.has(c)) continue
        w += Math.log2(m[c]![level]! / u[c]![level]!)
      }
      const posterior = w > 60 ? 1 : w < -60 ? 0 : 2 ** w / (1 + 2 ** w)
      const n = counts[p]!
      matchMass += n * posterior
      total += n
      for (let c = 0; c < width; c++) {
        const level = vectors[offset + c]!
        if (level === NULL_LEVEL) continue
        mCount[c]![level]! += n * posterior
        uCount[c]![level]! += n * (1 - posterior)
      }
    }
    const normalise = (row: number[], old: readonly number[]): number[] => {
      const sum = row.reduce((s, x) => s + x, 0)
      if (sum <= 0) return [...old]
      // A level no pair fell in gets half a pair's share rather than ~0, so one unseen level cannot veto a pair.
      const scaled = row.map((x) => Math.max(x / sum, floor, 0.5 / Math.max(1, sum)))
      const again = scaled.reduce((s, x) => s + x, 0)
      return scaled.map((x) => x / again)
    }
    const nextM = options.fixM === true ? m : mCount.map((row, c) => (inactive.has(c) ? [...m[c]!] : normalise(row, m[c]!)))
    const nextU = options.fixU === false ? uCount.map((row, c) => (inactive.has(c) ? [...u[c]!] : normalise(row, u[c]!))) : u
    const nextLambda = Math.min(1 - 1e-9, Math.max(1e-9, total > 0 ? matchMass / total : lambda))
    let delta = Math.abs(nextLambda - lambda)
    nextM.forEach((row, c) => row.forEach((x, l) => (delta = Math.max(delta, Math.abs(x - m[c]![l]!)))))
    lambda = nextLambda
    m = nextM
    u = nextU
    if (delta < tolerance) {
      converged = true
      break
    }
  }
  return { lambda, m, u, iterations, converged }
}
