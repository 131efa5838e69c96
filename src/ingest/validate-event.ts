/**
 * @module The Segment-spec rules an event must meet at ingest (https://segment.com/docs/connections/spec/common/).
 * Checks collect every problem with its JSON path (`.batch[2].event`) instead of stopping at the first, so a
 * client fixing a rejected batch sees everything at once. They allocate nothing for a valid event beyond the
 * returned summary, and compile nothing per call.
 */
import { EVENT_TYPES, isEventType, type EventType } from '../core/event.js'
import type { FieldProblem } from '../core/errors.js'
import { parseIsoDate } from './iso-date.js'

/** An event object as the client sent it. Unknown fields are kept as they are. */
export type ClientEvent = Readonly<Record<string, unknown>>

/** What the checks learned about a valid event, so that stamping does not parse anything twice. */
export interface CheckedEvent {
  readonly fields: ClientEvent
  readonly type: EventType
  /** Normalised: numbers become strings (as Segment does), `''` becomes `null`; `undefined` when absent. */
  readonly userId: string | null | undefined
  /** Same normalisation as `userId`; the `AnonymousId` header fills it when the body has none. */
  readonly anonymousId: string | null | undefined
  /** Alias only; numbers become strings. */
  readonly previousId: string | undefined
  /** Group only; numbers become strings. */
  readonly groupId: string | undefined
  /** `timestamp`, `originalTimestamp` and `sentAt` in epoch ms when present. */
  readonly timestampMs: number | undefined
  readonly originalTimestampMs: number | undefined
  readonly sentAtMs: number | undefined
}

export interface CheckOptions {
  /** JSON path of the event: `''` for a single-event body, `.batch[3]` for a batch item. */
  readonly path: string
  /** The type set by the endpoint (`/v1/track`); batch items must carry their own `type`. */
  readonly type?: EventType
  /** Anonymous id to use when the event has none (RudderStack's `AnonymousId` header). */
  readonly anonymousIdFallback?: string
}

/** Types whose events must name a user (`userId`) or a device (`anonymousId`). */
const NEEDS_IDENTITY: ReadonlySet<EventType> = new Set(['identify', 'track', 'page', 'screen', 'group'])
const OBJECT_FIELDS = ['traits', 'properties', 'context', 'integrations'] as const
const TYPE_LIST = EVENT_TYPES.join(', ')
const INVALID = Symbol('invalid')

/**
 * Checks one event and appends its problems to `problems`.
 *
 * @returns the summary of a valid event, or `undefined` when at least one problem was added
 */
export function checkEvent(value: unknown, options: CheckOptions, problems: FieldProblem[]): CheckedEvent | undefined {
  const p = options.path
  if (!isJsonObject(value)) {
    problems.push({ field: p === '' ? '(body)' : p, message: 'must be a JSON object' })
    return undefined
  }
  const before = problems.length

  let type: EventType | undefined = options.type
  if (type === undefined) {
    const t = value.type
    if (isEventType(t)) type = t
    else problems.push({ field: `${p}.type`, message: t === undefined ? `is required (one of ${TYPE_LIST})` : `must be one of ${TYPE_LIST}` })
  }

  const userId = optionalId(value, 'userId', p, problems)
  let anonymousId = optionalId(value, 'anonymousId', p, problems)
  if ((anonymousId === undefined || anonymousId === null) && options.anonymousIdFallback !== undefined) {
    anonymousId = options.anonymousIdFallback
  }

  let previousId: string | undefined
  let groupId: string | undefined
  // An id of the wrong type was reported above; do not report it missing as well.
  const idsReadable = userId !== INVALID && anonymousId !== INVALID
  if (type !== undefined && idsReadable && NEEDS_IDENTITY.has(type) && !userId && !anonymousId) {
    problems.push({ field: `${p}.userId`, message: 'userId or anonymousId is required (a non-empty string)' })
  }
  if (type === 'alias') {
    if (userId !== INVALID && !userId) problems.push({ field: `${p}.userId`, message: 'is required for alias (the new id)' })
    previousId = requiredId(value, 'previousId', 'for alias (the old id)', p, problems)
  } else {
    optionalId(value, 'previousId', p, problems)
  }
  if (type === 'group') groupId = requiredId(value, 'groupId', 'for group', p, problems)
  else optionalId(value, 'groupId', p, problems)
  if (type === 'track') {
    const event = value.event
    if (typeof event !== 'string' || event.trim() === '') {
      problems.push({ field: `${p}.event`, message: 'is required for track (a non-empty string naming the action)' })
    }
  } else {
    optionalString(value, 'event', p, problems)
  }
  optionalString(value, 'name', p, problems)
  optionalString(value, 'category', p, problems)

  for (const key of OBJECT_FIELDS) {
    const v = value[key]
    if (v !== undefined && v !== null && !isJsonObject(v)) problems.push({ field: `${p}.${key}`, message: 'must be a JSON object' })
  }

  const messageId = value.messageId
  if (messageId !== undefined && messageId !== null && (typeof messageId !== 'string' || messageId === '')) {
    problems.push({ field: `${p}.messageId`, message: 'must be a non-empty string' })
  }

  const timestampMs = optionalDate(value, 'timestamp', p, problems)
  const originalTimestampMs = optionalDate(value, 'originalTimestamp', p, problems)
  const sentAtMs = optionalDate(value, 'sentAt', p, problems)

  if (problems.length !== before || type === undefined || userId === INVALID || anonymousId === INVALID) return undefined
  return { fields: value, type, userId, anonymousId, previousId, groupId, timestampMs, originalTimestampMs, sentAtMs }
}

/** A plain JSON object (not `null`, not an array). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Reads an optional id: string or finite number (converted), `null`, or absent. `''` reads as `null`. */
function optionalId(event: ClientEvent, key: string, p: string, problems: FieldProblem[]): string | null | undefined | typeof INVALID {
  const v = event[key]
  if (v === undefined || v === null) return v
  if (typeof v === 'string') return v === '' ? null : v
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  problems.push({ field: `${p}.${key}`, message: 'must be a string, a number or null' })
  return INVALID
}

function requiredId(event: ClientEvent, key: string, what: string, p: string, problems: FieldProblem[]): string | undefined {
  const v = event[key]
  if (typeof v === 'string' && v !== '') return v
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  problems.push({ field: `${p}.${key}`, message: `is required ${what} (a non-empty string)` })
  return undefined
}

function optionalString(event: ClientEvent, key: string, p: string, problems: FieldProblem[]): void {
  const v = event[key]
  if (v !== undefined && v !== null && typeof v !== 'string') problems.push({ field: `${p}.${key}`, message: 'must be a string' })
}

function optionalDate(event: ClientEvent, key: string, p: string, problems: FieldProblem[]): number | undefined {
  const v = event[key]
  if (v === undefined || v === null) return undefined
  const ms = typeof v === 'string' ? parseIsoDate(v) : undefined
  if (ms === undefined) problems.push({ field: `${p}.${key}`, message: 'must be an ISO-8601 date (e.g. 2024-05-01T12:00:00.000Z)' })
  return ms
}
