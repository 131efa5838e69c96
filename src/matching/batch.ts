/**
 * @module Batch matching of one file (deduplication) or two (linkage): trains the model, scores every candidate
 * pair (weight and probability), then clusters the pairs at the match threshold (dedupe: connected components
 * with the size cap and cohesion check; link: the one-to-one / one-to-many constraint first).
 */
import { clusterPairs, type Edge } from './cluster.js'
import { selectLinks } from './link.js'
import type { MatchConfig } from './match-config.js'
import type { MatchRecord } from './match-record.js'
import { probabilityOfWeight } from './score.js'
import { trainModel, type MatchModel, type ProgressCallback, type TrainingReport } from './train.js'

export interface ScoredPairs {
  /** Index in the main file. */
  readonly left: Uint32Array
  /** Index in the main file (dedupe) or in the `--link` file (link). */
  readonly right: Uint32Array
  readonly weight: Float64Array
  readonly probability: Float64Array
  readonly count: number
}

export interface BatchResult {
  readonly model: MatchModel
  readonly training: TrainingReport
  /** Every candidate pair, scored. */
  readonly pairs: ScoredPairs
  /** Cluster number per record: the main file's records first, then the `--link` file's. */
  readonly clusterOf: Int32Array
  /** Pairs at or above the match threshold (after the link constraint, for a link). */
  readonly matchedPairs: number
  readonly clusterSplits: number
}

/** Deduplicates `left`, or links it with `right`. */
export function matchBatch(config: MatchConfig, left: readonly MatchRecord[], right: readonly MatchRecord[] | null, progress?: ProgressCallback): BatchResult {
  const training = trainModel(config, left, right, progress)
  const { model, candidates, vectors } = training
  const scorer = model.scorer
  const width = model.comparisons.length
  const weight = new Float64Array(candidates.count)
  const probability = new Float64Array(candidates.count)
  progress?.('scoring', 0, candidates.count)
  for (let p = 0; p < candidates.count; p++) {
    const w = scorer.weightOfVector(vectors, p * width, left[candidates.left[p]!]!)
    weight[p] = w
    probability[p] = probabilityOfWeight(w)
  }
  progress?.('scoring', candidates.count, candidates.count)
  const pairs: ScoredPairs = { left: candidates.left, right: candidates.right, weight, probability, count: candidates.count }

  progress?.('clustering', 0, 1)
  const threshold = config.matchThreshold
  let edges: Edge[] = []
  let total: number
  let all: readonly MatchRecord[]
  if (right === null) {
    total = left.length
    all = left
    for (let p = 0; p < pairs.count; p++) if (probability[p]! >= threshold) edges.push({ a: pairs.left[p]!, b: pairs.right[p]!, probability: probability[p]! })
  } else {
    total = left.length + right.length
    all = [...left, ...right]
    const links = []
    for (let p = 0; p < pairs.count; p++) if (probability[p]! >= threshold) links.push({ left: pairs.left[p]!, right: pairs.right[p]!, probability: probability[p]! })
    edges = selectLinks(links, config.link).map((l) => ({ a: l.left, b: left.length + l.right, probability: l.probability }))
  }
  const clusters = clusterPairs(total, edges, {
    // A link's clusters are already shaped by the link constraint; the guards apply to a one-to-many or many-to-many link too.
    maxSize: config.maxClusterSize,
    minCohesion: config.minCohesion,
    probability: (a, b) => probabilityOfWeight(scorer.weight(all[a]!, all[b]!)),
  })
  progress?.('clustering', 1, 1)
  return { model, training: training.report, pairs, clusterOf: clusters.clusterOf, matchedPairs: edges.length, clusterSplits: clusters.splits }
}
