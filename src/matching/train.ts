/**
 * @module Unsupervised training of a Fellegi-Sunter model from records: term frequencies, blocking into
 * candidate pairs, comparison vectors, u from random pairs, then m and the share of matches by EM on the
 * pairs of each blocking rule (u fixed, the rule's own comparisons left out); then the share of matches among
 * all candidates, and λ for two random records as that share scaled by candidates / all possible pairs.
 */
import { BlockingIndex, dedupeCandidates, linkCandidates, resolveBlockingRules, ruleKeys, type BlockingRule, type CandidatePairs } from './blocking.js'
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
  /** One EM run per blocking rule: the pairs it selects, with the rule's own comparisons left out. */
  readonly emRuns: readonly EmRun[]
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

export interface EmRun {
  readonly rule: string
  readonly pairs: number
  readonly iterations: number
  readonly converged: boolean
  /** Share of matches among this rule's pairs. */
  readonly matchShare: number
}

/** Starting m: falling with the level (exact most likely for a match), a little mass on "else". */
function initialM(comparison: Comparison): number[] {
  const n = comparison.levels.length
  const raw = comparison.levels.map((_, l) => (l === n - 1 ? 0.05 : 0.9 * 0.5 ** l))
  const sum = raw.reduce((s, x) => s + x, 0)
  return raw.map((x) => x / sum)
}

/** Bit r set when the pair agrees on the key of rule r (rules past the 31st are not used for training). */
function ruleAgreement(rules: readonly BlockingRule[], left: readonly MatchRecord[], right: readonly MatchRecord[], candidates: CandidatePairs): Uint32Array {
  const used = rules.slice(0, 31)
  const keysOf = (records: readonly MatchRecord[]): string[][][] => records.map((record) => used.map((rule, r) => ruleKeys(record, rule, r)))
  const leftKeys = keysOf(left)
  const rightKeys = left === right ? leftKeys : keysOf(right)
  const agreement = new Uint32Array(candidates.count)
  for (let p = 0; p < candidates.count; p++) {
    const a = leftKeys[candidates.left[p]!]!
    const b = rightKeys[candidates.right[p]!]!
    let bits = 0
    for (let r = 0; r < used.length; r++) {
      const ka = a[r]!
      const kb = b[r]!
      if (ka.length > 0 && kb.length > 0 && ka.some((k) => kb.includes(k))) bits |= 1 << r
    }
    agreement[p] = bits >>> 0
  }
  return agreement
}

/**
 * m by EM, once per blocking rule as Splink trains: the pairs agreeing on the rule's key, with the comparisons of
 * the rule's own columns left out (on those pairs they agree by construction, so they say nothing about m), u
 * fixed. Each comparison's m is the mean over the runs where it was active; one never active falls back to a
 * run over all candidates. Running per rule keeps correlated columns (postcode, suburb, state of one address)
 * from pulling non-matches that share a place into the match class.
 */
function estimateM(
  comparisons: readonly Comparison[],
  rules: readonly BlockingRule[],
  left: readonly MatchRecord[],
  right: readonly MatchRecord[],
  candidates: CandidatePairs,
  vectors: Int8Array,
  u: readonly (readonly number[])[],
): { m: number[][]; runs: EmRun[] } {
  const width = comparisons.length
  const start = comparisons.map(initialM)
  const agreement = ruleAgreement(rules, left, right, candidates)
  const sums = comparisons.map((c) => new Array<number>(c.levels.length).fill(0))
  const active = new Array<number>(width).fill(0)
  const runs: EmRun[] = []
  rules.slice(0, 31).forEach((rule, r) => {
    const bit = 1 << r
    const inactive = new Set(rule.parts.map((p) => p.index))
    if (inactive.size === width) return
    const patterns = countPatterns(vectors, width, candidates.count, (p) => (agreement[p]! & bit) !== 0)
    const pairs = patterns.counts.reduce((s, x) => s + x, 0)
    if (pairs < 20) return
    const em = expectationMaximisation(patterns, { lambda: 0.1, m: start, u }, { fixU: true, inactive })
    runs.push({ rule: rule.label, pairs, iterations: em.iterations, converged: em.converged, matchShare: em.lambda })
    for (let c = 0; c < width; c++) {
      if (inactive.has(c)) continue
      active[c]!++
      em.m[c]!.forEach((x, l) => (sums[c]![l]! += x))
    }
  })
  let fallback: readonly (readonly number[])[] | null = null
  const m = comparisons.map((_, c) => {
    if (active[c]! > 0) return sums[c]!.map((x) => x / active[c]!)
    fallback ??= expectationMaximisation(countPatterns(vectors, width, candidates.count), { lambda: 0.1, m: start, u }, { fixU: true }).m
    return [...fallback[c]!]
  })
  return { m, runs }
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
  const m = estimateM(comparisons, rules, left, indexed, candidates, vectors, u)
  // With m and u settled, the share of matches among the candidates (EM on λ alone); λ for two random records
  // follows, as nearly every match is a candidate.
  const patterns = countPatterns(vectors, width, candidates.count)
  const em = expectationMaximisation(patterns, { lambda: 0.05, m: m.m, u }, { fixU: true, fixM: true })
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
      emRuns: m.runs,
      candidateMatchShare: em.lambda,
      oversizedBlocks: index.oversizedBlocks().slice(0, 20),
    },
  }
}
