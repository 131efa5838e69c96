/**
 * @module Real-time matching API for the pipeline: a trained model plus an incremental blocking index over the
 * records seen so far. `score(record)` looks the record up through the index (capped blocks), scores every
 * candidate and returns them strongest first with weight, probability and the decision (auto-merge at or
 * above the match threshold, review in the middle band, none below); `add(record)` indexes one more record.
 *
 * @example
 * const { model } = trainModel(config, records, null)
 * const matcher = new Matcher(model)
 * for (const r of records) matcher.add(r)
 * const [best] = matcher.score(incoming) // { id, probability, weight, decision: 'auto-merge' | 'review' | 'none' }
 */
import { BlockingIndex } from './blocking.js'
import type { MatchRecord } from './match-record.js'
import { decide, probabilityOfWeight, type Decision } from './score.js'
import type { MatchModel } from './train.js'

export interface MatchCandidate {
  readonly id: string
  readonly weight: number
  readonly probability: number
  readonly decision: Decision
}

export interface ScoreOptions {
  /** Leave out candidates below this probability (default: the review threshold). */
  readonly minProbability?: number
  /** Return at most this many (default 10). */
  readonly limit?: number
}

export class Matcher {
  readonly model: MatchModel
  readonly #index: BlockingIndex
  readonly #records: MatchRecord[] = []
  readonly #ids = new Map<string, number>()

  constructor(model: MatchModel) {
    this.model = model
    this.#index = new BlockingIndex(model.rules, model.config.maxBlockSize)
  }

  /** Number of records indexed. */
  get size(): number {
    return this.#records.length
  }

  /** Indexes a record so later lookups can find it. A record id already indexed is refused. */
  add(record: MatchRecord): void {
    if (this.#ids.has(record.id)) throw new RangeError(`record ${JSON.stringify(record.id)} is already indexed`)
    const handle = this.#records.length
    this.#records.push(record)
    this.#ids.set(record.id, handle)
    this.#index.add(handle, record)
  }

  /** Candidates for `record` among the indexed records, strongest first (the record itself excluded). */
  score(record: MatchRecord, options: ScoreOptions = {}): MatchCandidate[] {
    const { matchThreshold, reviewThreshold } = this.model.config
    const floor = options.minProbability ?? reviewThreshold
    const out: MatchCandidate[] = []
    for (const handle of this.#index.candidates(record)) {
      const other = this.#records[handle]!
      if (other.id === record.id) continue
      const weight = this.model.scorer.weight(record, other)
      const probability = probabilityOfWeight(weight)
      if (probability < floor) continue
      out.push({ id: other.id, weight, probability, decision: decide(probability, matchThreshold, reviewThreshold) })
    }
    out.sort((a, b) => b.weight - a.weight || (a.id < b.id ? -1 : 1))
    return out.slice(0, options.limit ?? 10)
  }
}
