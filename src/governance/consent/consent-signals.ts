/**
 * @module Reads every consent signal an event (or a consent API call) carries:
 * - Segment's consent object: `context.consent.categoryPreferences` (`{ "Advertising": false, ... }`), CMP
 *   categories mapped to purposes by `governance.consent.segmentCategories` (case-insensitive; unknown
 *   categories are kept as evidence and decide nothing);
 * - a TCF v2.x TC string: `context.consent.tcf`, or `context.gdpr_consent` (the name of the IAB URL macro);
 * - a GPP string: `context.consent.gpp`, or `context.gpp`;
 * - the `Sec-GPC: 1` request header: a refusal of `sale_share` and `advertising`.
 * A signal that is present but unusable comes back as an invalid signal (recorded, decides nothing).
 */
import type { JsonObject, JsonValue } from '../../core/event.js'
import type { ConsentConfig } from './consent-config.js'
import { invalidSignal, MAX_RAW_EVIDENCE, type ConsentSignal } from './consent-record.js'
import { decodeGppSignals } from './gpp-signal.js'
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

/** Is this the `Sec-GPC` header of a request that opts out? Only the exact value `1` counts (W3C GPC). */
export function isGpcHeader(value: string | readonly string[] | undefined): boolean {
  const v = typeof value === 'string' ? value : value?.[0]
  return v !== undefined && v.trim() === '1'
}

/** Every signal in an event's `context`, plus GPC when the request carried `Sec-GPC: 1`. */
export function signalsOf(context: unknown, gpc: boolean, config: ConsentConfig): ConsentSignal[] {
  const signals: ConsentSignal[] = []
  // GPC goes last: recorded after a CMP's answer in the same event, its opt-out is the one in force.
  const withGpc = (): ConsentSignal[] => (gpc ? [...signals, gpcSignal(config)] : signals)
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
