/**
 * @module IAB GPP strings → consent decisions, with the IAB's own decoder (`@iabgpp/cmpapi`, `GppModel`). The
 * US sections (usnat and the state sections usca, usva, usco, ...) give opt-outs: `SaleOptOut` or
 * `SharingOptOut` = 1 refuses `sale_share`, `TargetedAdvertisingOptOut` = 1 refuses `advertising`, `Gpc` refuses
 * both; 2 ("did not opt out") grants them, 0 (not applicable) decides nothing. An embedded `tcfeuv2` section
 * is read like a TC string. A string that does not decode is invalid evidence. Decoding never throws.
 */
import { GppModel, Sections } from '@iabgpp/cmpapi'
import type { ConsentConfig } from './consent-config.js'
import { TCF_LI_ALLOWED } from './consent-config.js'
import { invalidSignal, MAX_RAW_EVIDENCE, type ConsentSignal } from './consent-record.js'
import type { JsonObject, JsonValue } from '../../core/event.js'

export const MAX_GPP_STRING = 16_384

type Fields = Readonly<Record<string, unknown>>

function field(fields: Fields, name: string): unknown {
  return Object.hasOwn(fields, name) ? fields[name] : undefined
}

function jsonOf(fields: Fields, names: readonly string[]): JsonObject {
  const out: JsonObject = {}
  for (const n of names) {
    const v = field(fields, n)
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') out[n] = v
    else if (Array.isArray(v)) out[n] = v.filter((x): x is JsonValue => typeof x === 'number' || typeof x === 'boolean')
  }
  return out
}

/** An opt-out field: 1 opted out → denied, 2 did not opt out → granted, anything else → no decision. */
function optOut(value: unknown): 'granted' | 'denied' | null {
  return value === 1 ? 'denied' : value === 2 ? 'granted' : null
}

/** Combines decisions for one purpose within a section: a refusal wins. */
function combine(a: 'granted' | 'denied' | null, b: 'granted' | 'denied' | null): 'granted' | 'denied' | null {
  if (a === 'denied' || b === 'denied') return 'denied'
  return a ?? b
}

const US_FIELDS = ['SaleOptOut', 'SharingOptOut', 'TargetedAdvertisingOptOut', 'SaleOptOutNotice', 'SharingOptOutNotice', 'TargetedAdvertisingOptOutNotice', 'Gpc'] as const

export function decodeGppSignals(raw: unknown, config: Pick<ConsentConfig, 'tcfPurposes' | 'purposes'>): ConsentSignal[] {
  if (typeof raw !== 'string') return [invalidSignal('gpp', undefined, 'a GPP string must be a string')]
  const text = raw.trim()
  if (text.length > MAX_GPP_STRING) return [invalidSignal('gpp', raw, `the GPP string is ${text.length} characters, over ${MAX_GPP_STRING}`)]
  // The header section is type 3 in its first 6 bits, so every GPP string starts with "DB"; a TC string ("C...")
  // passed as GPP is a common mistake and must not be read as one.
  if (!/^DB[A-Za-z0-9_\-.~]*$/.test(text)) return [invalidSignal('gpp', raw, 'not a GPP string: it must start with the GPP header ("DB...") and hold base64url sections separated by ~')]
  let model: GppModel
  let sectionIds: number[]
  try {
    model = new GppModel(text)
    sectionIds = (model.getSectionIds() as unknown[]).filter((id): id is number => typeof id === 'number')
  } catch (error) {
    return [invalidSignal('gpp', raw, `the GPP string does not decode: ${error instanceof Error ? error.message : String(error)}`)]
  }
  const evidenceRaw = text.slice(0, MAX_RAW_EVIDENCE)
  const signals: ConsentSignal[] = []
  const has = (purpose: string): boolean => Object.hasOwn(config.purposes, purpose)
  for (const id of sectionIds) {
    const name = Sections.SECTION_ID_NAME_MAP.get(id)
    if (name === undefined) continue // unknown section ids are ignored
    let fields: Fields
    try {
      const section: unknown = model.getSection(name)
      if (typeof section !== 'object' || section === null) continue
      fields = section as Fields
    } catch (error) {
      signals.push(invalidSignal('gpp', raw, `GPP section ${name} does not decode: ${error instanceof Error ? error.message : String(error)}`))
      continue
    }
    const decisions = new Map<string, 'granted' | 'denied'>()
    let jurisdiction: string
    let decoded: JsonObject
    if (name === 'tcfeuv2') {
      jurisdiction = 'EU'
      const consents = field(fields, 'PurposeConsents')
      const interests = field(fields, 'PurposeLegitimateInterests')
      const bit = (list: unknown, n: number): boolean => Array.isArray(list) && list[n - 1] === true
      for (const [purpose, tcf] of Object.entries(config.tcfPurposes)) {
        decisions.set(purpose, tcf.every((n) => bit(consents, n) || (TCF_LI_ALLOWED.has(n) && bit(interests, n))) ? 'granted' : 'denied')
      }
      decoded = { section: name, ...jsonOf(fields, ['PolicyVersion', 'CmpId', 'VendorListVersion', 'PurposeConsents', 'PurposeLegitimateInterests']) }
    } else if (name.startsWith('us') && name !== 'uspv1') {
      jurisdiction = name === 'usnat' ? 'US' : `US-${name.slice(2).toUpperCase()}`
      let sale = combine(optOut(field(fields, 'SaleOptOut')), optOut(field(fields, 'SharingOptOut')))
      let ads = optOut(field(fields, 'TargetedAdvertisingOptOut'))
      if (field(fields, 'Gpc') === true) {
        sale = 'denied'
        ads = 'denied'
      }
      if (sale !== null && has('sale_share')) decisions.set('sale_share', sale)
      if (ads !== null && has('advertising')) decisions.set('advertising', ads)
      decoded = { section: name, ...jsonOf(fields, US_FIELDS) }
    } else {
      continue // tcfcav1, uspv1 (deprecated): not mapped
    }
    signals.push({ source: 'gpp', jurisdiction, decisions, evidence: { raw: evidenceRaw, valid: true, decoded } })
  }
  return signals
}
