/**
 * @module Reads every consent signal an event (or a consent API call) carries:
 * - Segment's consent object: `context.consent.categoryPreferences` (`{ "Advertising": false, ... }`), CMP
 *   categories mapped to purposes by `governance.consent.segmentCategories` (case-insensitive; unknown
 *   categories are kept as evidence and decide nothing);
 * - a TCF v2.x TC string: `context.consent.tcf`, or `context.gdpr_consent` (the name of the IAB URL macro);
 * - a GPP string: `context.consent.gpp`, or `context.gpp`;
 * - a US Privacy string (`1YNN`): `context.consent.usPrivacy`, or `context.us_privacy` (the IAB macro's name);
 * - Google Consent Mode: gtag consent types in `context.consent` or `context.consent.googleConsentMode`, and the
 *   `gcs` / `gcd` parameters (google-consent-mode.ts);
 * - the `Sec-GPC: 1` request header: a refusal of `sale_share` and `advertising`.
 * A signal that is present but unusable comes back as an invalid signal (recorded, decides nothing). Within one
 * event, a refusal in any signal wins over a grant of the same purpose in another ({@link refusalsWin}).
 */
import type { JsonObject, JsonValue } from '../../core/event.js'
import type { ConsentConfig } from './consent-config.js'
import { UspV1 } from '@iabgpp/cmpapi'
import { invalidSignal, MAX_RAW_EVIDENCE, type ConsentSignal } from './consent-record.js'
import { googleConsentModeSignal } from './google-consent-mode.js'
import { decodeGppSignals, uspDecision } from './gpp-signal.js'
import { decodeTcfSignal } from './tcf-signal.js'

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function own(obj: Readonly<Record<string, unknown>>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined
}

/** Segment's `categoryPreferences`: CMP category → boolean. */
export function segmentSignal(preferences: unknown, config: Pick<ConsentConfig, 'segmentCategories'>): ConsentSignal {
  const raw = safeJson(preferences)
  if (!isObject(preferences)) return invalidSignal('segment', raw, 'context.consent.categoryPreferences must be an object of category → true/false')
  const mapping = new Map(Object.entries(config.segmentCategories).map(([k, v]) => [k.toLowerCase(), v]))
  const decisions = new Map<string, 'granted' | 'denied'>()
  const decoded: JsonObject = {}
  const ignored: JsonValue[] = []
  for (const key of Object.keys(preferences)) {
    const value = preferences[key]
    if (typeof value !== 'boolean') {
      ignored.push(key.slice(0, 100))
      continue
    }
    decoded[key.slice(0, 100)] = value
    const purposes = mapping.get(key.toLowerCase())
    if (purposes === undefined) {
      ignored.push(key.slice(0, 100))
      continue
    }
    for (const p of purposes) {
      // Two categories mapped to one purpose: a refusal in either wins.
      if (!value) decisions.set(p, 'denied')
      else if (decisions.get(p) !== 'denied') decisions.set(p, 'granted')
    }
  }
  return {
    source: 'segment', jurisdiction: null, decisions,
    evidence: { ...(raw === undefined ? {} : { raw }), valid: true, decoded: { categoryPreferences: decoded, ...(ignored.length > 0 ? { ignored } : {}) } },
  }
}

export function gpcSignal(config: Pick<ConsentConfig, 'purposes'>): ConsentSignal {
  const decisions = new Map<string, 'granted' | 'denied'>()
  for (const p of ['sale_share', 'advertising']) if (Object.hasOwn(config.purposes, p)) decisions.set(p, 'denied')
  return { source: 'gpc', jurisdiction: null, decisions, evidence: { raw: 'Sec-GPC: 1', valid: true } }
}

/** A US Privacy string on its own (`1YNN`: version, notice, opted out of sale, LSPA), decoded with `@iabgpp/cmpapi`'s UspV1. */
export function usPrivacySignal(raw: unknown, config: Pick<ConsentConfig, 'usPrivacy' | 'purposes'>): ConsentSignal {
  if (typeof raw !== 'string') return invalidSignal('usp', undefined, 'a US Privacy string must be a string such as "1YNN"')
  const text = raw.trim()
  if (!/^1[YN-]{3}$/.test(text)) return invalidSignal('usp', raw, 'a US Privacy string is version 1 and three of Y, N or -, e.g. "1YNN"')
  let notice: unknown
  let optOut: unknown
  try {
    const section = new UspV1(text)
    notice = section.getFieldValue('Notice')
    optOut = section.getFieldValue('OptOutSale')
  } catch (error) {
    return invalidSignal('usp', raw, `the US Privacy string does not decode: ${error instanceof Error ? error.message : String(error)}`)
  }
  const decisions = new Map<string, 'granted' | 'denied'>()
  const d = uspDecision(notice, optOut)
  if (d !== null) for (const p of config.usPrivacy.purposes) if (Object.hasOwn(config.purposes, p)) decisions.set(p, d)
  return { source: 'usp', jurisdiction: 'US-CA', decisions, evidence: { raw: text, valid: true, decoded: { notice: String(notice), optOutSale: String(optOut) } } }
}

/**
 * Within one event, a refusal in one signal wins over a grant of the same purpose in another. Signals are recorded
 * in order and the latest record counts, so a refusal that comes before a grant is repeated after the last
 * signal (the same signal, with only those refusals). Grants are never dropped: they carry the jurisdiction the
 * signal implies, and losing it could move a person to a laxer regime.
 */
export function refusalsWin(signals: readonly ConsentSignal[]): ConsentSignal[] {
  const lastGrant = new Map<string, number>()
  const lastRefusal = new Map<string, number>()
  signals.forEach((s, i) => {
    for (const [p, d] of s.decisions) (d === 'granted' ? lastGrant : lastRefusal).set(p, i)
  })
  const repeat = new Map<number, Map<string, 'denied'>>()
  for (const [p, r] of lastRefusal) {
    const g = lastGrant.get(p)
    if (g === undefined || r > g) continue
    const m = repeat.get(r) ?? new Map<string, 'denied'>()
    m.set(p, 'denied')
    repeat.set(r, m)
  }
  if (repeat.size === 0) return [...signals]
  return [...signals, ...[...repeat].sort(([a], [b]) => a - b).map(([i, decisions]) => ({ ...signals[i]!, decisions }))]
}

/** Is this the `Sec-GPC` header of a request that opts out? Only the exact value `1` counts (W3C GPC). */
export function isGpcHeader(value: string | readonly string[] | undefined): boolean {
  const v = typeof value === 'string' ? value : value?.[0]
  return v !== undefined && v.trim() === '1'
}

/** Every signal in an event's `context`, plus GPC when the request carried `Sec-GPC: 1`. */
export function signalsOf(context: unknown, gpc: boolean, config: ConsentConfig): ConsentSignal[] {
  const signals: ConsentSignal[] = []
  // GPC goes last: recorded after a CMP's answer in the same event, its opt-out is the one in force.
  const withGpc = (): ConsentSignal[] => refusalsWin(gpc ? [...signals, gpcSignal(config)] : signals)
  if (!isObject(context)) return withGpc()
  const consent = own(context, 'consent')
  const c = isObject(consent) ? consent : undefined
  if (consent !== undefined && consent !== null && c === undefined) {
    signals.push(invalidSignal('segment', safeJson(consent), 'context.consent must be an object'))
    return withGpc()
  }
  const prefs = c === undefined ? undefined : own(c, 'categoryPreferences')
  if (prefs !== undefined && prefs !== null) signals.push(segmentSignal(prefs, config))
  const tcf = (c === undefined ? undefined : own(c, 'tcf')) ?? own(context, 'gdpr_consent')
  if (tcf !== undefined && tcf !== null) signals.push(decodeTcfSignal(tcf, config))
  const gpp = (c === undefined ? undefined : own(c, 'gpp')) ?? own(context, 'gpp')
  if (gpp !== undefined && gpp !== null) signals.push(...decodeGppSignals(gpp, config))
  const usp = (c === undefined ? undefined : own(c, 'usPrivacy')) ?? own(context, 'us_privacy')
  if (usp !== undefined && usp !== null) signals.push(usPrivacySignal(usp, config))
  const gcm = googleConsentModeSignal(context, config)
  if (gcm !== null) signals.push(gcm)
  return withGpc()
}

function safeJson(value: unknown): string | undefined {
  try {
    const text = typeof value === 'string' ? value : JSON.stringify(value)
    return text === undefined ? undefined : text.slice(0, MAX_RAW_EVIDENCE)
  } catch {
    return undefined
  }
}
