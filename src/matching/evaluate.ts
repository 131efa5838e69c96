/**
 * @module Accuracy of a matching run against ground truth: pairwise precision, recall and F1 of the clusters
 * (every two records in one cluster count as a predicted pair) and of the scored pairs at a threshold and at
 * the best threshold; blocking recall (true pairs that were ever scored) and reduction ratio; B-cubed
 * precision and recall. Pairwise metrics follow Splink's definition: true pairs never scored are false
 * negatives. For a link only cross-file pairs count.
 */

export interface PairwiseScore {
  readonly truePositives: number
  readonly falsePositives: number
  readonly falseNegatives: number
  readonly precision: number
  readonly recall: number
  readonly f1: number
}

export interface ThresholdScore extends PairwiseScore {
  readonly threshold: number
}

export interface EvaluationInput {
  /** Ground-truth entity of every record. */
  readonly entity: readonly string[]
  /** Predicted cluster of every record (same order). */
  readonly cluster: readonly string[]
  /** File of every record (0 main, 1 `--link`); absent for a dedupe. */
  readonly source?: readonly (0 | 1)[]
  /** Scored pairs (indexes into the records) with their match probability; all candidate pairs of the run. */
  readonly pairs?: readonly { readonly a: number; readonly b: number; readonly probability: number }[]
  /** Threshold the run used, to score the pairs at. */
  readonly threshold: number
}

export interface Evaluation {
  readonly records: number
  readonly truePairs: number
  readonly possiblePairs: number
  /** Pairwise scores of the clusters (transitive closure of the matches). */
  readonly clusters: PairwiseScore
  /** Pairwise scores of the scored pairs at the run's threshold, and at the threshold giving the best F1. */
  readonly pairsAtThreshold?: ThresholdScore
  readonly pairsAtBest?: ThresholdScore
  readonly blockingRecall?: number
  readonly candidatePairs?: number
  readonly reductionRatio?: number
  readonly bcubed: { readonly precision: number; readonly recall: number; readonly f1: number }
}

function score(tp: number, fp: number, fn: number): PairwiseScore {
  const precision = tp + fp === 0 ? 1 : tp / (tp + fp)
  const recall = tp + fn === 0 ? 1 : tp / (tp + fn)
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall)
  return { truePositives: tp, falsePositives: fp, falseNegatives: fn, precision, recall, f1 }
}

/** Number of record pairs inside groups: within (dedupe) or across the two files (link). */
function pairsInGroups(groups: Map<string, number[]>, source: readonly (0 | 1)[] | undefined): number {
  let total = 0
  for (const members of groups.values()) {
    if (source === undefined) total += (members.length * (members.length - 1)) / 2
    else {
      let left = 0
      for (const m of members) if (source[m] === 0) left++
      total += left * (members.length - left)
    }
  }
  return total
}

function groupBy(keys: readonly string[]): Map<string, number[]> {
  const groups = new Map<string, number[]>()
  keys.forEach((key, i) => {
    const members = groups.get(key)
    if (members) members.push(i)
    else groups.set(key, [i])
  })
  return groups
}

/** Scores a run against the truth. */
export function evaluate(input: EvaluationInput): Evaluation {
  const { entity, cluster, source } = input
  const n = entity.length
  if (cluster.length !== n) throw new RangeError(`evaluate: ${n} entities but ${cluster.length} clusters`)
  const entities = groupBy(entity)
  const clusters = groupBy(cluster)
  const truePairs = pairsInGroups(entities, source)
  const predicted = pairsInGroups(clusters, source)
  const both = groupBy(entity.map((e, i) => `${e}\u0000${cluster[i]}`))
  const tp = pairsInGroups(both, source)
  const leftCount = source ? source.filter((s) => s === 0).length : n
  const possiblePairs = source ? leftCount * (n - leftCount) : (n * (n - 1)) / 2

  // B-cubed over records: overlap of each record's cluster with its entity.
  let bp = 0
  let br = 0
  for (let i = 0; i < n; i++) {
    const overlap = both.get(`${entity[i]}\u0000${cluster[i]}`)!.length
    bp += overlap / clusters.get(cluster[i]!)!.length
    br += overlap / entities.get(entity[i]!)!.length
  }
  bp /= Math.max(1, n)
  br /= Math.max(1, n)

  const result: Evaluation = {
    records: n,
    truePairs,
    possiblePairs,
    clusters: score(tp, predicted - tp, truePairs - tp),
    bcubed: { precision: bp, recall: br, f1: bp + br === 0 ? 0 : (2 * bp * br) / (bp + br) },
  }
  if (input.pairs === undefined) return result

  const scored = input.pairs
    .filter((p) => source === undefined || source[p.a] !== source[p.b])
    .map((p) => ({ probability: p.probability, match: entity[p.a] === entity[p.b] }))
    .sort((x, y) => y.probability - x.probability)
  const foundTrue = scored.reduce((s, p) => s + (p.match ? 1 : 0), 0)
  let best: ThresholdScore = { threshold: 1, ...score(0, 0, truePairs) }
  let atThreshold: ThresholdScore = { threshold: input.threshold, ...score(0, 0, truePairs) }
  let tpSoFar = 0
  for (let k = 0; k < scored.length; k++) {
    if (scored[k]!.match) tpSoFar++
    const next = scored[k + 1]
    if (next !== undefined && next.probability === scored[k]!.probability) continue
    const t = scored[k]!.probability
    const s = { threshold: t, ...score(tpSoFar, k + 1 - tpSoFar, truePairs - tpSoFar) }
    if (s.f1 > best.f1) best = s
    if (t >= input.threshold) atThreshold = { ...s, threshold: input.threshold }
  }
  return {
    ...result,
    pairsAtThreshold: atThreshold,
    pairsAtBest: best,
    blockingRecall: truePairs === 0 ? 1 : foundTrue / truePairs,
    candidatePairs: scored.length,
    reductionRatio: possiblePairs === 0 ? 0 : 1 - scored.length / possiblePairs,
  }
}
