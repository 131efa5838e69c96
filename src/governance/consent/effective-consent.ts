/**
 * @module Effective consent: what the ledger allows for a set of identifiers (a profile, or one event's
 * identifiers) and one purpose. Each identifier counts with its own latest record for the purpose, or, without
 * one, the default of its jurisdiction (opt-in regime: a purpose resting on consent is refused until granted;
 * opt-out regime: allowed until refused). Across identifiers a refusal wins: an opt-out given on any identifier
 * of a profile applies to the whole profile, while an opt-in given on one identifier never lifts another
 * identifier's refusal or its opt-in default. Since records stay per identifier, an unmerge gives each side
 * back exactly its own consent. Pure functions over records; the ledger loads them.
 */
import { ValidationError } from '../../core/errors.js'
import type { ConsentConfig, Regime } from './consent-config.js'
import type { StoredConsentRecord } from './consent-record.js'

export const UNKNOWN_JURISDICTION = 'UNKNOWN'

/** What the person said explicitly, across identifiers: a refusal anywhere wins. */
export type ExplicitConsent = 'granted' | 'refused' | 'unknown'

export interface IdentifierConsent {
  readonly identifier: string
  readonly state: 'granted' | 'denied'
  /** `record`: its own latest record decided; `default`: its jurisdiction's default. */
  readonly by: 'record' | 'default'
  readonly jurisdiction: string
  readonly seq?: number
  readonly source?: string
}

export interface ConsentDecision {
  readonly purpose: string
  readonly state: 'granted' | 'denied'
  readonly explicit: ExplicitConsent
  readonly identifiers: readonly IdentifierConsent[]
}

/** The regime of a jurisdiction: its own, else its parent's (`US-CA` → `US`), else the default regime. */
export function regimeOf(jurisdiction: string, config: Pick<ConsentConfig, 'jurisdictions' | 'defaultRegime'>): Regime {
  const own = Object.hasOwn(config.jurisdictions, jurisdiction) ? config.jurisdictions[jurisdiction] : undefined
  if (own) return own.regime
  const parent = jurisdiction.split('-')[0]!
  const up = Object.hasOwn(config.jurisdictions, parent) ? config.jurisdictions[parent] : undefined
  return up?.regime ?? config.defaultRegime
}

/** The jurisdiction of a country code or region name (`DE` → `EU`, `EU` → `EU`), or null when none is configured. */
export function jurisdictionOf(place: string | undefined | null, config: Pick<ConsentConfig, 'jurisdictions'>): string | null {
  if (typeof place !== 'string') return null
  const text = place.normalize('NFKC').trim().toUpperCase()
  if (text === '' || text === UNKNOWN_JURISDICTION) return null
  if (Object.hasOwn(config.jurisdictions, text)) return text
  for (const [name, j] of Object.entries(config.jurisdictions)) if (j.countries.includes(text)) return name
  return null
}

/** The state of a purpose when nothing was said: refused only for a purpose resting on consent in an opt-in regime. */
export function defaultState(purpose: string, jurisdiction: string, config: Pick<ConsentConfig, 'purposes' | 'jurisdictions' | 'defaultRegime'>): 'granted' | 'denied' {
  const p = config.purposes[purpose]!
  return p.legalBasis === 'consent' && regimeOf(jurisdiction, config) === 'opt_in' ? 'denied' : 'granted'
}

export function assertPurpose(purpose: string, config: Pick<ConsentConfig, 'purposes'>, field = '.purpose'): void {
  if (!Object.hasOwn(config.purposes, purpose)) {
    throw new ValidationError(field, `${JSON.stringify(purpose.slice(0, 60))} is not a consent purpose (one of: ${Object.keys(config.purposes).join(', ')}; see governance.consent.purposes)`)
  }
}

/**
 * The effective consent of `identifiers` for `purpose` from `records` (any superset of their latest records;
 * invalid records are ignored). `jurisdictionHint` (the event's country, the profile's residency) is used for
 * identifiers whose records name no jurisdiction.
 */
export function effectiveConsent(
  records: readonly StoredConsentRecord[], identifiers: readonly string[], purpose: string, config: ConsentConfig, jurisdictionHint?: string | null,
): ConsentDecision {
  assertPurpose(purpose, config)
  const latest = new Map<string, StoredConsentRecord>()
  const place = new Map<string, StoredConsentRecord>()
  for (const r of records) {
    if (r.state === 'invalid') continue
    // Where the person is: the strictest regime named by the identifier's grants, or by its refusals from opt-in
    // jurisdictions; among those, the latest record's jurisdiction. A refusal can therefore only keep the regime or
    // make it stricter, and turning a grant into a refusal never moves an identifier to a laxer regime (the laxest,
    // opt-out, is the floor), so no refusal widens what the defaults allow (revoking never widens access).
    if (r.jurisdiction !== UNKNOWN_JURISDICTION) {
      const strict = regimeOf(r.jurisdiction, config) === 'opt_in'
      if (r.state === 'granted' || strict) {
        const before = place.get(r.identifier)
        const beforeStrict = before !== undefined && regimeOf(before.jurisdiction, config) === 'opt_in'
        if (before === undefined || (strict && !beforeStrict) || (strict === beforeStrict && before.seq < r.seq)) place.set(r.identifier, r)
      }
    }
    if (r.purpose !== purpose) continue
    if ((latest.get(r.identifier)?.seq ?? -1) < r.seq) latest.set(r.identifier, r)
  }
  const hint = jurisdictionOf(jurisdictionHint, config) ?? UNKNOWN_JURISDICTION
  const list = identifiers.length > 0 ? [...new Set(identifiers)] : []
  const perIdentifier: IdentifierConsent[] = list.map((identifier) => {
    const jurisdiction = place.get(identifier)?.jurisdiction ?? hint
    const r = latest.get(identifier)
    if (r && (r.state === 'granted' || r.state === 'denied')) {
      return { identifier, state: r.state, by: 'record', jurisdiction, seq: r.seq, source: r.source }
    }
    return { identifier, state: defaultState(purpose, jurisdiction, config), by: 'default', jurisdiction }
  })
  const state = perIdentifier.length === 0
    ? defaultState(purpose, hint, config)
    : perIdentifier.some((i) => i.state === 'denied') ? 'denied' : 'granted'
  const explicit: ExplicitConsent = perIdentifier.some((i) => i.by === 'record' && i.state === 'denied') ? 'refused'
    : perIdentifier.some((i) => i.by === 'record' && i.state === 'granted') ? 'granted' : 'unknown'
  return { purpose, state, explicit, identifiers: perIdentifier }
}

/**
 * What the Cedar context says about an admin read's purpose: `not_required` when the read purpose needs no
 * consent purpose (`governance.consent.readPurposes`), else `refused` when any needed purpose was explicitly
 * refused, `granted` when all were explicitly granted, `unknown` otherwise.
 */
export function readConsent(
  records: readonly StoredConsentRecord[], identifiers: readonly string[], readPurpose: string, config: ConsentConfig, jurisdictionHint?: string | null,
): 'granted' | 'refused' | 'unknown' | 'not_required' {
  const needed = Object.hasOwn(config.readPurposes, readPurpose) ? config.readPurposes[readPurpose]! : []
  if (needed.length === 0) return 'not_required'
  const decisions = needed.map((p) => effectiveConsent(records, identifiers, p, config, jurisdictionHint).explicit)
  if (decisions.includes('refused')) return 'refused'
  return decisions.every((d) => d === 'granted') ? 'granted' : 'unknown'
}
