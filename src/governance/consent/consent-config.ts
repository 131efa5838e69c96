/**
 * @module The `governance.consent` configuration: which purposes consent is kept for (each with the legal basis
 * it rests on and the data categories it uses), what happens to an attribute nobody consented to (drop or keyed
 * hash), the default when no consent is known per jurisdiction (opt-in regimes such as the EU, opt-out regimes
 * such as the US), and how the standards map onto these purposes: TCF purposes, Segment / CMP categories, and
 * the purposes an admin read states. Defaults are safe and documented in docs/privacy.md.
 */
import { ConfigError } from '../../core/errors.js'
import { DATA_CATEGORIES, type DataCategory } from '../classification.js'
import { EU_EEA } from '../residency.js'

export const CONSENT_LEGAL_BASES = ['consent', 'legitimate_interest', 'contract', 'legal_obligation'] as const
export type ConsentLegalBasis = (typeof CONSENT_LEGAL_BASES)[number]

export const REGIMES = ['opt_in', 'opt_out'] as const
/** `opt_in`: a purpose resting on consent needs an explicit grant. `opt_out`: everything is allowed until refused. */
export type Regime = (typeof REGIMES)[number]

export const ENFORCEMENT_ACTIONS = ['drop', 'hash'] as const
export type EnforcementAction = (typeof ENFORCEMENT_ACTIONS)[number]

export interface ConsentPurposeConfig {
  /** What processing for this purpose rests on. Only `consent` purposes need an opt-in in an opt-in regime. */
  readonly legalBasis: ConsentLegalBasis
  /** Data categories this purpose uses: an attribute is kept when any purpose using its category is allowed. */
  readonly categories: readonly DataCategory[]
  readonly description?: string
}

export interface JurisdictionConfig {
  readonly regime: Regime
  /** ISO 3166 alpha-2 countries of this jurisdiction (to read `context.location.country` / a profile's region). */
  readonly countries: readonly string[]
}

export interface ConsentConfig {
  /** Consent purposes by name (lower case). */
  readonly purposes: Readonly<Record<string, ConsentPurposeConfig>>
  /** What ingest does to an attribute whose category has no allowed purpose: per category, else `defaultAction`. */
  readonly enforcement: {
    readonly defaultAction: EnforcementAction
    readonly categories: Readonly<Partial<Record<DataCategory, EnforcementAction>>>
  }
  /**
   * Jurisdictions by name (`EU`, `UK`, `US`, or a sub-jurisdiction `US-CA`, which falls back to `US`). A signal
   * sets the jurisdiction of its record (TCF → EU, GPP usca → US-CA, ...); otherwise the event's
   * `context.location.country` or the profile's residency decides, else `defaultRegime`.
   */
  readonly jurisdictions: Readonly<Record<string, JurisdictionConfig>>
  /** Regime when the jurisdiction is unknown. `opt_in` (the safe choice). */
  readonly defaultRegime: Regime
  /** Tessera purpose → TCF v2.2 purposes (1-11) that must all be allowed for it. Unlisted purposes get no TCF signal. */
  readonly tcfPurposes: Readonly<Record<string, readonly number[]>>
  /** Vendor checks on TCF strings (EU TC strings and GPP's tcfeuv2 and tcfcav1 sections). */
  readonly tcf: TcfVendorConfig
  /** TCF Canada (GPP section tcfcav1): express consent, or implied consent for the purposes that allow it. */
  readonly tcfCanada: TcfCanadaConfig
  /**
   * TCF special features by name: the feature number (1 precise geolocation, 2 device scanning) and the attribute
   * paths it governs (`context.location.latitude`, or `prefix.*`). A TC string (or GPP tcfeuv2 / tcfcav1 section)
   * without the feature's opt-in refuses it for the event's identifiers, and ingest drops those fields.
   */
  readonly tcfSpecialFeatures: Readonly<Record<string, TcfSpecialFeatureConfig>>
  /** Google Consent Mode signals (gtag consent types, `gcs` / `gcd` parameters) → Tessera purposes. */
  readonly googleConsentMode: GoogleConsentModeConfig
  /** The US Privacy string (GPP section uspv1, or `context.us_privacy`): purposes an opt-out of sale refuses. */
  readonly usPrivacy: { readonly purposes: readonly string[] }
  /** Segment / CMP category (`context.consent.categoryPreferences` key, compared case-insensitively) → Tessera purposes. */
  readonly segmentCategories: Readonly<Record<string, readonly string[]>>
  /** Admin read purpose (governance.purposes) → consent purposes it needs; the Cedar context carries their state. */
  readonly readPurposes: Readonly<Record<string, readonly string[]>>
  /** Sources (ids) that may call `POST /v1/consent`; empty = every source. */
  readonly apiSources: readonly string[]
}

const ALL_BUT_HEALTH: readonly DataCategory[] = DATA_CATEGORIES.filter((c) => c !== 'health' && c !== 'technical')

/**
 * Which TCF vendors must be allowed for a Tessera purpose to be granted. With no vendor at all (the default), the
 * purpose-level signals decide alone. With vendors, every TCF purpose mapped to the Tessera purpose must be
 * allowed for every one of them: the vendor's consent bit with the purpose's, or (where TCF allows legitimate
 * interest) the vendor's LI bit with the purpose's, as the publisher's restrictions for that vendor and purpose
 * permit (not allowed / consent only / LI only).
 */
export interface TcfVendorConfig {
  /** Tessera's own IAB Global Vendor List id(s), when this deployment is a registered vendor: every purpose needs them. */
  readonly vendorIds: readonly number[]
  /** Per Tessera purpose, the GVL vendor ids of the destinations that would receive data for it (e.g. advertising → [755]). */
  readonly purposeVendors: Readonly<Record<string, readonly number[]>>
  /**
   * TCF 2.3: a string created on or after this day (YYYY-MM-DD) must list the vendor in its disclosedVendors segment
   * for the vendor's bits to count, and a string of that age without the segment grants nothing (its refusals
   * still count). Null: checked only when a string carries the segment. Default 2026-03-01 (IAB Europe's deadline).
   */
  readonly disclosedVendorsRequiredFrom: string | null
}

export interface TcfCanadaConfig {
  /** Tessera purpose → TCF Canada purposes (numbered as on IAB Canada's vendor list) that must all be allowed. */
  readonly purposes: Readonly<Record<string, readonly number[]>>
  /**
   * TCF Canada purposes for which implied consent counts (as legitimate interest does in TCF v2.2); the others need
   * express consent. Default 2, 7-11: never profiling (3-6) or storage on the device (1).
   */
  readonly impliedConsentPurposes: readonly number[]
}

export interface TcfSpecialFeatureConfig {
  /** The TCF special feature number (1-2 in TCF v2.2). */
  readonly feature: number
  /** Attribute paths the feature governs: exact (`context.location.latitude`) or a subtree (`properties.geo.*`). */
  readonly fields: readonly string[]
}

export interface GoogleConsentModeConfig {
  /**
   * Consent type (`ad_storage`, `analytics_storage`, `ad_user_data`, `ad_personalization`, ...) → Tessera purposes.
   * A denied type refuses every purpose it maps to; a purpose is granted only when every type mapped to it is
   * present and granted (so `gcs`, which carries only ad_storage and analytics_storage, can refuse advertising but
   * never grant it).
   */
  readonly types: Readonly<Record<string, readonly string[]>>
  /** Purposes Consent Mode may refuse but never grant (Google's signals speak of Google's ads, not of selling data). */
  readonly refuseOnly: readonly string[]
}

export const GCM_TYPES = ['ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization', 'functionality_storage', 'personalization_storage', 'security_storage'] as const

export const DEFAULT_CONSENT: ConsentConfig = {
  purposes: {
    analytics: { legalBasis: 'legitimate_interest', categories: ALL_BUT_HEALTH, description: 'measuring and improving the product (objectable)' },
    personalization: { legalBasis: 'consent', categories: ['identifier', 'contact', 'demographic', 'professional', 'behavioral', 'location', 'device'], description: 'tailoring content and offers' },
    advertising: { legalBasis: 'consent', categories: ['identifier', 'contact', 'demographic', 'behavioral', 'location', 'device'], description: 'targeted advertising and ad measurement' },
    sale_share: { legalBasis: 'consent', categories: ['identifier', 'contact', 'demographic', 'behavioral', 'financial', 'location', 'device'], description: 'selling or sharing personal data (CCPA/CPRA)' },
  },
  enforcement: { defaultAction: 'drop', categories: { identifier: 'hash', contact: 'hash' } },
  jurisdictions: {
    EU: { regime: 'opt_in', countries: EU_EEA },
    UK: { regime: 'opt_in', countries: ['GB'] },
    US: { regime: 'opt_out', countries: ['US'] },
    CA: { regime: 'opt_in', countries: ['CA'] },
  },
  defaultRegime: 'opt_in',
  // TCF v2.2: 1 store on device; 2 limited data for ads; 3/4 ad profile; 5/6 content profile; 7 ad measurement;
  // 8 content measurement; 9 audience research; 10 product development; 11 limited data for content.
  tcfPurposes: {
    analytics: [8, 9, 10],
    personalization: [5, 6],
    advertising: [2, 3, 4, 7],
  },
  tcf: { vendorIds: [], purposeVendors: {}, disclosedVendorsRequiredFrom: '2026-03-01' },
  tcfCanada: { purposes: { analytics: [8, 9, 10], personalization: [5, 6], advertising: [2, 3, 4, 7] }, impliedConsentPurposes: [2, 7, 8, 9, 10, 11] },
  tcfSpecialFeatures: {
    precise_geolocation: { feature: 1, fields: ['context.location.latitude', 'context.location.longitude', 'properties.latitude', 'properties.longitude'] },
  },
  googleConsentMode: {
    types: {
      analytics_storage: ['analytics'],
      ad_storage: ['advertising'],
      ad_user_data: ['advertising', 'sale_share'],
      ad_personalization: ['advertising'],
      personalization_storage: ['personalization'],
    },
    refuseOnly: ['sale_share'],
  },
  usPrivacy: { purposes: ['sale_share'] },
  segmentCategories: {
    analytics: ['analytics'], performance: ['analytics'], statistics: ['analytics'],
    personalization: ['personalization'], functional: ['personalization'], preferences: ['personalization'],
    advertising: ['advertising'], marketing: ['advertising'], targeting: ['advertising'],
    sale_share: ['sale_share'], sale: ['sale_share'], sharing: ['sale_share'],
  },
  readPurposes: { analytics: ['analytics'], marketing: ['personalization'] },
  apiSources: [],
}

/** TCF purposes for which legitimate interest is a valid basis under TCF v2.2 (1, 3-6 are consent-only). */
export const TCF_LI_ALLOWED: ReadonlySet<number> = new Set([2, 7, 8, 9, 10, 11])

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

type Need = (ok: boolean, field: string, message: string) => void

const isVendorList = (v: unknown): boolean => Array.isArray(v) && v.length <= 1000 && v.every((n) => Number.isInteger(n) && n >= 1 && n <= 65_535)
const isTcfPurposeList = (v: unknown, max: number): boolean => Array.isArray(v) && v.length > 0 && v.every((n) => Number.isInteger(n) && n >= 1 && n <= max)

function validateTcfConfig(c: ConsentConfig, purposes: readonly string[], need: Need): void {
  need(isPlainObject(c.tcf), '.tcf', 'must be an object { "vendorIds", "purposeVendors", "disclosedVendorsRequiredFrom" }')
  need(isVendorList(c.tcf.vendorIds), '.tcf.vendorIds', 'must be a list of IAB Global Vendor List ids (whole numbers 1-65535)')
  need(isPlainObject(c.tcf.purposeVendors), '.tcf.purposeVendors', 'must map Tessera purposes to lists of GVL vendor ids')
  for (const [name, list] of Object.entries(c.tcf.purposeVendors)) {
    need(purposes.includes(name), `.tcf.purposeVendors.${name}`, `is not a consent purpose (one of ${purposes.join(', ')})`)
    need(isVendorList(list), `.tcf.purposeVendors.${name}`, 'must be a list of GVL vendor ids (whole numbers 1-65535)')
  }
  const from = c.tcf.disclosedVendorsRequiredFrom
  need(from === null || (typeof from === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(from) && !Number.isNaN(Date.parse(`${from}T00:00:00Z`))),
    '.tcf.disclosedVendorsRequiredFrom', 'must be a day YYYY-MM-DD (TCF 2.3: 2026-03-01), or null to check disclosed vendors only when a string lists them')
  need(isPlainObject(c.tcfSpecialFeatures), '.tcfSpecialFeatures', 'must map feature names to { "feature": 1 or 2, "fields": [attribute paths] }')
  for (const [name, sf] of Object.entries(c.tcfSpecialFeatures)) {
    const at = `.tcfSpecialFeatures.${name}`
    need(/^[a-z][a-z0-9_]*$/.test(name), at, 'feature names are lower case letters, digits and _')
    need(isPlainObject(sf) && Number.isInteger(sf.feature) && sf.feature >= 1 && sf.feature <= 12, `${at}.feature`, 'must be a TCF special feature number (1 precise geolocation, 2 device scanning)')
    need(Array.isArray(sf.fields) && sf.fields.length > 0 && sf.fields.every((x) => typeof x === 'string' && /^(traits|properties|context)(\.[A-Za-z0-9_$-]+)+(\.\*)?$/.test(x)),
      `${at}.fields`, 'must be a non-empty list of attribute paths under traits, properties or context, e.g. "context.location.latitude" or "properties.geo.*"')
  }
  need(isPlainObject(c.tcfCanada) && isPlainObject(c.tcfCanada.purposes), '.tcfCanada.purposes', 'must map Tessera purposes to lists of TCF Canada purposes (1-24)')
  for (const [name, list] of Object.entries(c.tcfCanada.purposes)) {
    need(purposes.includes(name), `.tcfCanada.purposes.${name}`, `is not a consent purpose (one of ${purposes.join(', ')})`)
    need(isTcfPurposeList(list, 24), `.tcfCanada.purposes.${name}`, 'must be a non-empty list of TCF Canada purposes 1-24')
  }
  need(Array.isArray(c.tcfCanada.impliedConsentPurposes) && c.tcfCanada.impliedConsentPurposes.every((n) => Number.isInteger(n) && n >= 1 && n <= 24),
    '.tcfCanada.impliedConsentPurposes', 'must be a list of TCF Canada purposes (1-24) for which implied consent counts (may be empty)')
}

/** Checks `governance.consent`; `readPurposes` keys must be admin purposes from `governance.purposes`. */
export function validateConsentConfig(value: unknown, adminPurposes: readonly string[]): ConsentConfig {
  const f = 'governance.consent'
  const need = (ok: boolean, field: string, message: string): void => {
    if (!ok) throw new ConfigError(`config ${f}${field}: ${message}`, `${f}${field}`)
  }
  need(isPlainObject(value), '', 'must be an object')
  const c = value as ConsentConfig
  need(isPlainObject(c.purposes) && Object.keys(c.purposes).length > 0, '.purposes', 'must map purpose names to { "legalBasis", "categories" }')
  const purposes = Object.keys(c.purposes)
  for (const [name, p] of Object.entries(c.purposes)) {
    need(/^[a-z][a-z0-9_]*$/.test(name), `.purposes.${name}`, 'purpose names are lower case letters, digits and _')
    need(isPlainObject(p) && (CONSENT_LEGAL_BASES as readonly string[]).includes(p.legalBasis), `.purposes.${name}.legalBasis`, `must be one of ${CONSENT_LEGAL_BASES.join(', ')}`)
    need(Array.isArray(p.categories) && p.categories.every((x) => (DATA_CATEGORIES as readonly string[]).includes(x)), `.purposes.${name}.categories`,
      `must be a list of data categories (${DATA_CATEGORIES.join(', ')})`)
  }
  need(isPlainObject(c.enforcement) && (ENFORCEMENT_ACTIONS as readonly string[]).includes(c.enforcement.defaultAction), '.enforcement.defaultAction', 'must be "drop" or "hash"')
  need(isPlainObject(c.enforcement.categories) && Object.entries(c.enforcement.categories).every(([k, v]) => (DATA_CATEGORIES as readonly string[]).includes(k) && (ENFORCEMENT_ACTIONS as readonly string[]).includes(v as string)),
    '.enforcement.categories', 'must map data categories to "drop" or "hash"')
  need(isPlainObject(c.jurisdictions), '.jurisdictions', 'must map jurisdiction names to { "regime", "countries" }')
  for (const [name, j] of Object.entries(c.jurisdictions)) {
    need(/^[A-Z]{2,3}(-[A-Z0-9]{1,3})?$/.test(name), `.jurisdictions.${name}`, 'names are upper case, e.g. EU, US, US-CA')
    need(isPlainObject(j) && (REGIMES as readonly string[]).includes(j.regime), `.jurisdictions.${name}.regime`, 'must be "opt_in" or "opt_out"')
    need(Array.isArray(j.countries) && j.countries.every((x) => typeof x === 'string' && /^[A-Z]{2}$/.test(x)), `.jurisdictions.${name}.countries`, 'must be ISO 3166 alpha-2 codes in upper case')
  }
  need((REGIMES as readonly string[]).includes(c.defaultRegime), '.defaultRegime', 'must be "opt_in" or "opt_out"')
  need(isPlainObject(c.tcfPurposes), '.tcfPurposes', 'must map Tessera purposes to lists of TCF purposes (1-11)')
  for (const [name, list] of Object.entries(c.tcfPurposes)) {
    need(purposes.includes(name), `.tcfPurposes.${name}`, `is not a consent purpose (one of ${purposes.join(', ')})`)
    need(Array.isArray(list) && list.length > 0 && list.every((n) => Number.isInteger(n) && n >= 1 && n <= 11), `.tcfPurposes.${name}`, 'must be a non-empty list of TCF purposes 1-11')
  }
  validateTcfConfig(c, purposes, need)
  need(isPlainObject(c.googleConsentMode) && isPlainObject(c.googleConsentMode.types), '.googleConsentMode.types', 'must map consent types (ad_storage, analytics_storage, ...) to lists of Tessera purposes')
  for (const [type, list] of Object.entries(c.googleConsentMode.types)) {
    need(/^[a-z][a-z_]{0,40}$/.test(type), `.googleConsentMode.types.${type}`, `consent types are lower case names such as ${GCM_TYPES.slice(0, 4).join(', ')}`)
    need(Array.isArray(list) && list.every((p) => purposes.includes(p)), `.googleConsentMode.types.${type}`, `must list consent purposes (${purposes.join(', ')})`)
  }
  need(Array.isArray(c.googleConsentMode.refuseOnly) && c.googleConsentMode.refuseOnly.every((p) => purposes.includes(p)), '.googleConsentMode.refuseOnly', `must list consent purposes (${purposes.join(', ')})`)
  need(isPlainObject(c.usPrivacy) && Array.isArray(c.usPrivacy.purposes) && c.usPrivacy.purposes.every((p) => purposes.includes(p)), '.usPrivacy.purposes', `must list consent purposes (${purposes.join(', ')})`)
  need(isPlainObject(c.segmentCategories), '.segmentCategories', 'must map CMP categories to lists of Tessera purposes')
  for (const [name, list] of Object.entries(c.segmentCategories)) {
    need(Array.isArray(list) && list.every((p) => purposes.includes(p)), `.segmentCategories.${name}`, `must list consent purposes (${purposes.join(', ')})`)
  }
  need(isPlainObject(c.readPurposes), '.readPurposes', 'must map admin read purposes to lists of consent purposes')
  for (const [name, list] of Object.entries(c.readPurposes)) {
    need(adminPurposes.includes(name), `.readPurposes.${name}`, `is not a configured governance purpose (${adminPurposes.join(', ')})`)
    need(Array.isArray(list) && list.every((p) => purposes.includes(p)), `.readPurposes.${name}`, `must list consent purposes (${purposes.join(', ')})`)
  }
  need(Array.isArray(c.apiSources) && c.apiSources.every((s) => typeof s === 'string'), '.apiSources', 'must be a list of source ids')
  return c
}
