/**
 * @module Blocking: candidate pairs are the union of several equi-join rules (each rule the AND of a few keys,
 * e.g. phonetic surname + date of birth). An inverted index per rule key holds record handles; it is built one
 * record at a time, so the same index serves a batch run and real-time lookups. A key whose block grows past
 * the cap is skipped (a stop list for "smith" or a placeholder, and a guard against supernodes).
 */
import type { BlockKeyPart, ColumnKind, ColumnSpec, MatchConfig } from './match-config.js'
import type { MatchRecord } from './match-record.js'

export interface ResolvedKeyPart extends BlockKeyPart {
  readonly index: number
}

export interface BlockingRule {
  /** `surname:metaphone+dob`, for reports. */
  readonly label: string
  readonly parts: readonly ResolvedKeyPart[]
  /** The parts' values are sorted before joining, so `(a, b)` and `(b, a)` share a key (swapped names). */
  readonly unordered: boolean
}

/** Kinds that identify a person almost alone: each is a rule by itself (an e-mail by its user part too). */
const SINGLE_KINDS: ReadonlySet<ColumnKind> = new Set(['identifier', 'email', 'phone', 'dob'])
/** Kinds combined two by two; names block on their phonetic code so that a typo does not hide a pair. */
const PAIRED_KINDS: ReadonlyMap<ColumnKind, BlockKeyPart['transform']> = new Map([
  ['given_name', 'metaphone'], ['surname', 'metaphone'], ['full_name', 'metaphone'], ['dob', 'exact'], ['postcode', 'exact'],
  ['street', 'exact'], ['city', 'exact'],
])

/**
 * Rules derived from the column kinds when the config gives none: every identifier, e-mail (whole, and its user
 * part), phone and date-of-birth column on its own, and every two of names (phonetic), date of birth, postcode,
 * street and city. A rule on a given name and a surname is unordered, so that swapped names still meet.
 */
export function defaultBlockingRules(columns: readonly ColumnSpec[]): BlockKeyPart[][] {
  const rules: BlockKeyPart[][] = []
  for (const c of columns) {
    if (SINGLE_KINDS.has(c.kind)) rules.push([{ column: c.name, transform: 'exact' }])
    if (c.kind === 'email') rules.push([{ column: c.name, transform: 'user' }])
  }
  const paired = columns.filter((c) => PAIRED_KINDS.has(c.kind)).map((c) => ({ column: c.name, transform: PAIRED_KINDS.get(c.kind)! }))
  if (paired.length === 1) rules.push([paired[0]!])
  for (let i = 0; i < paired.length; i++) for (let j = i + 1; j < paired.length; j++) rules.push([paired[i]!, paired[j]!])
  if (rules.length === 0) for (const c of columns) rules.push([{ column: c.name, transform: 'exact' }])
  return rules
}

/** The config's rules (or the default ones) with column indexes resolved. */
export function resolveBlockingRules(config: MatchConfig): BlockingRule[] {
  const rules = config.blocking.length > 0 ? config.blocking : defaultBlockingRules(config.columns)
  const kindOf = new Map(config.columns.map((c) => [c.name, c.kind]))
  return rules.map((parts) => {
    const kinds = parts.map((p) => kindOf.get(p.column))
    const unordered = parts.length === 2 && kinds.includes('given_name') && kinds.includes('surname') && parts[0]!.transform === parts[1]!.transform
    return {
      label: parts.map((p) => (p.transform === 'exact' ? p.column : `${p.column}:${p.transform}`)).join(unordered ? '~' : '+'),
      parts: parts.map((p) => ({ ...p, index: config.columns.findIndex((c) => c.name === p.column) })),
      unordered,
    }
  })
}

function partValues(record: MatchRecord, part: ResolvedKeyPart): readonly string[] {
  const value = record.fields[part.index]
  if (!value) return []
  switch (part.transform) {
    case 'exact':
      return [value.s]
    case 'metaphone':
      return value.codes && value.codes.length > 0 ? value.codes : [value.s]
    case 'first3':
      return [value.s.slice(0, 3)]
    case 'year':
      return [value.s.slice(0, 4)]
    case 'user':
      return [value.alt ?? value.s]
  }
}

/** The keys of one record under one rule (several when a name has two phonetic codes; none when a part is missing). */
export function ruleKeys(record: MatchRecord, rule: BlockingRule, ruleIndex: number): string[] {
  let keys: string[][] = [[]]
  for (const part of rule.parts) {
    const values = partValues(record, part)
    if (values.length === 0) return []
    keys = values.length === 1 ? keys.map((k) => [...k, values[0]!]) : keys.flatMap((k) => values.map((v) => [...k, v]))
  }
  return keys.map((k) => `${ruleIndex}\u0001${(rule.unordered ? k.sort() : k).join('\u0001')}`)
}

/** Inverted index from blocking keys to record handles, with a cap on the block size used for lookups. */
export class BlockingIndex {
  readonly rules: readonly BlockingRule[]
  readonly maxBlockSize: number
  readonly #postings = new Map<string, number[]>()

  constructor(rules: readonly BlockingRule[], maxBlockSize: number) {
    this.rules = rules
    this.maxBlockSize = maxBlockSize
  }

  /** All keys of a record, over every rule. */
  keysOf(record: MatchRecord): string[] {
    const keys: string[] = []
    this.rules.forEach((rule, i) => {
      for (const key of ruleKeys(record, rule, i)) if (!keys.includes(key)) keys.push(key)
    })
    return keys
  }

  /** Indexes a record under `handle` (any integer the caller uses to find the record again). */
  add(handle: number, record: MatchRecord): void {
    for (const key of this.keysOf(record)) {
      const posting = this.#postings.get(key)
      if (posting) posting.push(handle)
      else this.#postings.set(key, [handle])
    }
  }

  /**
   * Calls `visit` with every posting list (block) the record falls in that is not over the cap. A handle can
   * appear in several blocks; the caller de-duplicates.
   */
  forEachBlock(record: MatchRecord, visit: (block: readonly number[]) => void): void {
    for (const key of this.keysOf(record)) {
      const posting = this.#postings.get(key)
      if (posting && posting.length <= this.maxBlockSize) visit(posting)
    }
  }

  /** The distinct handles sharing a block with `record` (blocks over the cap skipped). */
  candidates(record: MatchRecord): number[] {
    const seen = new Set<number>()
    this.forEachBlock(record, (block) => {
      for (const h of block) seen.add(h)
    })
    return [...seen]
  }

  /** Blocks over the cap, largest first: keys that no lookup uses. */
  oversizedBlocks(): { readonly rule: string; readonly key: string; readonly size: number }[] {
    const out: { rule: string; key: string; size: number }[] = []
    for (const [key, posting] of this.#postings) {
      if (posting.length <= this.maxBlockSize) continue
      const [rule, ...parts] = key.split('\u0001')
      out.push({ rule: this.rules[Number(rule)]!.label, key: parts.join('+'), size: posting.length })
    }
    return out.sort((a, b) => b.size - a.size)
  }
}

/** Candidate pairs as two parallel arrays of record indexes (left < right for a dedupe). */
export interface CandidatePairs {
  readonly left: Uint32Array
  readonly right: Uint32Array
  readonly count: number
}

class PairBuffer {
  left: Uint32Array<ArrayBuffer> = new Uint32Array(1024)
  right: Uint32Array<ArrayBuffer> = new Uint32Array(1024)
  count = 0

  push(i: number, j: number): void {
    if (this.count === this.left.length) {
      const grow = (a: Uint32Array): Uint32Array<ArrayBuffer> => {
        const b = new Uint32Array(a.length * 2)
        b.set(a)
        return b
      }
      this.left = grow(this.left)
      this.right = grow(this.right)
    }
    this.left[this.count] = i
    this.right[this.count] = j
    this.count++
  }

  done(): CandidatePairs {
    return { left: this.left.subarray(0, this.count), right: this.right.subarray(0, this.count), count: this.count }
  }
}

/** Every distinct pair (i < j) of `records` sharing a block under the cap. */
export function dedupeCandidates(records: readonly MatchRecord[], index: BlockingIndex): CandidatePairs {
  const stamp = new Int32Array(records.length).fill(-1)
  const out = new PairBuffer()
  records.forEach((record, i) => {
    index.forEachBlock(record, (block) => {
      for (const j of block) {
        if (j <= i || stamp[j] === i) continue
        stamp[j] = i
        out.push(i, j)
      }
    })
  })
  return out.done()
}

/** Every distinct pair (left i, right j) sharing a block, where `index` holds the right records. */
export function linkCandidates(left: readonly MatchRecord[], rightCount: number, index: BlockingIndex): CandidatePairs {
  const stamp = new Int32Array(rightCount).fill(-1)
  const out = new PairBuffer()
  left.forEach((record, i) => {
    index.forEachBlock(record, (block) => {
      for (const j of block) {
        if (stamp[j] === i) continue
        stamp[j] = i
        out.push(i, j)
      }
    })
  })
  return out.done()
}
