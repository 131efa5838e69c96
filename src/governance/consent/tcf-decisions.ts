/**
 * @module The TCF decision rule shared by EU TC strings (`@iabtechlabtcf/core`), GPP's tcfeuv2 section and TCF
 * Canada's tcfcav1 section (`@iabgpp/cmpapi`): the decoders turn their library's fields into a {@link TcfView};
 * this module decides each Tessera purpose from it, so the three cannot drift apart.
 *
 * A Tessera purpose is granted when every TCF purpose mapped to it is allowed:
 * - with no vendor to check (`governance.consent.tcf` names none for it): the purpose has consent, or legitimate
 *   interest where the framework allows it (TCF v2.2: 2, 7-11; TCF Canada: implied consent for the configured
 *   purposes);
 * - with vendors (Tessera's own vendor id and the vendors of the destinations that would use the purpose): for
 *   every one of them, as the publisher's restriction for that vendor and purpose permits (0 not allowed; 1 consent
 *   only; 2 legitimate interest / implied consent only), the purpose's consent bit and the vendor's, or the
 *   purpose's LI bit and the vendor's; and, when the string lists disclosed vendors, the vendor must be on it (it
 *   was not shown to the person otherwise).
 * Otherwise it is refused. A string created after the TCF 2.3 deadline without a disclosed-vendors list is not
 * compliant: its grants are dropped (its refusals still count), so it can refuse but never grant.
 */
import type { JsonObject } from '../../core/event.js'
import type { ConsentConfig } from './consent-config.js'

/** What a decoder extracts from a TCF string or section. Functions never throw. */
export interface TcfView {
  purposeConsent(purpose: number): boolean
  /** Legitimate interest (EU) or implied consent (Canada) for the purpose. */
  purposeInterest(purpose: number): boolean
  vendorConsent(vendor: number): boolean
  vendorInterest(vendor: number): boolean
  /** The publisher's restriction of this vendor for this purpose: 0 not allowed, 1 consent only, 2 LI only. */
  restriction(vendor: number, purpose: number): number | undefined
  /** Whether the string carries a (non-empty) disclosed-vendors list, and whether it names this vendor. */
  readonly hasDisclosedVendors: boolean
  disclosed(vendor: number): boolean
  /** When the string was created (ms), or null when unknown. */
  readonly created: number | null
}

export interface TcfRules {
  /** Tessera purpose → framework purposes that must all be allowed. */
  readonly purposes: Readonly<Record<string, readonly number[]>>
  /** Framework purposes for which legitimate interest / implied consent counts. */
  readonly interestAllowed: ReadonlySet<number>
  /** Require every checked vendor to be disclosed from this time on (ms); null: only when the string lists vendors. */
  readonly disclosureRequiredFrom: number | null
}

export interface TcfOutcome {
  readonly decisions: Map<string, 'granted' | 'denied'>
  /** The checked vendors' bits and restrictions, for the evidence (only configured vendors, never the whole list). */
  readonly vendors: JsonObject
  /** Set when grants were dropped (a TCF 2.3-era string without a disclosed-vendors list). */
  readonly warning?: string
}

export const RESTRICTION_NAMES: Readonly<Record<number, string>> = { 0: 'not_allowed', 1: 'require_consent', 2: 'require_legitimate_interest' }

/** The vendors that must allow `purpose`: Tessera's own and those of the destinations using it. */
export function vendorsFor(purpose: string, config: Pick<ConsentConfig, 'tcf'>): number[] {
  const own = config.tcf.vendorIds
  const dest = Object.hasOwn(config.tcf.purposeVendors, purpose) ? config.tcf.purposeVendors[purpose]! : []
  return [...new Set([...own, ...dest])]
}

/** May `vendor` process for framework purpose `n`, given the publisher's restriction? */
function vendorAllows(view: TcfView, rules: TcfRules, n: number, vendor: number, requireDisclosure: boolean): boolean {
  if (requireDisclosure && !view.disclosed(vendor)) return false
  const consent = view.purposeConsent(n) && view.vendorConsent(vendor)
  const interest = rules.interestAllowed.has(n) && view.purposeInterest(n) && view.vendorInterest(vendor)
  switch (view.restriction(vendor, n)) {
    case undefined: return consent || interest
    case 1: return consent
    case 2: return interest
    default: return false // 0 (not allowed), or a value the framework does not define
  }
}

export function tcfDecisions(view: TcfView, rules: TcfRules, config: Pick<ConsentConfig, 'tcf'>): TcfOutcome {
  const decisions = new Map<string, 'granted' | 'denied'>()
  const checked = new Set<number>()
  // TCF 2.3: a string of this age must disclose its vendors. Without the list, nothing it says can grant.
  const tooNewWithoutList = rules.disclosureRequiredFrom !== null && !view.hasDisclosedVendors
    && view.created !== null && view.created >= rules.disclosureRequiredFrom
  // A string that lists disclosed vendors: a vendor missing from the list was not shown to the person.
  const requireDisclosure = view.hasDisclosedVendors
  for (const [purpose, numbers] of Object.entries(rules.purposes)) {
    const vendors = vendorsFor(purpose, config)
    for (const v of vendors) checked.add(v)
    const ok = numbers.every((n) => vendors.length === 0
      ? view.purposeConsent(n) || (rules.interestAllowed.has(n) && view.purposeInterest(n))
      : vendors.every((v) => vendorAllows(view, rules, n, v, requireDisclosure)))
    if (ok && tooNewWithoutList) continue
    decisions.set(purpose, ok ? 'granted' : 'denied')
  }
  const vendors: JsonObject = {}
  const numbers = [...new Set(Object.values(rules.purposes).flat())].sort((a, b) => a - b)
  for (const v of [...checked].sort((a, b) => a - b)) {
    const restrictions: JsonObject = {}
    for (const n of numbers) {
      const r = view.restriction(v, n)
      if (r !== undefined) restrictions[String(n)] = RESTRICTION_NAMES[r] ?? `unknown_${r}`
    }
    vendors[String(v)] = {
      consent: view.vendorConsent(v), legitimateInterest: view.vendorInterest(v), disclosed: view.disclosed(v),
      ...(Object.keys(restrictions).length > 0 ? { restrictions } : {}),
    }
  }
  return {
    decisions, vendors,
    ...(tooNewWithoutList ? { warning: 'created after the TCF 2.3 deadline without a disclosedVendors segment: its grants are ignored, its refusals count' } : {}),
  }
}

/** `disclosedVendorsRequiredFrom` as ms, or null. */
export function disclosureCutoff(config: Pick<ConsentConfig, 'tcf'>): number | null {
  const from = config.tcf.disclosedVendorsRequiredFrom
  return from === null ? null : Date.parse(`${from}T00:00:00Z`)
}

/** A GPP list field (bit list `[true, false, ...]` or id list `[755, ...]`), read without trusting its shape. */
export function bitAt(list: unknown, n: number): boolean {
  return Array.isArray(list) && n >= 1 && list[n - 1] === true
}

export function idSet(list: unknown): ReadonlySet<number> {
  if (!Array.isArray(list)) return new Set()
  const out = new Set<number>()
  for (const x of list.slice(0, 70_000)) if (typeof x === 'number' && Number.isInteger(x)) out.add(x)
  return out
}

/** GPP publisher restrictions (`RangeEntry { key: purpose, type, ids: vendors }`) → vendor, purpose → type. */
export function gppRestrictions(list: unknown): (vendor: number, purpose: number) => number | undefined {
  const map = new Map<string, number>()
  if (Array.isArray(list)) {
    for (const entry of list.slice(0, 1000)) {
      if (typeof entry !== 'object' || entry === null) continue
      const e = entry as { key?: unknown; type?: unknown; ids?: unknown }
      if (typeof e.key !== 'number' || typeof e.type !== 'number' || !Array.isArray(e.ids)) continue
      for (const v of idSet(e.ids)) {
        const k = `${v}:${e.key}`
        // Two restrictions for one vendor and purpose: the strictest (not allowed) wins, else the first.
        if (!map.has(k) || e.type === 0) map.set(k, e.type)
      }
    }
  }
  return (vendor, purpose) => map.get(`${vendor}:${purpose}`)
}

export function dateMs(value: unknown): number | null {
  return value instanceof Date && !Number.isNaN(value.getTime()) ? value.getTime() : null
}
