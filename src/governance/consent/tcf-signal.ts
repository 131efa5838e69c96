/**
 * @module IAB TCF v2.x TC strings → consent decisions per Tessera purpose, with `@iabtechlabtcf/core`. A
 * Tessera purpose is granted when every TCF purpose mapped to it (`governance.consent.tcfPurposes`) has consent,
 * or legitimate interest where TCF v2.2 still allows it (purposes 2, 7-11; never 1, 3-6), and refused otherwise.
 * Anything that does not decode, is not version 2, or predates TCF v2.2 (policy version < 4) is invalid
 * evidence and decides nothing. Decoding never throws.
 */
import { TCString } from '@iabtechlabtcf/core'
import type { ConsentConfig } from './consent-config.js'
import { TCF_LI_ALLOWED } from './consent-config.js'
import { invalidSignal, MAX_RAW_EVIDENCE, type ConsentSignal } from './consent-record.js'

/** Longer strings are refused before decoding (a TC string with every vendor is a few KB). */
export const MAX_TC_STRING = 16_384

interface IdSet {
  has(id: number): boolean
  forEach(fn: (value: boolean, id: number) => void): void
}

function ids(set: IdSet): number[] {
  const out: number[] = []
  set.forEach((value, id) => {
    if (value) out.push(id)
  })
  return out
}

export function decodeTcfSignal(raw: unknown, config: Pick<ConsentConfig, 'tcfPurposes'>): ConsentSignal {
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
    const decisions = new Map<string, 'granted' | 'denied'>()
    for (const [purpose, tcf] of Object.entries(config.tcfPurposes)) {
      const ok = tcf.every((n) => consents.has(n) || (TCF_LI_ALLOWED.has(n) && interests.has(n)))
      decisions.set(purpose, ok ? 'granted' : 'denied')
    }
    const created = model.created instanceof Date && !Number.isNaN(model.created.getTime()) ? model.created.toISOString() : null
    const updated = model.lastUpdated instanceof Date && !Number.isNaN(model.lastUpdated.getTime()) ? model.lastUpdated.toISOString() : null
    return {
      source: 'tcf', jurisdiction: 'EU', decisions,
      evidence: {
        raw: text.slice(0, MAX_RAW_EVIDENCE), valid: true,
        decoded: {
          policyVersion: policy, cmpId: Number(model.cmpId), cmpVersion: Number(model.cmpVersion), vendorListVersion: Number(model.vendorListVersion),
          created, lastUpdated: updated, purposeConsents: ids(consents), purposeLegitimateInterests: ids(interests),
        },
      },
    }
  } catch (error) {
    return invalidSignal('tcf', raw, `the TC string is not usable: ${error instanceof Error ? error.message : String(error)}`)
  }
}
