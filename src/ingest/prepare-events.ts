/**
 * @module One tracking request's body → the records to append to `events.raw`: check every event, stamp it,
 * serialise it once (the same string is size-checked and stored), and key it for partitioning. Either the
 * whole request is accepted or none of it: clients retry whole batches, so a partly stored batch would be
 * ambiguous (and dedupe would be the only thing standing between a retry and double counting).
 */
import { randomUUID } from 'node:crypto'
import { ValidationError, type FieldProblem } from '../core/errors.js'
import type { EventType } from '../core/event.js'
import type { AppendRecord } from '../log/event-log.js'
import { EventTooLargeError, formatBytes } from './ingest-errors.js'
import { parseIsoDate } from './iso-date.js'
import { logKeyOf, stampEvent, type BatchDefaults, type StampContext, type StampedEvent } from './stamp-event.js'
import { checkEvent, isJsonObject, type CheckedEvent } from './validate-event.js'

/**
 * Room left on top of the per-event limit for what ingest adds (receivedAt, sourceId, the corrected
 * timestamp, a generated messageId, context.ip: about 250 bytes), so that an event Segment would accept at
 * 32 KB is not refused here because of Tessera's own stamps. The limit is checked on the stored form because
 * that is the string already at hand (serialising the client's form too would double the work).
 */
export const STAMP_ALLOWANCE_BYTES = 1024

export interface IngestContext {
  readonly sourceId: string
  readonly receivedAtMs: number
  /** The client address; stored as `context.ip` unless the client set one. */
  readonly ip: string | undefined
  /** Decoded `AnonymousId` header. Applied to single-event requests only: a batch may hold several devices. */
  readonly anonymousIdHeader?: string | undefined
  /** Segment: 32 KB per event (serialised JSON). */
  readonly maxEventBytes: number
  /** Defaults to `crypto.randomUUID` (UUID v4). */
  readonly newMessageId?: () => string
}

export interface PreparedEvents {
  readonly ok: true
  /** In request order, ready for one `EventLog.append`. */
  readonly records: readonly AppendRecord[]
  /** The stamped events of `records`, same order (for the consent hook). */
  readonly events: readonly StampedEvent[]
  /** Events per type, for `tessera_events_accepted_total`. */
  readonly countsByType: ReadonlyMap<EventType, number>
}

export const REFUSALS = ['invalid', 'too_large'] as const
export type Refusal = (typeof REFUSALS)[number]

export interface RefusedEvents {
  readonly ok: false
  readonly reason: Refusal
  /** Every problem found, each with the JSON path of its field. */
  readonly problems: readonly FieldProblem[]
}

export type PrepareResult = PreparedEvents | RefusedEvents

/** A single-event request (`/v1/track`, `/v1/t`, …): the endpoint sets the type. */
export function prepareEvent(body: unknown, type: EventType, ctx: IngestContext): PrepareResult {
  const problems: FieldProblem[] = []
  const options = ctx.anonymousIdHeader === undefined ? { path: '', type } : { path: '', type, anonymousIdFallback: ctx.anonymousIdHeader }
  const checked = checkEvent(body, options, problems)
  if (checked === undefined) return { ok: false, reason: 'invalid', problems }
  return stampAll([checked], stampContext(ctx, undefined), ctx.maxEventBytes, () => '(body)')
}

/**
 * A batch request (`/v1/batch`, `/v1/import`, analytics-next's `/v1/b`, RudderStack's beacon):
 * `{ batch: [...], context?, integrations?, sentAt? }`, each item carrying its own `type`.
 */
export function prepareBatch(body: unknown, ctx: IngestContext): PrepareResult {
  const problems: FieldProblem[] = []
  if (!isJsonObject(body)) return { ok: false, reason: 'invalid', problems: [{ field: '(body)', message: 'must be a JSON object with a "batch" array' }] }
  const batch = body.batch
  if (!Array.isArray(batch) || batch.length === 0) {
    problems.push({ field: '.batch', message: Array.isArray(batch) ? 'must hold at least one event' : 'is required: an array of events' })
  }
  const defaults = batchDefaults(body, problems)
  const checked: CheckedEvent[] = []
  if (Array.isArray(batch)) {
    for (let i = 0; i < batch.length; i++) {
      const c = checkEvent(batch[i], { path: `.batch[${i}]` }, problems)
      if (c !== undefined) checked.push(c)
    }
  }
  if (problems.length > 0) return { ok: false, reason: 'invalid', problems }
  return stampAll(checked, stampContext(ctx, defaults), ctx.maxEventBytes, (i) => `.batch[${i}]`)
}

/** How many events a body holds (1 for a single event; the batch length, at least 1, for a batch). */
export function eventCountOf(body: unknown, isBatch: boolean): number {
  if (!isBatch) return 1
  const batch = isJsonObject(body) ? body.batch : undefined
  return Array.isArray(batch) && batch.length > 0 ? batch.length : 1
}

/** Asserts that a request was accepted; throws the refusal as a 400 with every problem otherwise. */
export function assertPrepared(result: PrepareResult): asserts result is PreparedEvents {
  if (result.ok) return
  if (result.reason === 'too_large') throw new EventTooLargeError(result.problems)
  const first = result.problems[0] ?? { field: '(body)', message: 'is invalid' }
  throw new ValidationError(first.field, first.message, result.problems)
}

function batchDefaults(body: Readonly<Record<string, unknown>>, problems: FieldProblem[]): BatchDefaults {
  const { context, integrations, sentAt } = body
  if (context !== undefined && context !== null && !isJsonObject(context)) problems.push({ field: '.context', message: 'must be a JSON object' })
  if (integrations !== undefined && integrations !== null && !isJsonObject(integrations)) problems.push({ field: '.integrations', message: 'must be a JSON object' })
  let sentAtMs: number | undefined
  if (sentAt !== undefined && sentAt !== null) {
    sentAtMs = typeof sentAt === 'string' ? parseIsoDate(sentAt) : undefined
    if (sentAtMs === undefined) problems.push({ field: '.sentAt', message: 'must be an ISO-8601 date (e.g. 2024-05-01T12:00:00.000Z)' })
  }
  return {
    context: isJsonObject(context) ? context : undefined,
    integrations: isJsonObject(integrations) ? integrations : undefined,
    sentAt: typeof sentAt === 'string' ? sentAt : undefined,
    sentAtMs,
  }
}

function stampContext(ctx: IngestContext, batch: BatchDefaults | undefined): StampContext {
  return {
    sourceId: ctx.sourceId,
    receivedAtMs: ctx.receivedAtMs,
    receivedAt: new Date(ctx.receivedAtMs).toISOString(),
    ip: ctx.ip,
    batch,
    newMessageId: ctx.newMessageId ?? randomUUID,
  }
}

function stampAll(events: readonly CheckedEvent[], ctx: StampContext, maxEventBytes: number, fieldOf: (index: number) => string): PrepareResult {
  const limit = maxEventBytes + STAMP_ALLOWANCE_BYTES
  const records: AppendRecord[] = new Array<AppendRecord>(events.length)
  const stampedEvents: StampedEvent[] = new Array<StampedEvent>(events.length)
  const countsByType = new Map<EventType, number>()
  let tooLarge: FieldProblem[] | undefined
  for (let i = 0; i < events.length; i++) {
    const stamped = stampEvent(events[i]!, ctx)
    const value = JSON.stringify(stamped)
    const bytes = utf8BytesOver(value, limit)
    if (bytes !== undefined) {
      tooLarge ??= []
      tooLarge.push({ field: fieldOf(i), message: `is ${formatBytes(bytes)} of JSON, over the ${formatBytes(maxEventBytes)} limit per event` })
      continue
    }
    records[i] = { key: logKeyOf(stamped), value, timestamp: ctx.receivedAtMs }
    stampedEvents[i] = stamped
    countsByType.set(stamped.type, (countsByType.get(stamped.type) ?? 0) + 1)
  }
  if (tooLarge !== undefined) return { ok: false, reason: 'too_large', problems: tooLarge }
  return { ok: true, records, events: stampedEvents, countsByType }
}

/**
 * The UTF-8 size of `text` when it is over `limit`, else `undefined`. Counting bytes is a full scan, so it is
 * skipped when the UTF-16 length settles the question: a code unit encodes to 1 to 3 bytes.
 */
function utf8BytesOver(text: string, limit: number): number | undefined {
  if (text.length * 3 <= limit) return undefined
  const bytes = Buffer.byteLength(text, 'utf8')
  return bytes > limit ? bytes : undefined
}
