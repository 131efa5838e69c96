/** @module Default identifier types and blocked placeholder values (Segment's Unify defaults, tightened). */

export const NORMALIZERS = ['none', 'trim', 'lowercase', 'email', 'phone'] as const
export type NormalizerName = (typeof NORMALIZERS)[number]

export interface IdentifierTypeConfig {
  /** Type name as it appears in lookups: `email`, `user_id`, or a custom one such as `crm_id`. */
  readonly name: string
  /** 1 is the highest priority. Merge protection drops the event's lowest-priority identifier first. */
  readonly priority: number
  /** Most distinct values of this type one profile may hold. */
  readonly limit: number
  /** A profile holds at most one value; two profiles with different values never merge. Implies limit 1. */
  readonly unique: boolean
  readonly normalize: NormalizerName
  /** Exact values (compared after normalisation, case-insensitively) that are never used as identifiers. */
  readonly blocked: readonly string[]
  /** Regular expressions (source text) of values that are never used as identifiers. */
  readonly blockedPatterns: readonly string[]
  /**
   * Where the value is read from in an event, as dotted paths (`userId`, `traits.email`,
   * `context.device.id`). Segment's `context.externalIds` entries whose `type` equals `name` are read too.
   */
  readonly paths: readonly string[]
}

/**
 * Placeholders that SDKs and forms send instead of a real value. Linking on them would merge strangers
 * into one profile (see research/identity.md, "blocked values").
 */
export const DEFAULT_BLOCKED_VALUES: readonly string[] = [
  '', '0', '-1', '1', 'null', 'nil', 'none', 'nan', 'undefined', 'unknown', 'anonymous', 'anon', 'guest',
  'n/a', 'na', 'test', 'user', 'default', 'false', 'true', '[object object]',
  '00000000-0000-0000-0000-000000000000', // all-zero IDFA / GAID when ad tracking is limited
]

export const DEFAULT_BLOCKED_EMAILS: readonly string[] = [
  'test@test.com', 'test@example.com', 'email@example.com', 'user@example.com', 'noemail@noemail.com',
  'no@email.com', 'none@none.com', 'a@a.com', 'example@example.com', 'noreply@example.com',
]

/** Values made only of zeros and dashes (`0000`, `0-0-0`), as Segment's default `^[0-]*$` rule. */
export const DEFAULT_BLOCKED_PATTERNS: readonly string[] = ['^[0-]*$']

export const DEFAULT_IDENTIFIER_TYPES: readonly IdentifierTypeConfig[] = [
  {
    name: 'user_id', priority: 1, limit: 1, unique: true, normalize: 'trim',
    blocked: DEFAULT_BLOCKED_VALUES, blockedPatterns: DEFAULT_BLOCKED_PATTERNS, paths: ['userId'],
  },
  {
    name: 'email', priority: 2, limit: 5, unique: false, normalize: 'email',
    blocked: [...DEFAULT_BLOCKED_VALUES, ...DEFAULT_BLOCKED_EMAILS], blockedPatterns: DEFAULT_BLOCKED_PATTERNS,
    paths: ['traits.email', 'context.traits.email'],
  },
  {
    name: 'phone', priority: 3, limit: 5, unique: false, normalize: 'phone',
    blocked: DEFAULT_BLOCKED_VALUES, blockedPatterns: DEFAULT_BLOCKED_PATTERNS,
    paths: ['traits.phone', 'context.traits.phone'],
  },
  {
    name: 'device_id', priority: 4, limit: 20, unique: false, normalize: 'trim',
    blocked: DEFAULT_BLOCKED_VALUES, blockedPatterns: DEFAULT_BLOCKED_PATTERNS,
    paths: ['context.device.id', 'context.device.advertisingId'],
  },
  {
    // Without time windows (identity issue) a low limit would stop merging people who clear cookies often.
    name: 'anonymous_id', priority: 5, limit: 100, unique: false, normalize: 'trim',
    blocked: DEFAULT_BLOCKED_VALUES, blockedPatterns: DEFAULT_BLOCKED_PATTERNS, paths: ['anonymousId'],
  },
]
