/**
 * @module Which browser origins may call the tracking API, and the CORS headers that say so.
 * Browsers preflight RudderStack's requests (they carry `Authorization` and `AnonymousId`) and any
 * gzip-encoded one; analytics-next posts `text/plain` precisely to avoid the preflight, but still needs
 * `Access-Control-Allow-Origin` to read the response.
 */

/** Request headers the SDKs send that are not CORS-safelisted. */
export const CORS_ALLOW_HEADERS = 'Content-Type, Content-Encoding, Authorization, AnonymousId'
export const CORS_ALLOW_METHODS = 'POST, GET, OPTIONS'
/** Response headers scripts may read: the retry hint on 429/503 (analytics-next honours it). */
export const CORS_EXPOSE_HEADERS = 'Retry-After'
/** One day; browsers cap it lower (Chromium: 2 h), which is fine. */
export const CORS_MAX_AGE_SECONDS = 86_400

export interface CorsPolicy {
  /** `true` when the configuration is `['*']`: any origin is reflected. */
  readonly anyOrigin: boolean
  /** Allowed origins, lower-cased, without a trailing slash. */
  readonly origins: ReadonlySet<string>
}

/** Builds the policy from `ingest.corsOrigins` (`['*']` = any origin). */
export function createCorsPolicy(corsOrigins: readonly string[]): CorsPolicy {
  const origins = new Set(corsOrigins.map(normalizeOrigin))
  return Object.freeze({ anyOrigin: origins.has('*'), origins })
}

/**
 * The value for `Access-Control-Allow-Origin`, or `undefined` when the origin is not allowed (or the request
 * is not a cross-origin browser request). The origin is reflected rather than answered with `*`, and
 * credentials are not allowed: write keys travel in headers or the body, never in cookies.
 */
export function allowedOrigin(policy: CorsPolicy, origin: string | undefined): string | undefined {
  if (origin === undefined || origin === '') return undefined
  if (policy.anyOrigin || policy.origins.has(normalizeOrigin(origin))) return origin
  return undefined
}

/**
 * The CORS response headers for a request from `origin`. `Vary: Origin` is always set, since the answer
 * depends on the origin and caches must not mix them up.
 */
export function corsHeaders(policy: CorsPolicy, origin: string | undefined, preflight: boolean): Readonly<Record<string, string>> {
  const allowed = allowedOrigin(policy, origin)
  if (allowed === undefined) return { vary: 'Origin' }
  if (!preflight) return { vary: 'Origin', 'access-control-allow-origin': allowed, 'access-control-expose-headers': CORS_EXPOSE_HEADERS }
  return {
    vary: 'Origin',
    'access-control-allow-origin': allowed,
    'access-control-allow-methods': CORS_ALLOW_METHODS,
    'access-control-allow-headers': CORS_ALLOW_HEADERS,
    'access-control-max-age': String(CORS_MAX_AGE_SECONDS),
  }
}

function normalizeOrigin(origin: string): string {
  const lower = origin.trim().toLowerCase()
  return lower.endsWith('/') ? lower.slice(0, -1) : lower
}
