/**
 * @module Real-time matching for the pipeline: reads an event's personal traits into a match record (the model's
 * columns name trait paths, e.g. `first_name`, `address.postcode`), computes its blocking keys (the persisted
 * index stores them per profile), overlays a profile's stored record with newer values, and picks the best
 * candidate with its decision against the pipeline's own thresholds (auto-merge, review, none).
 */
import type { JsonObject, RawEvent } from '../core/event.js'
import { BlockingIndex } from './blocking.js'
import type { MatchRecord } from './match-record.js'
import { normaliseValue, type FieldValue } from './normalise.js'
import { decide, probabilityOfWeight, weightOfProbability, type Decision } from './score.js'
import type { MatchModel } from './train.js'
import type { MatchConfig } from './match-config.js'

export interface RealtimeMatchingOptions {
  /** Merge at or above this probability. */
  readonly autoMerge: number
  /** Queue for review from this probability up to `autoMerge`. */
  readonly review: number
  /** A blocking key shared by more profiles than this is not used for lookups. */
  readonly maxBlockSize: number
  /**
   * A key shared by more profiles than this is used only when none of the record's narrower keys holds a profile
   * (default: the same as maxBlockSize, every key under the cap is used).
   */
  readonly preferBlockSize?: number
}

export interface MatchDecision {
  readonly profileId: string
  readonly probability: number
  readonly weight: number
  readonly decision: Decision
}

function traitAt(traits: JsonObject, path: string): string | null {
  let node: unknown = traits
  if (Object.hasOwn(traits, path)) node = traits[path]
  else {
    for (const segment of path.split('.')) {
      if (typeof node !== 'object' || node === null || Array.isArray(node)) return null
      node = (node as Record<string, unknown>)[segment]
    }
  }
  if (typeof node === 'string') return node
  if (typeof node === 'number' && Number.isFinite(node)) return String(node)
  return null
}

/**
 * A match record from a profile's (or an event's) traits under a matcher config: each column names a trait path
 * (`first_name`, `address.postcode`). Null when none of the compared traits is there.
 */
export function traitRecord(config: MatchConfig, id: string, traits: JsonObject): MatchRecord | null {
  let any = false
  const fields = config.columns.map((c) => {
    const raw = traitAt(traits, c.name)
    const value = raw === null ? null : normaliseValue(raw, c.kind, config.dateOrder)
    if (value) any = true
    return value
  })
  return any ? { id, source: 0, fields } : null
}

export class RealtimeMatching {
  readonly model: MatchModel
  readonly options: RealtimeMatchingOptions
  readonly #keys: BlockingIndex
  readonly #keysOf = new WeakMap<MatchRecord, readonly string[]>()
  /** The weight of the review threshold, less a margin for rounding: a pair that cannot reach it is not scored to the end. */
  readonly #reviewWeight: number

  constructor(model: MatchModel, options: RealtimeMatchingOptions) {
    if (!(options.review > 0 && options.review <= options.autoMerge && options.autoMerge < 1)) {
      throw new RangeError(`matching thresholds must satisfy 0 < review <= autoMerge < 1, got review ${options.review}, autoMerge ${options.autoMerge}`)
    }
    this.model = model
    this.options = options
    this.#keys = new BlockingIndex(model.rules, options.maxBlockSize)
    this.#reviewWeight = weightOfProbability(options.review) - 1e-6
  }

  /** The event's compared traits, normalised (`id` is the message id); null when it carries none of them. */
  prepare(event: RawEvent): MatchRecord | null {
    return event.traits ? traitRecord(this.model.config, event.messageId, event.traits) : null
  }

  /**
   * Blocking keys of a record, over every rule of the model. Remembered per record object (records are immutable),
   * since one batch asks for an event's keys several times.
   */
  keysOf(record: MatchRecord): readonly string[] {
    let keys = this.#keysOf.get(record)
    if (keys === undefined) {
      keys = this.#keys.keysOf(record)
      this.#keysOf.set(record, keys)
    }
    return keys
  }

  /** A profile's record: the stored one with every value the newer record has replacing it. */
  overlay(profileId: string, stored: MatchRecord | null, newer: MatchRecord): MatchRecord {
    const fields = newer.fields.map((v, i) => v ?? stored?.fields[i] ?? null)
    return { id: profileId, source: 0, fields }
  }

  encode(record: MatchRecord): string {
    return JSON.stringify(record.fields)
  }

  /** A stored record; null when it was written for another model (a different number of columns). */
  decode(profileId: string, fields: string): MatchRecord | null {
    const parsed = JSON.parse(fields) as (FieldValue | null)[]
    if (!Array.isArray(parsed) || parsed.length !== this.model.config.columns.length) return null
    return { id: profileId, source: 0, fields: parsed }
  }

  /**
   * True when `candidate` scores at or above the review threshold against `record`: a candidate below it is never
   * chosen, so the pipeline loads identifiers only for candidates that pass (cheap: a weight, no I/O).
   */
  reachesReview(record: MatchRecord, candidate: MatchRecord): boolean {
    const weight = this.model.scorer.weightUnlessBelow(record, candidate, this.#reviewWeight)
    return weight !== null && probabilityOfWeight(weight) >= this.options.review
  }

  /** The strongest candidate at or above the review threshold, or null. Ties go to the smaller profile id. */
  best(record: MatchRecord, candidates: Iterable<MatchRecord>): MatchDecision | null {
    let top: MatchDecision | null = null
    for (const other of candidates) {
      const weight = this.model.scorer.weight(record, other)
      if (top !== null && (weight < top.weight || (weight === top.weight && other.id > top.profileId))) continue
      const probability = probabilityOfWeight(weight)
      top = { profileId: other.id, probability, weight, decision: decide(probability, this.options.autoMerge, this.options.review) }
    }
    return top !== null && top.decision !== 'none' ? top : null
  }
}
