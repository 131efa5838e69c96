/**
 * @module The tracking API's refusals as catalog errors. Each class pins the HTTP status (through its catalog
 * code) and the `eventsRejected` reason, so that the edge maps and counts them without guessing.
 */
import { TesseraError, ValidationError, type FieldProblem } from '../core/errors.js'

/** The `reason` label of `tessera_events_rejected_total`. */
export const REJECTION_REASONS = ['unauthorized', 'invalid', 'too_large', 'malformed', 'backpressure'] as const
export type RejectionReason = (typeof REJECTION_REASONS)[number]

/** The body could not be read as JSON (bad JSON, bad gzip, unsupported encoding, `__proto__` keys): 400. */
export class MalformedBodyError extends ValidationError {
  readonly reason = 'malformed' satisfies RejectionReason
  constructor(message: string) {
    super('(body)', message)
    this.name = 'MalformedBodyError'
  }
}

/**
 * One or more events of a request are over the per-event limit: 400, as Segment answers (a batch request is
 * retried by clients on 413 only if it could shrink; an oversized event never will, so 400 tells them to drop it).
 */
export class EventTooLargeError extends ValidationError {
  readonly reason = 'too_large' satisfies RejectionReason
  constructor(problems: readonly FieldProblem[]) {
    const first = problems[0] ?? { field: '(body)', message: 'is over the per-event size limit' }
    super(first.field, first.message, problems)
    this.name = 'EventTooLargeError'
  }
}

/** The request body (after decompression) is over the limit of the endpoint: 413. */
export class PayloadTooLargeError extends TesseraError {
  readonly reason = 'too_large' satisfies RejectionReason
  constructor(limitBytes: number) {
    super('TESSERA_PAYLOAD_TOO_LARGE', `request body is larger than the ${formatBytes(limitBytes)} limit of this endpoint`)
    this.name = 'PayloadTooLargeError'
  }
}

/** Missing or unknown write key: 401. The message never contains the key. */
export class UnauthorizedError extends TesseraError {
  readonly reason = 'unauthorized' satisfies RejectionReason
  constructor(message: string) {
    super('TESSERA_UNAUTHORIZED', message)
    this.name = 'UnauthorizedError'
  }
}

/** `32 KB`, `500 KB`, `1.5 MB`: limits as people write them (1 KB = 1024 bytes, as Segment counts). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`
  if (bytes < 1024 * 1024) return `${round(bytes / 1024)} KB`
  return `${round(bytes / (1024 * 1024))} MB`
}

function round(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1)
}

/**
 * The rejection reason for an error that ended an ingest request, or `undefined` for faults that are not a
 * refusal (a 500). Fastify's own errors are recognised by their stable `code`/`statusCode`/`validation`
 * properties, so this module stays free of Fastify imports.
 */
export function rejectionReasonFor(error: unknown): RejectionReason | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const reason = (error as { readonly reason?: unknown }).reason
  if (typeof reason === 'string' && (REJECTION_REASONS as readonly string[]).includes(reason)) return reason as RejectionReason
  const { code, statusCode, validation } = error as { readonly code?: unknown; readonly statusCode?: unknown; readonly validation?: unknown }
  switch (code) {
    case 'TESSERA_UNAUTHORIZED': return 'unauthorized'
    case 'TESSERA_PAYLOAD_TOO_LARGE':
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return 'too_large'
    case 'TESSERA_BACKPRESSURE':
    case 'TESSERA_LOG_UNAVAILABLE': return 'backpressure'
    case 'TESSERA_VALIDATION': return 'invalid'
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH': return 'malformed'
    default: break
  }
  if (Array.isArray(validation)) return 'invalid'
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) return 'invalid'
  return undefined
}
