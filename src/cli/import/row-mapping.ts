/**
 * @module Turns an imported row (a CSV record by column name, or a flat JSONL object) into a Segment call:
 * `identify` by default (identifier columns to `userId` / `anonymousId`, everything else to traits, with Segment's
 * reserved trait names recognised under their usual spellings), or `track` (event name from a column, everything
 * else to properties). Rows that cannot become a valid call are refused with a reason, locally.
 */
import { deterministicId } from '../../core/hash.js'
import { isEventType, type JsonObject, type JsonValue } from '../../core/event.js'
import type { ClientEvent } from '../../client/client-event.js'

export const IMPORT_TYPES = ['identify', 'track'] as const
export type ImportType = (typeof IMPORT_TYPES)[number]

export interface MappingOptions {
  readonly type: ImportType
  /** Source id, part of generated messageIds. */
  readonly sourceId: string
  /** The file's name, part of generated messageIds (so that re-importing the same file is deduplicated). */
  readonly fileKey: string
  /** Column holding `userId` (default: the first of `userId`, `user_id`, `id`, any case). */
  readonly userIdColumn?: string
  /** Column holding the e-mail (default: `email`, `e-mail`, `email_address`, `mail`). */
  readonly emailColumn?: string
  /** Column holding the track event name (default: `event`, `event_name`). */
  readonly eventColumn?: string
  /** Column holding the event time (default: `timestamp`). */
  readonly timestampColumn?: string
  /**
   * Values are untyped text (CSV): track properties that read as numbers or booleans become them. JSONL values
   * already have their JSON types and are kept.
   */
  readonly textValues?: boolean
}

export type MappedRow =
  | {
    readonly ok: true
    readonly event: ClientEvent
    /** The row had no userId or anonymousId, so one was derived from its e-mail or phone (see {@link derivedAnonymousId}). */
    readonly derivedAnonymousId?: true
  }
  | { readonly ok: false; readonly reason: string }

/**
 * The anonymousId of a row that has only an e-mail or phone. The tracking API, like Segment's, needs a userId or
 * an anonymousId on every identify and track; a CRM export keyed by e-mail has neither. The id is derived from
 * the source and the normalised value, so every import of the same contact carries the same one (it adds one
 * node to the profile, not one per import), and it never links two contacts that the e-mail would not link.
 */
export function derivedAnonymousId(sourceId: string, kind: 'email' | 'phone', value: string): string {
  const normalized = kind === 'email' ? value.trim().toLowerCase() : value.replace(/[^\d+]/g, '')
  return deterministicId(`${kind === 'email' ? 'em' : 'ph'}_`, sourceId, normalized)
}

/** A header name reduced for matching: `E-Mail Address` → `emailaddress`. */
export function normalizeColumnName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '')
}

/**
 * Columns the rejected-rows file adds in front of the original ones. They are never mapped, so that a user can fix
 * rows in `<file>.rejected.csv` and import that file as it is.
 */
export const REJECTED_LINE_COLUMN = 'rejected_line'
export const REJECTED_REASON_COLUMN = 'rejected_reason'
const NOT_MAPPED = new Set([REJECTED_LINE_COLUMN, REJECTED_REASON_COLUMN])

const USER_ID_NAMES = ['userid', 'id']
const ANONYMOUS_ID_NAMES = ['anonymousid', 'anonid']
const EMAIL_NAMES = ['email', 'emailaddress', 'mail']
const EVENT_NAMES = ['event', 'eventname']
const TIMESTAMP_NAMES = ['timestamp']
const MESSAGE_ID_NAMES = ['messageid']
const PHONE_NAMES = new Set(['phone', 'phonenumber', 'mobile', 'mobilephone', 'mobilenumber', 'tel', 'telephone', 'cell', 'cellphone'])

/** Segment's reserved identify traits under their common spellings (https://segment.com/docs/connections/spec/identify/#traits). */
const TRAIT_PATHS: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([
  ...[...PHONE_NAMES].map((n) => [n, ['phone']] as const),
  ...['firstname', 'givenname', 'forename'].map((n) => [n, ['firstName']] as const),
  ...['lastname', 'surname', 'familyname'].map((n) => [n, ['lastName']] as const),
  ...['name', 'fullname'].map((n) => [n, ['name']] as const),
  ...['company', 'companyname', 'organization', 'organisation', 'employer'].map((n) => [n, ['company']] as const),
  ...['title', 'jobtitle'].map((n) => [n, ['title']] as const),
  ...['username', 'login'].map((n) => [n, ['username']] as const),
  ...['website', 'homepage', 'url'].map((n) => [n, ['website']] as const),
  ...['birthday', 'dateofbirth', 'dob', 'birthdate'].map((n) => [n, ['birthday']] as const),
  ...['createdat', 'signupdate', 'signedupat'].map((n) => [n, ['createdAt']] as const),
  ['gender', ['gender']], ['age', ['age']], ['avatar', ['avatar']], ['description', ['description']],
  ...['street', 'streetaddress', 'address', 'address1'].map((n) => [n, ['address', 'street']] as const),
  ...['city', 'town'].map((n) => [n, ['address', 'city']] as const),
  ...['state', 'region', 'province'].map((n) => [n, ['address', 'state']] as const),
  ...['postalcode', 'zip', 'zipcode', 'postcode'].map((n) => [n, ['address', 'postalCode']] as const),
  ['country', ['address', 'country']],
])

interface ColumnPlan {
  readonly userId: string | undefined
  readonly anonymousId: string | undefined
  readonly email: string | undefined
  readonly phone: string | undefined
  readonly event: string | undefined
  readonly timestamp: string | undefined
  readonly messageId: string | undefined
  /** Every other column and where it goes in traits (identify) or properties (track). */
  readonly rest: readonly { readonly column: string; readonly path: readonly string[] }[]
}

/** The file's columns do not fit the options (a `--…-column` naming a missing column, no event column for track). */
export class ColumnMappingError extends Error {
  constructor(message: string, available: readonly string[]) {
    super(`${message} (columns: ${available.map((c) => JSON.stringify(c)).join(', ') || 'none'})`)
    this.name = 'ColumnMappingError'
  }
}

function pick(columns: readonly string[], explicit: string | undefined, option: string, names: readonly string[], strict: boolean): string | undefined {
  if (explicit !== undefined) {
    if (!columns.includes(explicit)) {
      if (strict) throw new ColumnMappingError(`${option} ${JSON.stringify(explicit)} is not a column of this file`, columns)
      return undefined
    }
    return explicit
  }
  for (const name of names) {
    const found = columns.find((c) => normalizeColumnName(c) === name)
    if (found !== undefined) return found
  }
  return undefined
}

/**
 * Maps rows to events. Column roles are worked out once per distinct set of columns (once for a CSV file, per
 * shape for JSONL objects).
 */
export class RowMapper {
  readonly #options: MappingOptions
  readonly #plans = new Map<string, ColumnPlan>()

  constructor(options: MappingOptions) {
    this.#options = options
  }

  /**
   * Checks the column options against a CSV header up front, so that a typo fails before anything is sent.
   * Throws {@link ColumnMappingError}.
   */
  checkColumns(columns: readonly string[]): void {
    const plan = this.#plan(columns, true)
    if (this.#options.type === 'track' && plan.event === undefined) {
      throw new ColumnMappingError('--type track takes the event name from a column, and there is no "event" or "event_name" column; pass --event-column <column>', columns)
    }
  }

  /**
   * One row to one event, or the reason it cannot be one. Empty values count as absent. For a JSONL object
   * that lacks a column named by an option, that value is simply absent.
   */
  map(row: Readonly<Record<string, JsonValue>>, line: number): MappedRow {
    const plan = this.#plan(Object.keys(row), false)
    const text = (column: string | undefined): string | undefined => {
      if (column === undefined) return undefined
      const value = row[column]
      if (value === undefined || value === null) return undefined
      const s = typeof value === 'string' ? value.trim() : typeof value === 'number' ? String(value) : undefined
      return s === '' ? undefined : s
    }
    const userId = text(plan.userId)
    const anonymousId = text(plan.anonymousId)
    const email = text(plan.email)
    const phone = text(plan.phone)
    if (userId === undefined && anonymousId === undefined && email === undefined && phone === undefined) {
      return { ok: false, reason: 'no identifier: the row needs a userId, anonymousId, email or phone value' }
    }
    let timestamp: string | undefined
    const rawTime = text(plan.timestamp)
    if (rawTime !== undefined) {
      timestamp = parseTimestamp(rawTime)
      if (timestamp === undefined) return { ok: false, reason: `${plan.timestamp} ${JSON.stringify(rawTime)} is not a date this import reads (use ISO 8601, e.g. 2024-05-01T10:00:00Z, or epoch seconds/milliseconds)` }
    }
    const messageId = text(plan.messageId) ?? deterministicId('imp_', this.#options.sourceId, this.#options.fileKey, String(line), JSON.stringify(row))
    const typed = this.#options.type === 'track' && this.#options.textValues === true
    const bag: JsonObject = {}
    for (const { column, path } of plan.rest) {
      const value = row[column]
      if (value === undefined || value === null || value === '') continue
      setPath(bag, path, typed && typeof value === 'string' ? typedValue(value) : value)
    }
    const derived = userId === undefined && anonymousId === undefined
      ? derivedAnonymousId(this.#options.sourceId, email === undefined ? 'phone' : 'email', (email ?? phone)!)
      : undefined
    const ids = {
      ...(userId === undefined ? {} : { userId }),
      ...(anonymousId === undefined ? {} : { anonymousId }),
      ...(derived === undefined ? {} : { anonymousId: derived }),
    }
    const flag = derived === undefined ? {} : { derivedAnonymousId: true as const }
    const common = { messageId, ...(timestamp === undefined ? {} : { timestamp }), context: { library: { name: 'tessera-import' } } }
    if (this.#options.type === 'identify') {
      const traits: JsonObject = { ...bag, ...(email === undefined ? {} : { email }), ...(phone === undefined ? {} : { phone }) }
      return { ok: true, event: { type: 'identify', ...ids, traits, ...common }, ...flag }
    }
    const event = text(plan.event)
    if (event === undefined) return { ok: false, reason: `no event name: the ${plan.event ?? 'event'} column is empty` }
    const contextTraits: JsonObject = { ...(email === undefined ? {} : { email }), ...(phone === undefined ? {} : { phone }) }
    const context: JsonObject = { ...common.context, ...(Object.keys(contextTraits).length > 0 ? { traits: contextTraits } : {}) }
    return { ok: true, event: { type: 'track', ...ids, event, properties: bag, ...common, context }, ...flag }
  }

  #plan(columns: readonly string[], strict: boolean): ColumnPlan {
    const key = columns.join('\u0000')
    const cached = this.#plans.get(key)
    if (cached) return cached
    const o = this.#options
    const userId = pick(columns, o.userIdColumn, '--user-id-column', USER_ID_NAMES, strict)
    const anonymousId = pick(columns, undefined, '', ANONYMOUS_ID_NAMES, strict)
    const email = pick(columns, o.emailColumn, '--email-column', EMAIL_NAMES, strict)
    const phone = columns.find((c) => PHONE_NAMES.has(normalizeColumnName(c)))
    const event = o.type === 'track' ? pick(columns, o.eventColumn, '--event-column', EVENT_NAMES, strict) : undefined
    const timestamp = pick(columns, o.timestampColumn, '--timestamp-column', TIMESTAMP_NAMES, strict)
    const messageId = pick(columns, undefined, '', MESSAGE_ID_NAMES, strict)
    const taken = new Set([userId, anonymousId, email, phone, event, timestamp, messageId].filter((c) => c !== undefined))
    const rest = columns
      .filter((c) => !taken.has(c) && c.trim() !== '' && !NOT_MAPPED.has(c))
      .map((column) => ({
        column,
        path: o.type === 'identify' ? (TRAIT_PATHS.get(normalizeColumnName(column)) ?? [column.trim()]) : [column.trim()],
      }))
    const plan: ColumnPlan = { userId, anonymousId, email, phone, event, timestamp, messageId, rest }
    // JSONL objects of ever-changing shapes must not grow the cache without bound.
    if (this.#plans.size >= 1000) this.#plans.clear()
    this.#plans.set(key, plan)
    return plan
  }
}

function setPath(target: JsonObject, path: readonly string[], value: JsonValue): void {
  let node = target
  for (const segment of path.slice(0, -1)) {
    const next = node[segment]
    if (typeof next === 'object' && next !== null && !Array.isArray(next)) node = next
    else {
      const created: JsonObject = {}
      node[segment] = created
      node = created
    }
  }
  node[path[path.length - 1]!] = value
}

/**
 * CSV text as the JSON value it plainly is, for track properties (so `revenue` can be summed): canonical numbers
 * and `true`/`false`. Leading zeros (`02134`, `0042`) stay text, as they are codes, not quantities. Traits are
 * never converted: phone numbers and postal codes must keep their exact text.
 */
export function typedValue(text: string): JsonValue {
  if (/^-?(0|[1-9]\d{0,14})(\.\d+)?$/.test(text)) return Number(text)
  if (text === 'true') return true
  if (text === 'false') return false
  return text
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/
const NAMED_MONTH = /\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b.*\b\d{4}\b|\b\d{4}\b.*\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)/i

/**
 * The event time as ISO 8601, from: ISO 8601 (`2024-05-01`, `2024-05-01T10:00:00Z`, `2024-05-01 10:00`), a date
 * with a month name (`Wed, 01 May 2024 10:00:00 GMT`), or epoch seconds (10 digits) / milliseconds (13 digits).
 * Slash dates are refused: `01/05/2024` is January in the US and May in Europe, and guessing would misplace
 * events silently.
 */
export function parseTimestamp(text: string): string | undefined {
  let ms: number
  if (/^\d{10}(\.\d+)?$/.test(text)) ms = Number(text) * 1000
  else if (/^\d{13}$/.test(text)) ms = Number(text)
  else if (ISO_DATE.test(text) || NAMED_MONTH.test(text)) ms = Date.parse(text)
  else return undefined
  if (!Number.isFinite(ms)) return undefined
  const year = new Date(ms).getUTCFullYear()
  return year >= 1970 && year <= 2100 ? new Date(ms).toISOString() : undefined
}

/** A JSONL object that is already a Segment call (it has a valid `type`), as opposed to a flat record. */
export function isSegmentCall(value: JsonObject): boolean {
  return isEventType(value.type)
}

/** A Segment call from a JSONL line, with a stable messageId if it had none. */
export function segmentCall(value: JsonObject, line: number, options: MappingOptions): ClientEvent {
  const event = value as unknown as ClientEvent
  if (typeof value.messageId === 'string' && value.messageId !== '') return event
  return { ...event, messageId: deterministicId('imp_', options.sourceId, options.fileKey, String(line), JSON.stringify(value)) }
}
