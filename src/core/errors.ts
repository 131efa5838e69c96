/** @module Error catalog: one base class with stable codes; HTTP statuses are mapped only at the edge (src/server). */

export const ERROR_CODES = [
  'TESSERA_VALIDATION',
  'TESSERA_UNAUTHORIZED',
  'TESSERA_FORBIDDEN',
  'TESSERA_NOT_FOUND',
  'TESSERA_PAYLOAD_TOO_LARGE',
  'TESSERA_BACKPRESSURE',
  'TESSERA_LOG_UNAVAILABLE',
  'TESSERA_CONFIG',
  'TESSERA_STORE',
  'TESSERA_LOCKED',
  // identity graph (unmerge): the request conflicts with the graph or the deployment mode
  'TESSERA_CONFLICT',
  // a service Tessera calls out to (a verification webhook) refused or did not answer
  'TESSERA_UPSTREAM',
] as const
export type ErrorCode = (typeof ERROR_CODES)[number]

export interface ErrorDetails {
  readonly cause?: unknown
  /** JSON path of the offending field, e.g. `.batch[3].userId`. */
  readonly field?: string
  /** Seconds a client should wait before retrying (backpressure). */
  readonly retryAfterSeconds?: number
  /** Further problems, when several were found at once (e.g. a batch). */
  readonly problems?: readonly FieldProblem[]
}

export interface FieldProblem {
  readonly field: string
  readonly message: string
}

export class TesseraError extends Error {
  readonly code: ErrorCode
  readonly field: string | undefined
  readonly retryAfterSeconds: number | undefined
  readonly problems: readonly FieldProblem[]

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'TesseraError'
    this.code = code
    this.field = details.field
    this.retryAfterSeconds = details.retryAfterSeconds
    this.problems = details.problems ?? (details.field ? [{ field: details.field, message }] : [])
  }
}

export class ValidationError extends TesseraError {
  constructor(field: string, message: string, problems?: readonly FieldProblem[]) {
    super('TESSERA_VALIDATION', `${field}: ${message}`, { field, problems: problems ?? [{ field, message }] })
    this.name = 'ValidationError'
  }
}

export class ConfigError extends TesseraError {
  constructor(message: string, field?: string) {
    super('TESSERA_CONFIG', message, field === undefined ? {} : { field })
    this.name = 'ConfigError'
  }
}

export function isTesseraError(value: unknown): value is TesseraError {
  return value instanceof TesseraError
}
