/**
 * @module IAB GPP strings → consent decisions, with the IAB's own decoder (`@iabgpp/cmpapi`, `GppModel`):
 * - the US sections (usnat and the state sections usca, usva, usco, ...) give opt-outs: `SaleOptOut` or
 *   `SharingOptOut` = 1 refuses `sale_share`, `TargetedAdvertisingOptOut` = 1 refuses `advertising`, `Gpc` refuses
 *   both; 2 ("did not opt out") grants them, 0 (not applicable) decides nothing;
 * - `uspv1`, the US Privacy string (`1YNN`): `OptOutSale` Y refuses the purposes of `governance.consent.usPrivacy`
 *   (sale_share), N grants them only when `Notice` is Y (notice was given), `-` decides nothing; jurisdiction US-CA;
 * - `tcfeuv2` is read like a TC string (vendor checks included), jurisdiction EU;
 * - `tcfcav1` (TCF Canada): express consent, or implied consent for `governance.consent.tcfCanada.impliedConsentPurposes`,
 *   with the same vendor checks (express / implied vendor consent, publisher restrictions); jurisdiction CA.
 * A string that does not decode is invalid evidence. Decoding never throws.
 */
import { GppModel, Sections } from '@iabgpp/cmpapi'
import type { ConsentConfig } from './consent-config.js'
import { TCF_LI_ALLOWED } from './consent-config.js'
import { invalidSignal, MAX_RAW_EVIDENCE, type ConsentSignal } from './consent-record.js'
import { specialFeatureDecisions } from './special-features.js'
import { bitAt, dateMs, disclosureCutoff, gppRestrictions, idSet, tcfDecisions, type TcfOutcome, type TcfView } from './tcf-decisions.js'
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

/** The US Privacy string: opted out of sale → denied; not opted out, with notice given → granted; else nothing. */
export function uspDecision(notice: unknown, optOutSale: unknown): 'granted' | 'denied' | null {
  if (optOutSale === 'Y') return 'denied'
  if (optOutSale === 'N' && notice === 'Y') return 'granted'
  return null
}

const US_FIELDS = ['SaleOptOut', 'SharingOptOut', 'TargetedAdvertisingOptOut', 'SaleOptOutNotice', 'SharingOptOutNotice', 'TargetedAdvertisingOptOutNotice', 'Gpc'] as const

/** A tcfeuv2 or tcfcav1 section as a {@link TcfView}. */
function tcfSectionView(fields: Fields, canada: boolean): TcfView {
  const f = (eu: string, ca: string): unknown => field(fields, canada ? ca : eu)
  const purposeConsents = f('PurposeConsents', 'PurposesExpressConsent')
  const purposeInterests = f('PurposeLegitimateInterests', 'PurposesImpliedConsent')
  const vendorConsents = idSet(f('VendorConsents', 'VendorExpressConsent'))
  const vendorInterests = idSet(f('VendorLegitimateInterests', 'VendorImpliedConsent'))
  const disclosed = idSet(f('VendorsDisclosed', 'DisclosedVendors'))
  return {
    purposeConsent: (n) => bitAt(purposeConsents, n),
    purposeInterest: (n) => bitAt(purposeInterests, n),
    vendorConsent: (v) => vendorConsents.has(v),
    vendorInterest: (v) => vendorInterests.has(v),
    restriction: gppRestrictions(f('PublisherRestrictions', 'PubRestrictions')),
    hasDisclosedVendors: disclosed.size > 0,
    disclosed: (v) => disclosed.has(v),
    created: dateMs(field(fields, 'Created')),
  }
}

function withOutcome(decoded: JsonObject, outcome: TcfOutcome): JsonObject {
  return { ...decoded, ...(Object.keys(outcome.vendors).length > 0 ? { vendors: outcome.vendors } : {}), ...(outcome.warning === undefined ? {} : { warning: outcome.warning }) }
}

export function decodeGppSignals(raw: unknown, config: Pick<ConsentConfig, 'tcfPurposes' | 'purposes' | 'tcf' | 'tcfCanada' | 'usPrivacy' | 'tcfSpecialFeatures'>): ConsentSignal[] {
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
    let features: Map<string, 'granted' | 'denied'> | undefined
    let jurisdiction: string
    let decoded: JsonObject
    if (name === 'tcfeuv2') {
      jurisdiction = 'EU'
      const policy = field(fields, 'PolicyVersion')
      if (typeof policy !== 'number' || policy < 4) {
        signals.push(invalidSignal('gpp', raw, `GPP section tcfeuv2: TCF policy version ${String(policy)} predates TCF v2.2 (4); such strings are no longer valid consent`))
        continue
      }
      const outcome = tcfDecisions(tcfSectionView(fields, false), { purposes: config.tcfPurposes, interestAllowed: TCF_LI_ALLOWED, disclosureRequiredFrom: disclosureCutoff(config) }, config)
      for (const [p, d] of outcome.decisions) decisions.set(p, d)
      const optins = field(fields, 'SpecialFeatureOptins')
      features = specialFeatureDecisions((n) => bitAt(optins, n), config)
      decoded = withOutcome({ section: name, ...jsonOf(fields, ['PolicyVersion', 'CmpId', 'VendorListVersion', 'PurposeConsents', 'PurposeLegitimateInterests', 'SpecialFeatureOptins']) }, outcome)
    } else if (name === 'tcfcav1') {
      jurisdiction = 'CA'
      const outcome = tcfDecisions(tcfSectionView(fields, true), {
        purposes: config.tcfCanada.purposes, interestAllowed: new Set(config.tcfCanada.impliedConsentPurposes), disclosureRequiredFrom: null,
      }, config)
      for (const [p, d] of outcome.decisions) decisions.set(p, d)
      const optins = field(fields, 'SpecialFeatureExpressConsent')
      features = specialFeatureDecisions((n) => bitAt(optins, n), config)
      decoded = withOutcome({ section: name, ...jsonOf(fields, ['TcfPolicyVersion', 'CmpId', 'VendorListVersion', 'PurposesExpressConsent', 'PurposesImpliedConsent', 'SpecialFeatureExpressConsent']) }, outcome)
    } else if (name === 'uspv1') {
      jurisdiction = 'US-CA'
      const d = uspDecision(field(fields, 'Notice'), field(fields, 'OptOutSale'))
      if (d !== null) for (const p of config.usPrivacy.purposes) if (has(p)) decisions.set(p, d)
      decoded = { section: name, ...jsonOf(fields, ['Version', 'Notice', 'OptOutSale', 'LspaCovered']) }
    } else if (name.startsWith('us')) {
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
      continue // sections Tessera does not map
    }
    signals.push({ source: 'gpp', jurisdiction, decisions, ...(features === undefined ? {} : { features }), evidence: { raw: evidenceRaw, valid: true, decoded } })
  }
  return signals
}
