/**
 * @module Comparison levels per column kind (Splink's defaults, adapted). Each comparison maps a pair of records
 * to the first level whose condition holds, in declared order: -1 when either value is missing (the null level,
 * weight 0), 0 for an exact match (where a term-frequency adjustment applies), the last level for "else".
 */
import type { ColumnKind, ColumnSpec } from './match-config.js'
import type { MatchRecord } from './match-record.js'
import type { FieldValue } from './normalise.js'
import { codesIntersect } from './phonetic.js'
import { jaroWinkler, levenshtein, osaDistanceAtMost, wordJaccard } from './similarity.js'

export const NULL_LEVEL = -1

export interface Comparison {
  readonly name: string
  readonly kind: Exclude<ColumnKind, 'ignore'>
  /** Index of the compared column in {@link MatchRecord.fields}. */
  readonly column: number
  /** Level labels; level 0 is the exact match, the last is "else". */
  readonly levels: readonly string[]
  /** Apply the term-frequency adjustment to level 0. */
  readonly termFrequency: boolean
  /** The level of a pair, or {@link NULL_LEVEL}. */
  level(a: MatchRecord, b: MatchRecord): number
}

type Leveller = (x: FieldValue, y: FieldValue, a: MatchRecord, b: MatchRecord) => number

interface KindLevels {
  readonly labels: readonly string[]
  readonly level: Leveller
}

function nameLevels(swap: number | null): KindLevels {
  // Levels: exact, swapped with the other name column, crossed, JW ≥ 0.92, JW ≥ 0.88, same phonetic code, JW ≥ 0.7, else.
  // A "crossed" name equals the other record's other name column (one of the two names entered in the wrong field).
  return {
    labels: ['exact', 'swapped', 'crossed', 'jaro-winkler >= 0.92', 'jaro-winkler >= 0.88', 'double metaphone', 'jaro-winkler >= 0.7', 'else'],
    level(x, y, a, b) {
      if (x.s === y.s) return 0
      if (swap !== null) {
        const xo = a.fields[swap]
        const yo = b.fields[swap]
        if (xo && yo && x.s === yo.s && y.s === xo.s) return 1
        if ((yo && x.s === yo.s) || (xo && y.s === xo.s)) return 2
      }
      const jw = jaroWinkler(x.s, y.s)
      if (jw >= 0.92) return 3
      if (jw >= 0.88) return 4
      if (x.codes && y.codes && codesIntersect(x.codes, y.codes)) return 5
      return jw >= 0.7 ? 6 : 7
    },
  }
}

const FULL_NAME: KindLevels = {
  labels: ['exact', 'same words', 'jaro-winkler >= 0.92', 'jaro-winkler >= 0.88', 'double metaphone', 'jaro-winkler >= 0.7', 'else'],
  level(x, y) {
    if (x.s === y.s) return 0
    if (x.alt !== undefined && x.alt === y.alt) return 1
    const jw = Math.max(jaroWinkler(x.s, y.s), jaroWinkler(x.alt ?? x.s, y.alt ?? y.s))
    if (jw >= 0.92) return 2
    if (jw >= 0.88) return 3
    if (x.codes && y.codes && x.codes.length > 0 && x.codes.every((c) => y.codes!.includes(c))) return 4
    return jw >= 0.7 ? 5 : 6
  },
}

const DOB: KindLevels = {
  labels: ['exact', 'one typo', 'within a month', 'within a year', 'within 10 years', 'else'],
  level(x, y) {
    if (x.s === y.s) return 0
    if (osaDistanceAtMost(x.s, y.s, 1) <= 1) return 1
    if (x.day === undefined || y.day === undefined) return 5
    const gap = Math.abs(x.day - y.day)
    if (gap <= 31) return 2
    if (gap <= 366) return 3
    return gap <= 3653 ? 4 : 5
  },
}

const EMAIL: KindLevels = {
  labels: ['exact', 'same user', 'jaro-winkler >= 0.88', 'else'],
  level(x, y) {
    if (x.s === y.s) return 0
    if (x.alt !== undefined && x.alt === y.alt) return 1
    return jaroWinkler(x.s, y.s) >= 0.88 ? 2 : 3
  },
}

const PHONE: KindLevels = {
  labels: ['exact', 'same last 8 digits', 'one typo', 'else'],
  level(x, y) {
    if (x.s === y.s) return 0
    if (x.alt !== undefined && x.alt.length >= 6 && x.alt === y.alt) return 1
    return osaDistanceAtMost(x.s, y.s, 1) <= 1 ? 2 : 3
  },
}

const STREET: KindLevels = {
  labels: ['exact', 'jaro-winkler >= 0.9', 'jaro-winkler >= 0.7', 'else'],
  level(x, y) {
    if (x.s === y.s) return 0
    const jw = jaroWinkler(x.s, y.s)
    if (jw >= 0.9) return 1
    return jw >= 0.7 ? 2 : 3
  },
}

const CITY: KindLevels = {
  labels: ['exact', 'jaro-winkler >= 0.88', 'else'],
  level(x, y) {
    if (x.s === y.s) return 0
    return jaroWinkler(x.s, y.s) >= 0.88 ? 1 : 2
  },
}

const EXACT_ONLY: KindLevels = {
  labels: ['exact', 'else'],
  level: (x, y) => (x.s === y.s ? 0 : 1),
}

const ONE_EDIT: KindLevels = {
  labels: ['exact', 'one edit', 'else'],
  level(x, y) {
    if (x.s === y.s) return 0
    return levenshtein(x.s, y.s) <= 1 ? 1 : 2
  },
}

const IDENTIFIER: KindLevels = {
  labels: ['exact', 'damerau-levenshtein <= 1', 'damerau-levenshtein <= 2', 'else'],
  level(x, y) {
    if (x.s === y.s) return 0
    const d = osaDistanceAtMost(x.s, y.s, 2)
    return d <= 1 ? 1 : d <= 2 ? 2 : 3
  },
}

const TEXT: KindLevels = {
  labels: ['exact', 'word jaccard >= 0.6', 'word jaccard >= 0.3', 'else'],
  level(x, y) {
    if (x.s === y.s) return 0
    const j = wordJaccard(x.s, y.s)
    return j >= 0.6 ? 1 : j >= 0.3 ? 2 : 3
  },
}

function levelsOf(kind: Exclude<ColumnKind, 'ignore'>, swap: number | null): KindLevels {
  switch (kind) {
    case 'given_name':
    case 'surname':
      return nameLevels(swap)
    case 'full_name':
      return FULL_NAME
    case 'dob':
      return DOB
    case 'email':
      return EMAIL
    case 'phone':
      return PHONE
    case 'street':
      return STREET
    case 'city':
      return CITY
    case 'postcode':
      return ONE_EDIT
    case 'street_number':
    case 'state':
      return EXACT_ONLY
    case 'identifier':
      return IDENTIFIER
    case 'text':
      return TEXT
  }
}

/** The comparisons of a config's columns, in column order. */
export function buildComparisons(columns: readonly ColumnSpec[]): Comparison[] {
  const given = columns.findIndex((c) => c.kind === 'given_name')
  const surname = columns.findIndex((c) => c.kind === 'surname')
  return columns.map((spec, column) => {
    const swap = spec.kind === 'given_name' && surname >= 0 ? surname : spec.kind === 'surname' && given >= 0 ? given : null
    const { labels, level } = levelsOf(spec.kind, swap)
    return {
      name: spec.name,
      kind: spec.kind,
      column,
      levels: labels,
      termFrequency: spec.termFrequency,
      level(a: MatchRecord, b: MatchRecord): number {
        const x = a.fields[column]
        const y = b.fields[column]
        if (!x || !y) return NULL_LEVEL
        return level(x, y, a, b)
      },
    }
  })
}

/** The comparison vector of a pair, written into `out` at `offset`. */
export function compareInto(comparisons: readonly Comparison[], a: MatchRecord, b: MatchRecord, out: Int8Array, offset: number): void {
  for (let i = 0; i < comparisons.length; i++) out[offset + i] = comparisons[i]!.level(a, b)
}
