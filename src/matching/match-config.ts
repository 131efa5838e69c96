/**
 * @module The matcher's configuration (`match.json`): which column holds the record id, what kind of value
 * every other column holds (the kind decides normalisation, comparison levels and default blocking), optional
 * blocking rules, thresholds, clustering guards and the link mode. {@link parseMatchConfig} checks a parsed
 * JSON value and says what is wrong, where, and how to fix it.
 */
import { ConfigError } from '../core/errors.js'

/** What a column holds. `ignore` keeps a column in the file out of the model. */
export const COLUMN_KINDS = [
  'given_name', 'surname', 'full_name', 'dob', 'email', 'phone', 'street', 'street_number', 'city', 'postcode',
  'state', 'identifier', 'text', 'ignore',
] as const
export type ColumnKind = (typeof COLUMN_KINDS)[number]

export const LINK_MODES = ['one-to-one', 'one-to-many', 'many-to-many'] as const
export type LinkMode = (typeof LINK_MODES)[number]

/** Orders of day, month and year for dates written with separators (`03/04/1990`). */
export const DATE_ORDERS = ['ymd', 'dmy', 'mdy'] as const
export type DateOrder = (typeof DATE_ORDERS)[number]

/**
 * A part of a blocking key: a column, optionally through a transform (`surname:metaphone`; `first3`: first three
 * characters; `year`: first four of a date; `user`: the user part of an e-mail).
 */
export const BLOCK_TRANSFORMS = ['exact', 'metaphone', 'first3', 'year', 'user'] as const
export type BlockTransform = (typeof BLOCK_TRANSFORMS)[number]

export interface BlockKeyPart {
  readonly column: string
  readonly transform: BlockTransform
}

export interface ColumnSpec {
  readonly name: string
  readonly kind: Exclude<ColumnKind, 'ignore'>
  /** Term-frequency adjustment on the exact level (default: on for names, cities, streets, postcodes, e-mails). */
  readonly termFrequency: boolean
}

export interface MatchConfig {
  /** Column holding the record id. */
  readonly id: string
  /** Compared columns, in the order of the file's config. */
  readonly columns: readonly ColumnSpec[]
  /** Union of blocking rules; each rule is the AND of its parts. Empty: derived from the column kinds. */
  readonly blocking: readonly (readonly BlockKeyPart[])[]
  /** Keys whose block holds more records than this are skipped (a stop list; also a supernode guard). */
  readonly maxBlockSize: number
  /** Auto-merge at or above this match probability. */
  readonly matchThreshold: number
  /** Review band: from this probability up to `matchThreshold`. */
  readonly reviewThreshold: number
  /** Clusters larger than this are split at a higher threshold. */
  readonly maxClusterSize: number
  /** Minimum mean match probability over all pairs inside a cluster of 3 or more; below it the cluster is split. */
  readonly minCohesion: number
  readonly link: LinkMode
  readonly dateOrder: DateOrder
  /** Random pairs drawn to estimate u. */
  readonly uSamplePairs: number
  /** Seed of the random pair sampler, so a run is reproducible. */
  readonly seed: number
}

export const MATCH_CONFIG_DEFAULTS = {
  maxBlockSize: 500,
  matchThreshold: 0.99,
  reviewThreshold: 0.5,
  maxClusterSize: 50,
  minCohesion: 0.2,
  link: 'one-to-one',
  dateOrder: 'ymd',
  uSamplePairs: 300_000,
  seed: 42,
} as const satisfies Partial<MatchConfig>

const TF_BY_DEFAULT: ReadonlySet<ColumnKind> = new Set(['given_name', 'surname', 'full_name', 'city', 'street', 'postcode', 'email', 'street_number'])

const TOP_LEVEL_KEYS = [
  'id', 'columns', 'blocking', 'maxBlockSize', 'thresholds', 'cluster', 'link', 'dateOrder', 'uSamplePairs', 'seed', '$comment',
] as const

const HOW = 'see docs/identity.md, "Configuration"'

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function fail(field: string, message: string): never {
  throw new ConfigError(`match config ${field}: ${message} (${HOW})`, field)
}

function closest(word: string, options: readonly string[]): string {
  const near = options.find((o) => o.startsWith(word.slice(0, 3)) || word.startsWith(o.slice(0, 3)))
  return near === undefined ? '' : `; did you mean ${JSON.stringify(near)}?`
}

function numberIn(value: unknown, field: string, min: number, max: number, integer: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    fail(field, `must be ${integer ? 'an integer' : 'a number'} between ${min} and ${max}, got ${JSON.stringify(value)}`)
  }
  if (value < min || value > max) fail(field, `must be between ${min} and ${max}, got ${value}`)
  return value
}

function oneOf<T extends string>(value: unknown, field: string, options: readonly T[]): T {
  if (typeof value !== 'string' || !(options as readonly string[]).includes(value)) {
    const hint = typeof value === 'string' ? closest(value, options) : ''
    fail(field, `must be one of ${options.join(', ')}, got ${JSON.stringify(value)}${hint}`)
  }
  return value as T
}

function parseColumns(raw: unknown): ColumnSpec[] {
  if (!isObject(raw)) fail('.columns', 'must be an object mapping each column name to its kind, e.g. {"surname": "surname", "dob": "dob"}')
  const columns: ColumnSpec[] = []
  for (const [name, spec] of Object.entries(raw)) {
    const field = `.columns[${JSON.stringify(name)}]`
    let kind: ColumnKind
    let termFrequency: boolean | undefined
    if (typeof spec === 'string') kind = oneOf(spec, field, COLUMN_KINDS)
    else if (isObject(spec)) {
      for (const key of Object.keys(spec)) if (key !== 'kind' && key !== 'termFrequency') fail(`${field}.${key}`, 'unknown key; a column takes "kind" and "termFrequency"')
      kind = oneOf(spec.kind, `${field}.kind`, COLUMN_KINDS)
      if (spec.termFrequency !== undefined) {
        if (typeof spec.termFrequency !== 'boolean') fail(`${field}.termFrequency`, `must be true or false, got ${JSON.stringify(spec.termFrequency)}`)
        termFrequency = spec.termFrequency
      }
    } else fail(field, `must be a kind (${COLUMN_KINDS.join(', ')}) or {"kind": ..., "termFrequency": true|false}`)
    if (kind === 'ignore') continue
    columns.push({ name, kind, termFrequency: termFrequency ?? TF_BY_DEFAULT.has(kind) })
  }
  if (columns.length === 0) fail('.columns', 'names no column to compare; map at least one column to a kind other than "ignore"')
  return columns
}

/** `"surname:metaphone"` → a key part; the column must be one of the compared columns. */
function parseKeyPart(raw: unknown, field: string, columns: ReadonlySet<string>): BlockKeyPart {
  if (typeof raw !== 'string' || raw.trim() === '') fail(field, `must be a column name, optionally with ":<transform>" (${BLOCK_TRANSFORMS.join(', ')}), got ${JSON.stringify(raw)}`)
  const at = raw.lastIndexOf(':')
  const column = at < 0 ? raw : raw.slice(0, at)
  const transform = at < 0 ? 'exact' : oneOf(raw.slice(at + 1), field, BLOCK_TRANSFORMS)
  if (!columns.has(column)) fail(field, `column ${JSON.stringify(column)} is not in "columns"; block only on compared columns (${[...columns].join(', ')})`)
  return { column, transform }
}

function parseBlocking(raw: unknown, columns: ReadonlySet<string>): BlockKeyPart[][] {
  if (raw === undefined) return []
  if (!Array.isArray(raw)) fail('.blocking', 'must be a list of rules, each a list of columns, e.g. [["surname", "dob"], ["email"]]')
  return raw.map((rule: unknown, i) => {
    const field = `.blocking[${i}]`
    const parts = typeof rule === 'string' ? [rule] : rule
    if (!Array.isArray(parts) || parts.length === 0) fail(field, 'must be a non-empty list of columns, e.g. ["surname", "dob"]')
    return parts.map((part: unknown, j) => parseKeyPart(part, `${field}[${j}]`, columns))
  })
}

/**
 * Checks a parsed `match.json` and fills in the defaults. Throws {@link ConfigError} naming the field, the
 * problem and the fix.
 */
export function parseMatchConfig(raw: unknown): MatchConfig {
  if (!isObject(raw)) fail('(root)', 'must be a JSON object with at least "id" and "columns"')
  for (const key of Object.keys(raw)) {
    if (!(TOP_LEVEL_KEYS as readonly string[]).includes(key)) fail(`.${key}`, `unknown key${closest(key, TOP_LEVEL_KEYS)}; allowed: ${TOP_LEVEL_KEYS.join(', ')}`)
  }
  if (typeof raw.id !== 'string' || raw.id.trim() === '') fail('.id', 'must name the column that holds the record id, e.g. "id": "rec_id"')
  const id = raw.id
  const columns = parseColumns(raw.columns)
  if (columns.some((c) => c.name === id)) fail(`.columns[${JSON.stringify(id)}]`, 'is the id column; the id is never compared, remove it from "columns"')
  const names = new Set(columns.map((c) => c.name))
  const blocking = parseBlocking(raw.blocking, names)

  const thresholds = raw.thresholds ?? {}
  if (!isObject(thresholds)) fail('.thresholds', 'must be an object like {"match": 0.99, "review": 0.5}')
  for (const key of Object.keys(thresholds)) if (key !== 'match' && key !== 'review') fail(`.thresholds.${key}`, 'unknown key; allowed: match, review')
  const matchThreshold = thresholds.match === undefined ? MATCH_CONFIG_DEFAULTS.matchThreshold : numberIn(thresholds.match, '.thresholds.match', 0, 1, false)
  const reviewThreshold = thresholds.review === undefined ? Math.min(MATCH_CONFIG_DEFAULTS.reviewThreshold, matchThreshold) : numberIn(thresholds.review, '.thresholds.review', 0, 1, false)
  if (reviewThreshold > matchThreshold) fail('.thresholds.review', `(${reviewThreshold}) must not be above thresholds.match (${matchThreshold})`)

  const cluster = raw.cluster ?? {}
  if (!isObject(cluster)) fail('.cluster', 'must be an object like {"maxSize": 50, "minCohesion": 0.2}')
  for (const key of Object.keys(cluster)) if (key !== 'maxSize' && key !== 'minCohesion') fail(`.cluster.${key}`, 'unknown key; allowed: maxSize, minCohesion')

  return {
    id,
    columns,
    blocking,
    maxBlockSize: raw.maxBlockSize === undefined ? MATCH_CONFIG_DEFAULTS.maxBlockSize : numberIn(raw.maxBlockSize, '.maxBlockSize', 2, 1_000_000, true),
    matchThreshold,
    reviewThreshold,
    maxClusterSize: cluster.maxSize === undefined ? MATCH_CONFIG_DEFAULTS.maxClusterSize : numberIn(cluster.maxSize, '.cluster.maxSize', 2, 1_000_000, true),
    minCohesion: cluster.minCohesion === undefined ? MATCH_CONFIG_DEFAULTS.minCohesion : numberIn(cluster.minCohesion, '.cluster.minCohesion', 0, 1, false),
    link: raw.link === undefined ? MATCH_CONFIG_DEFAULTS.link : oneOf(raw.link, '.link', LINK_MODES),
    dateOrder: raw.dateOrder === undefined ? MATCH_CONFIG_DEFAULTS.dateOrder : oneOf(raw.dateOrder, '.dateOrder', DATE_ORDERS),
    uSamplePairs: raw.uSamplePairs === undefined ? MATCH_CONFIG_DEFAULTS.uSamplePairs : numberIn(raw.uSamplePairs, '.uSamplePairs', 1000, 100_000_000, true),
    seed: raw.seed === undefined ? MATCH_CONFIG_DEFAULTS.seed : numberIn(raw.seed, '.seed', 0, 2 ** 31 - 1, true),
  }
}

/** Checks that every configured column (and the id column) is in a file's header. */
export function checkColumnsPresent(config: MatchConfig, header: readonly string[], file: string): void {
  const present = new Set(header)
  const missing = [config.id, ...config.columns.map((c) => c.name)].filter((c) => !present.has(c))
  if (missing.length > 0) {
    throw new ConfigError(
      `${file} has no column ${missing.map((m) => JSON.stringify(m)).join(', ')} named in the match config; its columns are ${header.map((h) => JSON.stringify(h)).join(', ')}. ` +
        'Rename the column in the config, or remove it (a config without a column, e.g. examples/match/febrl-no-ssn.json, matches without it).',
      '.columns',
    )
  }
}
