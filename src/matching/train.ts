/**
 * @module Unsupervised training of a Fellegi-Sunter model from records: term frequencies, blocking into
 * candidate pairs, comparison vectors, u from random pairs, then m and the share of matches by EM on the
 * candidate pairs (u fixed); λ for two random records is that share scaled by candidates / all possible pairs.
 */
import { BlockingIndex, dedupeCandidates, linkCandidates, resolveBlockingRules, type BlockingRule, type CandidatePairs } from './blocking.js'
import { buildComparisons, compareInto, type Comparison } from './comparisons.js'
import { countPatterns, expectationMaximisation } from './em.js'
import { estimateU } from './estimate-u.js'
import type { MatchConfig } from './match-config.js'
import type { MatchRecord } from './match-record.js'
import { PairScorer, type ModelParameters } from './score.js'
import { countTermFrequencies, type TermFrequencies } from './term-frequency.js'

/** Phases of a run, for a progress display. */
export type MatchPhase = 'blocking' | 'comparing' | 'training' | 'scoring' | 'clustering'

export type ProgressCallback = (phase: MatchPhase, done: number, total: number) => void

/** A trained model: everything needed to score new pairs. */
export interface MatchModel {
  readonly config: MatchConfig
  readonly comparisons: readonly Comparison[]
  readonly rules: readonly BlockingRule[]
  readonly frequencies: readonly TermFrequencies[]
  readonly scorer: PairScorer
}

export interface TrainingReport {
  readonly candidatePairs: number
  readonly possiblePairs: number
  readonly randomPairs: number
  readonly patterns: number
  readonly emIterations: number
  readonly emConverged: boolean
  /** Share of matches among candidate pairs, as EM estimated it. */
  readonly candidateMatchShare: number
  readonly oversizedBlocks: readonly { readonly rule: string; readonly key: string; readonly size: number }[]
}

export interface Training {
  readonly model: MatchModel
  readonly report: TrainingReport
  /** The candidate pairs (indexes into left and right) and their comparison vectors, for scoring. */
  readonly candidates: CandidatePairs
  readonly vectors: Int8Array
}

/** Starting m: falling with the level (exact most likely for a match), a little mass on "else". */
function initialM(comparison: Comparison): number[] {
  const n = comparison.levels.length
  const raw = comparison.levels.map((_, l) => (l === n - 1 ? 0.05 : 0.9 * 0.5 ** l))
  const sum = raw.reduce((s, x) => s + x, 0)
  return raw.map((x) => x / sum)
}

/**
 * Trains a model on one file (`right` null: deduplication) or two (linkage), and returns it with the candidate
 * pairs it scored, so a batch run does not compare them twice.
 */
export function trainModel(config: MatchConfig, left: readonly MatchRecord[], right: readonly MatchRecord[] | null, progress?: ProgressCallback): Training {
  const comparisons = buildComparisons(config.columns)
  const frequencies = countTermFrequencies(comparisons, right === null ? left : [...left, ...right])
  const rules = resolveBlockingRules(config)
  const index = new BlockingIndex(rules, config.maxBlockSize)
  const indexed = right ?? left
  progress?.('blocking', 0, indexed.length)
  indexed.forEach((record, i) => index.add(i, record))
  const candidates = right === null ? dedupeCandidates(left, index) : linkCandidates(left, right.length, index)
  progress?.('blocking', indexed.length, indexed.length)

  const width = comparisons.length
  const vectors = new Int8Array(candidates.count * width)
  const step = 50_000
  for (let p = 0; p < candidates.count; p++) {
    compareInto(comparisons, left[candidates.left[p]!]!, indexed[candidates.right[p]!]!, vectors, p * width)
    if (progress && p % step === 0) progress('comparing', p, candidates.count)
  }
  progress?.('comparing', candidates.count, candidates.count)

  progress?.('training', 0, 1)
  const u = estimateU(comparisons, left, indexed, frequencies, { pairs: config.uSamplePairs, seed: config.seed })
  const patterns = countPatterns(vectors, width, candidates.count)
  const em = expectationMaximisation(patterns, { lambda: 0.05, m: comparisons.map(initialM), u }, { fixU: true })
  const possiblePairs = right === null ? (left.length * (left.length - 1)) / 2 : left.length * right.length
  const lambda = Math.min(0.5, Math.max(1e-12, (em.lambda * candidates.count) / Math.max(1, possiblePairs)))
  const parameters: ModelParameters = {
    lambda,
    comparisons: comparisons.map((c, i) => ({
      name: c.name,
      termFrequency: c.termFrequency,
      levels: c.levels.map((label, l) => ({ label, m: em.m[i]![l]!, u: u[i]![l]! })),
    })),
  }
  progress?.('training', 1, 1)
  const model: MatchModel = { config, comparisons, rules, frequencies, scorer: new PairScorer(comparisons, parameters, frequencies) }
  return {
    model,
    candidates,
    vectors,
    report: {
      candidatePairs: candidates.count,
      possiblePairs,
      randomPairs: Math.min(config.uSamplePairs, possiblePairs),
      patterns: patterns.size,
      emIterations: em.iterations,
      emConverged: em.converged,
      candidateMatchShare: em.lambda,
      oversizedBlocks: index.oversizedBlocks().slice(0, 20),
    },
  }
}
