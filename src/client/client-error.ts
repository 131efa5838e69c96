/**
 * @module Errors of the HTTP clients (tracking and admin). They describe what went wrong talking to a Tessera
 * server from the outside, so they are separate from the server's catalog in `core/errors.ts`, whose codes map to
 * HTTP statuses the server sends.
 */

export const CLIENT_ERROR_CODES = [
  /** No answer: connection refused, DNS failure, timeout, reset (after the allowed retries). */
  'CLIENT_UNREACHABLE',
  /** 401/403: the write key or admin token was refused. */
  'CLIENT_UNAUTHORIZED',
  /** 429/5xx answers kept coming until the retries ran out. */
  'CLIENT_OVERLOADED',
  /** Any other unexpected HTTP status. */
  'CLIENT_HTTP',
  /** A 2xx answer whose body is not what the API documents. */
  'CLIENT_BAD_RESPONSE',
] as const
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number]

export interface ClientErrorDetails {
  readonly cause?: unknown
  /** HTTP status of the last answer, if there was one. */
  readonly status?: number
}

/** An infrastructure fault talking to Tessera; the message says what to check. */
export class ClientError extends Error {
  readonly code: ClientErrorCode
  readonly status: number | undefined

  constructor(code: ClientErrorCode, message: string, details: ClientErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'ClientError'
    this.code = code
    this.status = details.status
  }
}

export function isClientError(value: unknown): value is ClientError {
  return value instanceof ClientError
}

/**
 * A readable reason for a failed `fetch`: undici wraps the socket error (`ECONNREFUSED`, `ENOTFOUND`) in
 * `TypeError('fetch failed', { cause })`, and a timeout surfaces as a `TimeoutError` DOMException.
 */
export function describeFetchFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'request timed out'
  const cause = (error as { cause?: unknown }).cause
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code
    return typeof code === 'string' ? `${code} (${cause.message})` : cause.message
  }
  return error.message
}
