/**
 * @module Google Consent Mode → consent decisions. Reads what analytics.js / gtag integrations put in an event's
 * `context.consent`:
 * - the gtag shape, `{ "ad_storage": "granted", "analytics_storage": "denied", ... }`, either directly in
 *   `context.consent` or under `context.consent.googleConsentMode` (values "granted" / "denied", or true / false);
 * - the `gcs` parameter of Google's hits (`G1xy`: x = ad_storage, y = analytics_storage, 1 granted, 0 denied), in
 *   `context.consent.gcs` or `context.gcs`;
 * - the `gcd` parameter (`11<a>1<b>1<c>1<d>5`: one letter each for ad_storage, analytics_storage, ad_user_data,
 *   ad_personalization; `l` not set, `p` `q` `m` `u` denied, `t` `r` `n` `v` granted, as last updated), in
 *   `context.consent.gcd` or `context.gcd`. Google does not document `gcd`; anything outside this form is invalid.
 * Types map to purposes with `governance.consent.googleConsentMode.types`: a denied type refuses each purpose it
 * maps to; a purpose is granted only when every type mapped to it is present and granted, and is not in
 * `refuseOnly`. When two shapes give one type, a denial wins. Unknown types and values are kept as evidence and
 * decide nothing. Decoding never throws.
 */
import type { JsonObject, JsonValue } from '../../core/event.js'
import type { ConsentConfig } from './consent-config.js'
import { invalidSignal, MAX_RAW_EVIDENCE, type ConsentSignal } from './consent-record.js'

type TypeState = 'granted' | 'denied'

const GCD_GRANTED = new Set(['t', 'r', 'n', 'v'])
const GCD_DENIED = new Set(['p', 'q', 'm', 'u'])
const GCD_ORDER = ['ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization'] as const

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A gtag consent value: "granted" / "denied" (any case) or a boolean; anything else is null. */
function typeState(value: unknown): TypeState | null {
  if (value === true) return 'granted'
  if (value === false) return 'denied'
  if (typeof value !== 'string') return null
  const v = value.trim().toLowerCase()
  return v === 'granted' ? 'granted' : v === 'denied' ? 'denied' : null
}

/** `G1xy` → ad_storage, analytics_storage; null when not of that form. */
export function parseGcs(value: unknown): Map<string, TypeState> | null {
  if (typeof value !== 'string' || !/^G1[01]{2}$/.test(value.trim())) return null
  const v = value.trim()
  return new Map<string, TypeState>([['ad_storage', v[2] === '1' ? 'granted' : 'denied'], ['analytics_storage', v[3] === '1' ? 'granted' : 'denied']])
}

/** `11<a>1<b>1<c>1<d>5` → the four v2 types that are set; null when not of that form. */
export function parseGcd(value: unknown): Map<string, TypeState> | null {
  if (typeof value !== 'string') return null
  const m = /^1\d([a-z])\d([a-z])\d([a-z])\d([a-z])\d$/.exec(value.trim())
  if (m === null) return null
  const out = new Map<string, TypeState>()
  for (let i = 0; i < GCD_ORDER.length; i++) {
    const letter = m[i + 1]!
    if (GCD_GRANTED.has(letter)) out.set(GCD_ORDER[i]!, 'granted')
    else if (GCD_DENIED.has(letter)) out.set(GCD_ORDER[i]!, 'denied')
    else if (letter !== 'l') return null
  }
  return out
}

/** The consent types an event's context carries in any of the shapes above, or null when it carries none. */
export function googleConsentModeSignal(context: Readonly<Record<string, unknown>>, config: Pick<ConsentConfig, 'googleConsentMode' | 'purposes'>): ConsentSignal | null {
  const consent = Object.hasOwn(context, 'consent') && isObject(context.consent) ? context.consent : undefined
  // Most events carry none of it: answer without allocating.
  if (consent === undefined && !Object.hasOwn(context, 'gcs') && !Object.hasOwn(context, 'gcd')) return null
  const own = (o: Readonly<Record<string, unknown>> | undefined, k: string): unknown => (o !== undefined && Object.hasOwn(o, k) ? o[k] : undefined)
  const types = new Map<string, TypeState>()
  const decoded: JsonObject = {}
  const ignored: JsonValue[] = []
  const errors: string[] = []
  const put = (type: string, state: TypeState): void => {
    if (types.get(type) !== 'denied') types.set(type, state) // a denial from any shape wins
  }
  const known = config.googleConsentMode.types
  const readObject = (o: Readonly<Record<string, unknown>>, onlyKnown: boolean): void => {
    for (const key of Object.keys(o).slice(0, 50)) {
      const state = typeState(o[key])
      if (onlyKnown && !Object.hasOwn(known, key)) continue
      if (state === null || !/^[a-z][a-z_]{0,40}$/.test(key)) {
        ignored.push(key.slice(0, 60))
        continue
      }
      decoded[key] = state
      if (Object.hasOwn(known, key)) put(key, state)
      else ignored.push(key)
    }
  }
  // Flat gtag keys in context.consent (only the configured types: context.consent holds other signals too).
  if (consent !== undefined) readObject(consent, true)
  const nested = own(consent, 'googleConsentMode')
  if (nested !== undefined && nested !== null) {
    if (isObject(nested)) readObject(nested, false)
    else errors.push('context.consent.googleConsentMode must be an object of consent type → "granted" / "denied"')
  }
  for (const [name, parse] of [['gcs', parseGcs], ['gcd', parseGcd]] as const) {
    const raw = own(consent, name) ?? own(context, name)
    if (raw === undefined || raw === null) continue
    const parsed = parse(raw)
    if (parsed === null) {
      // raw may be any JSON value (or an object whose toString is not a function): describe it without calling it.
      const shown = typeof raw === 'string' ? JSON.stringify(raw.slice(0, 40)) : `(${Array.isArray(raw) ? 'array' : typeof raw})`
      errors.push(`${name} ${shown} is not a ${name === 'gcs' ? 'G1xy' : '11a1b1c1d5'} Consent Mode parameter`)
      continue
    }
    decoded[name] = (raw as string).trim() // parse accepted it, so it is a string
    for (const [t, s] of parsed) if (Object.hasOwn(known, t)) put(t, s)
  }
  if (types.size === 0 && errors.length === 0 && Object.keys(decoded).length === 0 && ignored.length === 0) return null
  if (types.size === 0 && errors.length > 0) return invalidSignal('gcm', safeJson({ ...decoded, errors }), errors.join('; '))
  const decisions = new Map<string, 'granted' | 'denied'>()
  const byPurpose = new Map<string, string[]>()
  for (const [type, purposes] of Object.entries(known)) for (const p of purposes) byPurpose.set(p, [...(byPurpose.get(p) ?? []), type])
  for (const [purpose, mapped] of byPurpose) {
    if (!Object.hasOwn(config.purposes, purpose)) continue
    const states = mapped.map((t) => types.get(t))
    if (states.includes('denied')) decisions.set(purpose, 'denied')
    else if (states.every((s) => s === 'granted') && !config.googleConsentMode.refuseOnly.includes(purpose)) decisions.set(purpose, 'granted')
  }
  return {
    source: 'gcm', jurisdiction: null, decisions,
    evidence: {
      raw: safeJson(decoded) ?? '', valid: true,
      decoded: { types: Object.fromEntries(types), ...(ignored.length > 0 ? { ignored } : {}), ...(errors.length > 0 ? { errors } : {}) },
    },
  }
}

function safeJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value)?.slice(0, MAX_RAW_EVIDENCE)
  } catch {
    return undefined
  }
}
