/**
 * @module Default identifier types and blocked placeholder values (Segment's Unify defaults, tightened), and the
 * graph guards per type: limits with time windows, the supernode quarantine and the profile size cap.
 */

export const NORMALIZERS = ['none', 'trim', 'lowercase', 'email', 'phone'] as const
export type NormalizerName = (typeof NORMALIZERS)[number]

export interface IdentifierTypeConfig {
  /** Type name as it appears in lookups: `email`, `user_id`, or a custom one such as `crm_id`. */
  readonly name: string
  /** 1 is the highest priority. Merge protection drops the event's lowest-priority identifier first. */
  readonly priority: number
  /** Most distinct values of this type one profile may hold (within `window`, if set). */
  readonly limit: number
  /**
   * Time window of `limit`, as `7d`, `30d`, `12h` or `ever` (default `ever`): only values first seen within the
   * window before the event count towards the limit, so rotating ids (anonymous_id) can be limited to 5 a week.
   * Ignored for unique types (one value ever).
   */
  readonly window?: string
  /**
   * Supernode guard: a value of this type that links more than `profiles` distinct profiles within `window`
   * (a shared device, a test account, a placeholder nobody listed) is quarantined: it stops linking. Absent or
   * null: never quarantined.
   */
  readonly quarantine?: { readonly profiles: number; readonly window: string } | null
  /**
   * Profile size cap: an identifier of this type is refused when attaching it, or the merge it would cause,
   * gives the profile more than this many identifiers (default {@link DEFAULT_MAX_PROFILE_IDENTIFIERS}).
   */
  readonly maxProfileIdentifiers?: number
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
  // Further placeholders from research/identity.md §4.4–4.6 (Mixpanel's and PostHog's illegal ids, hard-coded ids).
  '(null)', '<null>', 'nul', 'empty', 'blank', 'missing', 'not set', '(not set)', 'not_set', 'notset', 'unset',
  'anonymous_user', 'anonymoususer', 'guest_user', 'visitor', 'id', 'user_id', 'userid', 'distinct_id',
  'undefined_user', 'abc123', '123456', '12345', 'xxx', 'none_provided', 'no_id', 'noid', '-', '--', '.', '?',
  '{}', '[]', 'object', '[object]', 'nan.0', 'infinity', '-infinity',
  '00000000000000000000000000000000', // all-zero UUID without dashes
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
]

export const DEFAULT_BLOCKED_EMAILS: readonly string[] = [
  'test@test.com', 'test@example.com', 'email@example.com', 'user@example.com', 'noemail@noemail.com',
  'no@email.com', 'none@none.com', 'a@a.com', 'example@example.com', 'noreply@example.com',
  'test@gmail.com', 'test@mail.com', 'test@test.de', 'asdf@asdf.com', 'abc@abc.com', 'x@x.com', 'foo@bar.com',
  'null@null.com', 'noemail@example.com', 'none@example.com', 'no-reply@example.com', 'donotreply@example.com',
]

/** Values made only of zeros and dashes (`0000`, `0-0-0`), as Segment's default `^[0-]*$` rule. */
export const DEFAULT_BLOCKED_PATTERNS: readonly string[] = ['^[0-]*$']

/**
 * E-mail placeholders by pattern (research/identity.md §4.5 item 3, Treasure Data's exclude_regex): no-reply
 * senders and `test`/`null`/`none` local parts at any domain, and the reserved `.invalid` TLD (RFC 2606). The
 * example domains are not blocked as a whole (documentation and tests use them for real-looking people), only
 * their known placeholders above. Role addresses (`info@`, `admin@`) are not blocked: they are often one real
 * person's only address; the supernode quarantine catches the ones that link many people.
 */
export const DEFAULT_BLOCKED_EMAIL_PATTERNS: readonly string[] = [
  '^(no-?reply|do-?not-?reply|noemail|no-?email)@', '^(test|null|none|nobody|undefined|unknown)@', '\\.invalid$',
]

/** Default profile size cap (Mixpanel's reported cap of identifiers per user, research/identity.md §4.4). */
export const DEFAULT_MAX_PROFILE_IDENTIFIERS = 500

/** Default supernode guard: more than 10 distinct profiles within 30 days (research §4.5 item 5). */
export const DEFAULT_QUARANTINE = { profiles: 10, window: '30d' } as const

/** Parses a window (`7d`, `12h`, `30m`, `2w`, `ever`) to ms; 0 means ever. Null when the text is not a window. */
export function parseWindow(text: string): number | null {
  if (text === 'ever') return 0
  const m = /^(\d{1,6})(m|h|d|w)$/.exec(text)
  if (!m) return null
  const n = Number(m[1])
  if (n === 0) return null
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 }[m[2] as 'm' | 'h' | 'd' | 'w']
  return n * unit
}

export const DEFAULT_IDENTIFIER_TYPES: readonly IdentifierTypeConfig[] = [
  {
    name: 'user_id', priority: 1, limit: 1, unique: true, normalize: 'trim',
    blocked: DEFAULT_BLOCKED_VALUES, blockedPatterns: DEFAULT_BLOCKED_PATTERNS, paths: ['userId'],
  },
  {
    // Segment's guidance for e-mails and device ids: 5 a year.
    name: 'email', priority: 2, limit: 5, window: '365d', unique: false, normalize: 'email',
    blocked: [...DEFAULT_BLOCKED_VALUES, ...DEFAULT_BLOCKED_EMAILS],
    blockedPatterns: [...DEFAULT_BLOCKED_PATTERNS, ...DEFAULT_BLOCKED_EMAIL_PATTERNS],
    quarantine: DEFAULT_QUARANTINE, paths: ['traits.email', 'context.traits.email'],
  },
  {
    name: 'phone', priority: 3, limit: 5, window: '365d', unique: false, normalize: 'phone',
    blocked: DEFAULT_BLOCKED_VALUES, blockedPatterns: DEFAULT_BLOCKED_PATTERNS,
    quarantine: DEFAULT_QUARANTINE, paths: ['traits.phone', 'context.traits.phone'],
  },
  {
    // A person's devices: phone, tablet, laptop, replacements. 10 a year leaves room for families of devices.
    name: 'device_id', priority: 4, limit: 10, window: '365d', unique: false, normalize: 'trim',
    blocked: DEFAULT_BLOCKED_VALUES, blockedPatterns: DEFAULT_BLOCKED_PATTERNS,
    quarantine: DEFAULT_QUARANTINE, paths: ['context.device.id', 'context.device.advertisingId'],
  },
  {
    // Rotating: Segment's "5 weekly". A person who clears cookies daily keeps merging 5 a week; more is a blob.
    name: 'anonymous_id', priority: 5, limit: 5, window: '7d', unique: false, normalize: 'trim',
    blocked: DEFAULT_BLOCKED_VALUES, blockedPatterns: DEFAULT_BLOCKED_PATTERNS,
    quarantine: DEFAULT_QUARANTINE, paths: ['anonymousId'],
  },
]
