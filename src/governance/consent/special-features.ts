/**
 * @module TCF special features (v2.2: 1 "use precise geolocation data", 2 "actively scan device characteristics for
 * identification"). Unlike purposes they are not a legal basis for a category but an extra opt-in a CMP asks for:
 * without it the data the feature names must not be used, whatever the purposes allow. Tessera records a TC
 * string's opt-in or its absence per identifier in the consent ledger, as the record purpose `feature:<name>`
 * (`governance.consent.tcfSpecialFeatures`), and ingest drops the configured fields of every feature refused on any
 * of the event's identifiers. A feature nobody said anything about restricts nothing: outside TCF there is no
 * special-feature opt-in to wait for, and the fields stay governed by the purposes of their category.
 */
import type { ConsentConfig } from './consent-config.js'
import type { StoredConsentRecord } from './consent-record.js'

/** The ledger records a special feature under this purpose prefix. */
export const FEATURE_PURPOSE_PREFIX = 'feature:'

/** The ledger purpose of a configured special feature. */
export function featurePurpose(name: string): string {
  return FEATURE_PURPOSE_PREFIX + name
}

/** Decisions for the configured features, from a decoded string's special-feature opt-ins. */
export function specialFeatureDecisions(optedIn: (feature: number) => boolean, config: Pick<ConsentConfig, 'tcfSpecialFeatures'>): Map<string, 'granted' | 'denied'> {
  const out = new Map<string, 'granted' | 'denied'>()
  for (const [name, f] of Object.entries(config.tcfSpecialFeatures)) out.set(name, optedIn(f.feature) ? 'granted' : 'denied')
  return out
}

/**
 * The fields to drop for `identifiers`: those of every feature whose latest record on any identifier is a refusal
 * (an opt-in on one identifier never lifts another's refusal, as with purposes). `records` is any superset of the
 * identifiers' latest records.
 */
export function refusedFeatureFields(records: readonly StoredConsentRecord[], identifiers: readonly string[], config: Pick<ConsentConfig, 'tcfSpecialFeatures'>): string[] {
  const names = Object.keys(config.tcfSpecialFeatures)
  if (names.length === 0 || identifiers.length === 0) return []
  const wanted = new Set(identifiers)
  const latest = new Map<string, StoredConsentRecord>()
  for (const r of records) {
    if (!r.purpose.startsWith(FEATURE_PURPOSE_PREFIX) || !wanted.has(r.identifier) || r.state === 'invalid') continue
    const key = `${r.identifier}\u0000${r.purpose}`
    if ((latest.get(key)?.seq ?? -1) < r.seq) latest.set(key, r)
  }
  const fields: string[] = []
  for (const name of names) {
    const purpose = featurePurpose(name)
    if (identifiers.some((id) => latest.get(`${id}\u0000${purpose}`)?.state === 'denied')) fields.push(...config.tcfSpecialFeatures[name]!.fields)
  }
  return fields
}

/** Does the attribute at `path` (`context.location.latitude`) fall under a field pattern (exact, or `prefix.*`)? */
export function matchesFieldPattern(path: string, patterns: readonly string[]): boolean {
  for (const p of patterns) {
    if (p === path) return true
    if (p.endsWith('.*') && path.startsWith(p.slice(0, -1))) return true
  }
  return false
}
