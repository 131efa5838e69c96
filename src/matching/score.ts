/**
 * @module Fellegi-Sunter scoring: the match weight of a pair is the prior log2(λ/(1−λ)) plus, for each
 * comparison, log2(m/u) of the level it falls in, plus the term-frequency adjustment on exact matches; the match
 * probability is 2^w / (1 + 2^w). A decision follows from the thresholds: auto-merge, review, or none.
 */
import { NULL_LEVEL, type Comparison } from './comparisons.js'
import type { MatchRecord } from './match-record.js'
import type { TermFrequencies } from './term-frequency.js'

export interface LevelParameters {
  readonly label: string
  readonly m: number
  readonly u: number
}

export interface ComparisonParameters {
  readonly name: string
  readonly levels: readonly LevelParameters[]
  readonly termFrequency: boolean
}

/** A trained model's parameters, as saved in the run summary. */
export interface ModelParameters {
  /** Probability that two random records match. */
  readonly lambda: number
  readonly comparisons: readonly ComparisonParameters[]
}

export const DECISIONS = ['auto-merge', 'review', 'none'] as const
export type Decision = (typeof DECISIONS)[number]

/** Floor of a term frequency, so a value seen once in a small file is not worth an unbounded weight. */
export const TF_MINIMUM = 1e-4

export function probabilityOfWeight(weight: number): number {
  if (weight > 60) return 1
  if (weight < -60) return 0
  const odds = 2 ** weight
  return odds / (1 + odds)
}

export function weightOfProbability(probability: number): number {
  return Math.log2(probability / (1 - probability))
}

export function decide(probability: number, matchThreshold: number, reviewThreshold: number): Decision {
  if (probability >= matchThreshold) return 'auto-merge'
  return probability >= reviewThreshold ? 'review' : 'none'
}

/** Computes weights from a model's parameters, comparisons and term frequencies. */
export class PairScorer {
  readonly comparisons: readonly Comparison[]
  readonly parameters: ModelParameters
  readonly #prior: number
  readonly #levelWeights: Float64Array[]
  readonly #frequencies: readonly TermFrequencies[]
  readonly #log2ExactU: Float64Array
  /**
   * At index c, the most comparisons c+1.. can still add: for each, its best level (0 at least, since the null level
   * adds 0; an exact match with its term frequency at the floor).
   */
  readonly #mostAfter: Float64Array

  constructor(comparisons: readonly Comparison[], parameters: ModelParameters, frequencies: readonly TermFrequencies[]) {
    this.comparisons = comparisons
    this.parameters = parameters
    this.#frequencies = frequencies
    this.#prior = weightOfProbability(parameters.lambda)
    this.#levelWeights = parameters.comparisons.map((c) => Float64Array.from(c.levels.map((l) => Math.log2(l.m / l.u))))
    this.#log2ExactU = Float64Array.from(parameters.comparisons.map((c) => Math.log2(c.levels[0]!.u)))
    const most = parameters.comparisons.map((c, i) => {
      const levels = this.#levelWeights[i]!
      const exact = levels[0]! + (c.termFrequency ? this.#log2ExactU[i]! - Math.log2(TF_MINIMUM) : 0)
      return Math.max(0, exact, ...levels)
    })
    this.#mostAfter = Float64Array.from(most.map((_, i) => most.slice(i + 1).reduce((a, b) => a + b, 0)))
  }

  get priorWeight(): number {
    return this.#prior
  }

  /** Weight of a level of comparison `c` for this pair (with the TF adjustment on an exact match). */
  levelWeight(c: number, level: number, a: MatchRecord): number {
    if (level === NULL_LEVEL) return 0
    let w = this.#levelWeights[c]![level]!
    if (level === 0 && this.parameters.comparisons[c]!.termFrequency) {
      const value = a.fields[this.comparisons[c]!.column]!
      const tf = Math.max(this.#frequencies[c]!.frequency(value.s), TF_MINIMUM)
      w += this.#log2ExactU[c]! - Math.log2(tf)
    }
    return w
  }

  /** Match weight of a pair whose comparison vector is `vector[offset..offset+width)`. */
  weightOfVector(vector: Int8Array, offset: number, a: MatchRecord): number {
    let w = this.#prior
    for (let c = 0; c < this.comparisons.length; c++) w += this.levelWeight(c, vector[offset + c]!, a)
    return w
  }

  /** Match weight of a pair, comparing it now. */
  weight(a: MatchRecord, b: MatchRecord): number {
    let w = this.#prior
    for (let c = 0; c < this.comparisons.length; c++) w += this.levelWeight(c, this.comparisons[c]!.level(a, b), a)
    return w
  }

  /**
   * The pair's weight (the same number as {@link weight}), or null as soon as the comparisons left cannot lift it to
   * `threshold` (each at its best level, a term frequency at its floor): most candidates of a wide block are far
   * below the review band, and stop after a comparison or two.
   */
  weightUnlessBelow(a: MatchRecord, b: MatchRecord, threshold: number): number | null {
    let w = this.#prior
    for (let c = 0; c < this.comparisons.length; c++) {
      w += this.levelWeight(c, this.comparisons[c]!.level(a, b), a)
      if (w + this.#mostAfter[c]! < threshold) return null
    }
    return w
  }

  /** Per-comparison explanation of a pair's weight: which level, and what it contributed. */
  explain(a: MatchRecord, b: MatchRecord): { comparison: string; level: string; weight: number }[] {
    return this.comparisons.map((comparison, c) => {
      const level = comparison.level(a, b)
      return { comparison: comparison.name, level: level === NULL_LEVEL ? 'null' : comparison.levels[level]!, weight: this.levelWeight(c, level, a) }
    })
  }
}
