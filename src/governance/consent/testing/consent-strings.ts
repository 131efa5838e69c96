/**
 * @module Test helper: real consent strings encoded with the IAB's own libraries (`@iabtechlabtcf/core` for TC
 * strings, `@iabgpp/cmpapi` for GPP), so decoder tests read exactly what a CMP would send.
 */
import { GppModel } from '@iabgpp/cmpapi'
import { GVL, PurposeRestriction, TCModel, TCString } from '@iabtechlabtcf/core'

/** Vendors of the test vendor list: 755 (an ad destination), 12 (Tessera as a vendor), 99, 500. */
export const TEST_VENDORS = [12, 99, 500, 755] as const

function testGvl(policyVersion: number): GVL {
  const all = Array.from({ length: 11 }, (_, i) => i + 1)
  const purposes = Object.fromEntries(all.map((id) => [id, { id, name: `purpose ${id}`, description: '', illustrations: [] }]))
  // Every vendor declares every purpose as consent and 2, 7-11 as legitimate interest, all flexible, so that any
  // restriction may be encoded.
  const vendor = (id: number): Record<string, unknown> => ({
    id, name: `vendor ${id}`, purposes: all, legIntPurposes: [2, 7, 8, 9, 10, 11], flexiblePurposes: all, specialPurposes: [], features: [],
    specialFeatures: [], policyUrl: 'https://example.com/privacy', cookieMaxAgeSeconds: null, usesCookies: false, deviceStorageDisclosureUrl: null,
  })
  return new GVL({
    gvlSpecificationVersion: 3, vendorListVersion: 7, tcfPolicyVersion: policyVersion, lastUpdated: '2026-01-01T00:00:00Z', purposes,
    specialPurposes: {}, features: {}, specialFeatures: {}, vendors: Object.fromEntries(TEST_VENDORS.map((v) => [v, vendor(v)])), stacks: {}, dataCategories: {},
  } as never)
}

export interface TcOptions {
  readonly consents?: readonly number[]
  readonly interests?: readonly number[]
  readonly vendorConsents?: readonly number[]
  readonly vendorInterests?: readonly number[]
  /** Disclosed vendors (TCF 2.3); default every test vendor. Empty: the string lists none. */
  readonly disclosed?: readonly number[]
  /** [vendor, purpose, type]: 0 not allowed, 1 consent only, 2 LI only. */
  readonly restrictions?: readonly (readonly [number, number, 0 | 1 | 2])[]
  readonly policyVersion?: number
  /** Creation time (day precision in TCF); default now. */
  readonly created?: Date
  /** Special features opted in to (1 precise geolocation, 2 device scanning). */
  readonly specialFeatures?: readonly number[]
}

/** A TCF v2.x TC string. */
export function tcString(o: TcOptions = {}): string {
  const m = new TCModel(testGvl(o.policyVersion ?? 5))
  m.cmpId = 10
  m.cmpVersion = 1
  m.purposeConsents.set([...(o.consents ?? [])])
  m.purposeLegitimateInterests.set([...(o.interests ?? [])])
  m.vendorConsents.set([...(o.vendorConsents ?? [])])
  m.vendorLegitimateInterests.set([...(o.vendorInterests ?? [])])
  m.vendorsDisclosed.set([...(o.disclosed ?? TEST_VENDORS)])
  m.specialFeatureOptins.set([...(o.specialFeatures ?? [])])
  for (const [vendor, purpose, type] of o.restrictions ?? []) m.publisherRestrictions.add(vendor, new PurposeRestriction(purpose, type))
  if (o.created) {
    m.created = o.created
    m.lastUpdated = o.created
  }
  return TCString.encode(m)
}

/** A GPP string with the given sections' fields set (section name → field → value). */
export function gppString(sections: Readonly<Record<string, Readonly<Record<string, unknown>>>>): string {
  const m = new GppModel()
  for (const [section, fields] of Object.entries(sections)) {
    for (const [name, value] of Object.entries(fields)) m.setFieldValue(section, name, value)
  }
  return m.encode()
}

/** A bit list of `length` with the given 1-based positions set (GPP purpose fields). */
export function bits(length: number, set: readonly number[]): boolean[] {
  return Array.from({ length }, (_, i) => set.includes(i + 1))
}
