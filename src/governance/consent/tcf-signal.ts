/**
 * @module IAB TCF v2.x TC strings → consent decisions per Tessera purpose, with `@iabtechlabtcf/core`'s decoded
 * fields (purpose and vendor consents and legitimate interests, publisher restrictions, disclosed vendors). The
 * decision rule (tcf-decisions.ts): every TCF purpose mapped to a Tessera purpose (`governance.consent.tcfPurposes`)
 * must have consent, or legitimate interest where TCF v2.2 allows it (2, 7-11; never 1, 3-6), and, when
 * `governance.consent.tcf` names vendors for it (Tessera's own vendor id, the vendors of the destinations that
 * would use it), so must each of those vendors, within the publisher's restrictions. Anything that does not decode,
 * is not version 2, or predates TCF v2.2 (policy version < 4) is invalid evidence and decides nothing. Decoding
 * never throws.
 */
import { TCString } from '@iabtechlabtcf/core'
import type { ConsentConfig } from './consent-config.js'
import { TCF_LI_ALLOWED } from './consent-config.js'
import { invalidSignal, MAX_RAW_EVIDENCE, type ConsentSignal } from './consent-record.js'
import { specialFeatureDecisions } from './special-features.js'
import { dateMs, disclosureCutoff, tcfDecisions, type TcfView } from './tcf-decisions.js'

/** Longer strings are refused before decoding (a TC string with every vendor is a few KB). */
export const MAX_TC_STRING = 16_384

interface IdSet {
  has(id: number): boolean
  readonly maxId: number
  forEach(fn: (value: boolean, id: number) => void): void
}

interface Restrictions {
  getRestrictionType(vendorId: number, purposeId: number): number | undefined
}

function ids(set: IdSet): number[] {
  const out: number[] = []
  set.forEach((value, id) => {
    if (value) out.push(id)
  })
  return out
}

export function decodeTcfSignal(raw: unknown, config: Pick<ConsentConfig, 'tcfPurposes' | 'tcf' | 'tcfSpecialFeatures'>): ConsentSignal {
  if (typeof raw !== 'string') return invalidSignal('tcf', undefined, 'a TC string must be a string')
  const text = raw.trim()
  if (text === '') return invalidSignal('tcf', raw, 'the TC string is empty')
  if (text.length > MAX_TC_STRING) return invalidSignal('tcf', raw, `the TC string is ${text.length} characters, over ${MAX_TC_STRING}`)
  if (!/^[A-Za-z0-9_\-.]+$/.test(text)) return invalidSignal('tcf', raw, 'a TC string is base64url segments separated by dots')
  let model: ReturnType<typeof TCString.decode>
  try {
    model = TCString.decode(text)
  } catch (error) {
    return invalidSignal('tcf', raw, `the TC string does not decode: ${error instanceof Error ? error.message : String(error)}`)
  }
  try {
    if (model.version !== 2) return invalidSignal('tcf', raw, `TC string version ${String(model.version)} is not TCF v2`)
    const policy = model.policyVersion
    if (typeof policy !== 'number' || policy < 4) {
      return invalidSignal('tcf', raw, `TCF policy version ${String(policy)} predates TCF v2.2 (4); such strings are no longer valid consent`)
    }
    const consents = model.purposeConsents as unknown as IdSet
    const interests = model.purposeLegitimateInterests as unknown as IdSet
    const vendorConsents = model.vendorConsents as unknown as IdSet
    const vendorInterests = model.vendorLegitimateInterests as unknown as IdSet
    const disclosed = model.vendorsDisclosed as unknown as IdSet
    const restrictions = model.publisherRestrictions as unknown as Restrictions
    const specialFeatures = model.specialFeatureOptins as unknown as IdSet
    const created = dateMs(model.created)
    const view: TcfView = {
      purposeConsent: (n) => consents.has(n),
      purposeInterest: (n) => interests.has(n),
      vendorConsent: (v) => vendorConsents.has(v),
      vendorInterest: (v) => vendorInterests.has(v),
      restriction: (v, n) => restrictions.getRestrictionType(v, n),
      hasDisclosedVendors: disclosed.maxId > 0,
      disclosed: (v) => disclosed.has(v),
      created,
    }
    const outcome = tcfDecisions(view, { purposes: config.tcfPurposes, interestAllowed: TCF_LI_ALLOWED, disclosureRequiredFrom: disclosureCutoff(config) }, config)
    const updated = dateMs(model.lastUpdated)
    return {
      source: 'tcf', jurisdiction: 'EU', decisions: outcome.decisions, features: specialFeatureDecisions((n) => specialFeatures.has(n), config),
      evidence: {
        raw: text.slice(0, MAX_RAW_EVIDENCE), valid: true,
        decoded: {
          policyVersion: policy, cmpId: Number(model.cmpId), cmpVersion: Number(model.cmpVersion), vendorListVersion: Number(model.vendorListVersion),
          created: created === null ? null : new Date(created).toISOString(), lastUpdated: updated === null ? null : new Date(updated).toISOString(),
          purposeConsents: ids(consents), purposeLegitimateInterests: ids(interests), specialFeatureOptins: ids(specialFeatures), disclosedVendors: disclosed.maxId > 0,
          ...(Object.keys(outcome.vendors).length > 0 ? { vendors: outcome.vendors } : {}),
          ...(outcome.warning === undefined ? {} : { warning: outcome.warning }),
        },
      },
    }
  } catch (error) {
    return invalidSignal('tcf', raw, `the TC string is not usable: ${error instanceof Error ? error.message : String(error)}`)
  }
}
