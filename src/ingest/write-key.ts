/**
 * @module Finds the write key of a tracking request and resolves it to a source.
 *
 * Where clients put the key (checked in this order, the first one present wins):
 * - `Authorization: Basic base64(writeKey:)`: Segment's HTTP API, analytics-node, RudderStack's JS SDK;
 * - `writeKey` in the JSON body: analytics-next, which posts `text/plain` to avoid a CORS preflight;
 * - `?writeKey=` in the query string: only on paths that allow it (RudderStack's beacon plugin, which cannot
 *   set headers on `navigator.sendBeacon`).
 */
import type { SourceConfig } from '../config/config.js'
import type { SourceRegistry } from './source-registry.js'

/** Where a request may carry its write key. */
export interface WriteKeyCarriers {
  /** The raw `Authorization` header, if any. */
  readonly authorization?: string | undefined
  /** The parsed body (only its `writeKey` property is read). */
  readonly body?: unknown
  /** The `writeKey` query parameter; pass it only for paths that accept a key in the query. */
  readonly query?: unknown
}

export const AUTH_FAILURES = ['missing', 'unknown'] as const
export type AuthFailure = (typeof AUTH_FAILURES)[number]

export type AuthResult =
  | { readonly ok: true; readonly source: SourceConfig }
  | { readonly ok: false; readonly reason: AuthFailure }

/**
 * The user name of an HTTP Basic `Authorization` header (the write key; the password is empty), or
 * `undefined` when the header is absent, not Basic, or carries an empty user name. A credential without a
 * colon is taken whole, as some hand-written clients send `base64(writeKey)`.
 */
export function basicAuthUser(header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const trimmed = header.trim()
  // Scheme names are case-insensitive (RFC 9110 §11.1).
  if (trimmed.length < 7 || trimmed.slice(0, 6).toLowerCase() !== 'basic ') return undefined
  const decoded = Buffer.from(trimmed.slice(6).trim(), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  const user = colon === -1 ? decoded : decoded.slice(0, colon)
  return user === '' ? undefined : user
}

/** The write key a request presents, following the precedence described in the module comment. */
export function presentedWriteKey(carriers: WriteKeyCarriers): string | undefined {
  const fromHeader = basicAuthUser(carriers.authorization)
  if (fromHeader !== undefined) return fromHeader
  const body = carriers.body
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const fromBody = (body as { readonly writeKey?: unknown }).writeKey
    if (typeof fromBody === 'string' && fromBody !== '') return fromBody
  }
  if (typeof carriers.query === 'string' && carriers.query !== '') return carriers.query
  return undefined
}

/**
 * Resolves the request's write key to its source. A missing key and an unknown key are both expected
 * outcomes (a misconfigured SDK), so they are returned, not thrown; the HTTP layer answers 401.
 */
export function authenticate(sources: SourceRegistry, carriers: WriteKeyCarriers): AuthResult {
  const writeKey = presentedWriteKey(carriers)
  if (writeKey === undefined) return { ok: false, reason: 'missing' }
  const source = sources.findByWriteKey(writeKey)
  return source === undefined ? { ok: false, reason: 'unknown' } : { ok: true, source }
}

/**
 * The anonymous id from RudderStack's `AnonymousId` header (base64 of the id), or `undefined` when the header
 * is absent or does not decode to a usable id. RudderStack's SDK encodes `undefined` when it has no id; that
 * literal is ignored too.
 */
export function anonymousIdFromHeader(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined
  const decoded = Buffer.from(header, 'base64').toString('utf8').trim()
  if (decoded === '' || decoded === 'undefined' || decoded === 'null' || decoded.includes('\uFFFD')) return undefined
  return decoded
}
