/**
 * The consent decoders beyond purpose bits: TCF vendor consents, legitimate interests, publisher restrictions and
 * TCF 2.3 disclosed vendors (EU TC strings and GPP tcfeuv2), TCF Canada (tcfcav1), the US Privacy string (uspv1 and
 * standalone), Google Consent Mode (gtag types, gcs, gcd). Fuzzed (never throws, never grants on garbage) and
 * property-tested (a refusal never widens what is allowed).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DEFAULT_CONSENT, validateConsentConfig, type ConsentConfig } from './consent-config.js'
import { categoriesToEnforce } from './consent-enforcement.js'
import type { ConsentSignal, StoredConsentRecord } from './consent-record.js'
import { signalsOf, usPrivacySignal } from './consent-signals.js'
import { effectiveConsent } from './effective-consent.js'
import { googleConsentModeSignal, parseGcd, parseGcs } from './google-consent-mode.js'
import { decodeGppSignals } from './gpp-signal.js'
import { tcfDecisions, type TcfView } from './tcf-decisions.js'
import { decodeTcfSignal } from './tcf-signal.js'
import { bits, gppString, tcString, TEST_VENDORS } from './testing/consent-strings.js'

const base: ConsentConfig = DEFAULT_CONSENT
/** Tessera is vendor 12; advertising data goes to vendor 755's destination. */
const withVendors: ConsentConfig = { ...base, tcf: { ...base.tcf, vendorIds: [12], purposeVendors: { advertising: [755] } } }
const PURPOSES = Object.keys(base.purposes)
const decided = (s: ConsentSignal): Record<string, string> => Object.fromEntries(s.decisions)

describe('TCF vendor consents, legitimate interests and publisher restrictions', () => {
  const all = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]

  it('without configured vendors, the purpose bits decide alone (as before)', () => {
    const s = decodeTcfSignal(tcString({ consents: all }), base)
    expect(decided(s)).toEqual({ analytics: 'granted', personalization: 'granted', advertising: 'granted' })
  })

  it('grants a purpose only when Tessera\'s vendor id and the destination vendors using it have consent too', () => {
    expect(decided(decodeTcfSignal(tcString({ consents: all, vendorConsents: [12, 755] }), withVendors)))
      .toEqual({ analytics: 'granted', personalization: 'granted', advertising: 'granted' })
    // The ad destination's vendor refused: only advertising goes.
    expect(decided(decodeTcfSignal(tcString({ consents: all, vendorConsents: [12] }), withVendors)))
      .toEqual({ analytics: 'granted', personalization: 'granted', advertising: 'denied' })
    // Tessera's own vendor id refused: every purpose goes, whatever the purpose bits say.
    const s = decodeTcfSignal(tcString({ consents: all, vendorConsents: [755] }), withVendors)
    expect(decided(s)).toEqual({ analytics: 'denied', personalization: 'denied', advertising: 'denied' })
    expect(s.evidence.decoded).toMatchObject({ vendors: { 12: { consent: false, disclosed: true }, 755: { consent: true } } })
  })

  it('accepts legitimate interest of purpose and vendor where TCF v2.2 allows it, never for 3-6', () => {
    const li = decodeTcfSignal(tcString({ interests: [2, 7, 8, 9, 10], vendorInterests: [12, 755] }), withVendors)
    expect(decided(li)).toMatchObject({ analytics: 'granted', personalization: 'denied', advertising: 'denied' })
    // Purpose LI without the vendor's LI bit is not enough.
    expect(decided(decodeTcfSignal(tcString({ interests: [8, 9, 10], vendorInterests: [755] }), withVendors)).analytics).toBe('denied')
  })

  it('obeys publisher restrictions: not allowed, consent only, legitimate interest only', () => {
    const consentAll = { consents: all, vendorConsents: [12, 755], vendorInterests: [12, 755], interests: [2, 7, 8, 9, 10] }
    expect(decided(decodeTcfSignal(tcString({ ...consentAll, restrictions: [[755, 4, 0]] }), withVendors)).advertising).toBe('denied')
    expect(decided(decodeTcfSignal(tcString({ ...consentAll, restrictions: [[12, 8, 0]] }), withVendors)))
      .toEqual({ analytics: 'denied', personalization: 'granted', advertising: 'granted' })
    // Consent only: LI no longer counts for that vendor and purpose.
    expect(decided(decodeTcfSignal(tcString({ interests: [8, 9, 10], vendorInterests: [12], restrictions: [[12, 9, 1]] }), withVendors)).analytics).toBe('denied')
    // LI only: the consent bits no longer count.
    const liOnly = decodeTcfSignal(tcString({ consents: all, vendorConsents: [12, 755], restrictions: [[12, 8, 2]] }), withVendors)
    expect(decided(liOnly).analytics).toBe('denied')
    expect(liOnly.evidence.decoded).toMatchObject({ vendors: { 12: { restrictions: { 8: 'require_legitimate_interest' } } } })
  })

  it('TCF 2.3: a vendor not listed as disclosed counts for nothing, and a recent string without the list can refuse but not grant', () => {
    expect(decided(decodeTcfSignal(tcString({ consents: all, vendorConsents: [12, 755], disclosed: [12] }), withVendors)).advertising).toBe('denied')
    const noList = decodeTcfSignal(tcString({ consents: [8, 9, 10], vendorConsents: [12, 755], disclosed: [] }), withVendors)
    expect(noList.evidence.valid).toBe(true)
    expect(decided(noList)).toEqual({ personalization: 'denied', advertising: 'denied' })
    expect(noList.evidence.decoded).toMatchObject({ warning: expect.stringMatching(/TCF 2\.3/) })
    // Created before the deadline: the list was not required yet.
    const old = decodeTcfSignal(tcString({ consents: [8, 9, 10], vendorConsents: [12], disclosed: [], created: new Date('2025-10-01T00:00:00Z') }), withVendors)
    expect(decided(old).analytics).toBe('granted')
    // The deadline is configurable (null: only strings that carry a list are checked).
    const lax = { ...base, tcf: { ...base.tcf, disclosedVendorsRequiredFrom: null } }
    expect(decided(decodeTcfSignal(tcString({ consents: [8, 9, 10], disclosed: [] }), lax)).analytics).toBe('granted')
  })

  it('applies the same rule to the tcfeuv2 section of a GPP string', () => {
    const gpp = (vendorConsents: number[], restrictions: unknown[] = []): string => gppString({
      tcfeuv2: { PurposeConsents: bits(24, all), VendorConsents: vendorConsents, VendorsDisclosed: [...TEST_VENDORS], PublisherRestrictions: restrictions },
    })
    expect(decided(decodeGppSignals(gpp([12, 755]), withVendors)[0]!)).toEqual({ analytics: 'granted', personalization: 'granted', advertising: 'granted' })
    expect(decided(decodeGppSignals(gpp([12]), withVendors)[0]!).advertising).toBe('denied')
  })

  it('names only the configured vendors in the evidence, never the whole vendor list', () => {
    const s = decodeTcfSignal(tcString({ consents: all, vendorConsents: [12, 99, 500, 755] }), withVendors)
    expect(Object.keys((s.evidence.decoded as { vendors: object }).vendors).sort()).toEqual(['12', '755'])
  })
})

describe('GPP tcfcav1 (TCF Canada) and uspv1 (US Privacy)', () => {
  it('grants with express consent, or implied consent only for the purposes that allow it', () => {
    const express = decodeGppSignals(gppString({ tcfcav1: { PurposesExpressConsent: bits(24, [2, 3, 4, 5, 6, 7, 8, 9, 10]) } }), base)
    expect(express).toHaveLength(1)
    expect(express[0]!.jurisdiction).toBe('CA')
    expect(decided(express[0]!)).toEqual({ analytics: 'granted', personalization: 'granted', advertising: 'granted' })
    const implied = decodeGppSignals(gppString({ tcfcav1: { PurposesImpliedConsent: bits(24, [2, 3, 4, 5, 6, 7, 8, 9, 10]) } }), base)[0]!
    expect(decided(implied)).toEqual({ analytics: 'granted', personalization: 'denied', advertising: 'denied' }) // 3-6 need express consent
  })

  it('checks vendors by express or implied vendor consent, within the publisher restrictions', () => {
    const s = (vendorExpress: number[], vendorImplied: number[] = []): ConsentSignal => decodeGppSignals(gppString({
      tcfcav1: { PurposesExpressConsent: bits(24, [2, 3, 4, 7]), PurposesImpliedConsent: bits(24, [8, 9, 10]), VendorExpressConsent: vendorExpress, VendorImpliedConsent: vendorImplied },
    }), withVendors)[0]!
    expect(decided(s([12, 755], [12]))).toEqual({ analytics: 'granted', personalization: 'denied', advertising: 'granted' })
    expect(decided(s([12]))).toEqual({ analytics: 'denied', personalization: 'denied', advertising: 'denied' })
  })

  it('reads the US Privacy string: Y refuses sale/sharing, N grants it only with notice, - decides nothing', () => {
    const one = (notice: string, optOut: string): Record<string, string> => decided(decodeGppSignals(gppString({ uspv1: { Notice: notice, OptOutSale: optOut } }), base)[0]!)
    expect(one('Y', 'Y')).toEqual({ sale_share: 'denied' })
    expect(one('N', 'Y')).toEqual({ sale_share: 'denied' })
    expect(one('Y', 'N')).toEqual({ sale_share: 'granted' })
    expect(one('N', 'N')).toEqual({})
    expect(one('-', '-')).toEqual({})
    expect(decodeGppSignals(gppString({ uspv1: { Notice: 'Y', OptOutSale: 'Y' } }), base)[0]!.jurisdiction).toBe('US-CA')
    expect(decided(usPrivacySignal('1YYN', base))).toEqual({ sale_share: 'denied' })
    expect(usPrivacySignal('1YYN', base).source).toBe('usp')
    for (const bad of ['2YYN', '1YY', 'yes', '1ZZZ', '', 42]) expect(usPrivacySignal(bad, base).evidence.valid, String(bad)).toBe(false)
    expect(decided(signalsOf({ us_privacy: '1YYY' }, false, base)[0]!)).toEqual({ sale_share: 'denied' })
    expect(decided(signalsOf({ consent: { usPrivacy: '1YNN' } }, false, base)[0]!)).toEqual({ sale_share: 'granted' })
  })
})

describe('Google Consent Mode', () => {
  const gcm = (context: Record<string, unknown>, config = base): ConsentSignal | null => googleConsentModeSignal(context, config)

  it('reads the gtag shape in context.consent and under googleConsentMode; a purpose needs every type mapped to it', () => {
    const allGranted = { ad_storage: 'granted', analytics_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted', personalization_storage: 'granted' }
    const s = gcm({ consent: allGranted })!
    expect(s.source).toBe('gcm')
    expect(decided(s)).toEqual({ analytics: 'granted', advertising: 'granted', personalization: 'granted' }) // sale_share: refuse-only
    expect(decided(gcm({ consent: { googleConsentMode: { ...allGranted, ad_personalization: 'denied' } } })!)).toMatchObject({ advertising: 'denied' })
    // ad_user_data denied also refuses sale/sharing; a partial set grants only what it fully covers.
    expect(decided(gcm({ consent: { googleConsentMode: { ad_user_data: false, analytics_storage: true } } })!)).toEqual({ analytics: 'granted', advertising: 'denied', sale_share: 'denied' })
    expect(decided(gcm({ consent: { ad_storage: 'granted' } })!)).toEqual({})
    expect(gcm({ consent: { categoryPreferences: { Advertising: true } } })).toBeNull()
    expect(gcm({})).toBeNull()
  })

  it('reads gcs and gcd; gcs alone can refuse advertising but never grant it', () => {
    expect(parseGcs('G111')).toEqual(new Map([['ad_storage', 'granted'], ['analytics_storage', 'granted']]))
    expect(parseGcs('G101')).toEqual(new Map([['ad_storage', 'denied'], ['analytics_storage', 'granted']]))
    expect(decided(gcm({ gcs: 'G111' })!)).toEqual({ analytics: 'granted' })
    expect(decided(gcm({ consent: { gcs: 'G100' } })!)).toEqual({ analytics: 'denied', advertising: 'denied' })
    expect(parseGcd('11t1t1t1t5')).toEqual(new Map([['ad_storage', 'granted'], ['analytics_storage', 'granted'], ['ad_user_data', 'granted'], ['ad_personalization', 'granted']]))
    expect(parseGcd('13l3r3u3l5')).toEqual(new Map([['analytics_storage', 'granted'], ['ad_user_data', 'denied']]))
    expect(decided(gcm({ gcd: '11v1v1v1v5' })!)).toEqual({ analytics: 'granted', advertising: 'granted' })
    // A denial in any shape wins over a grant in another.
    expect(decided(gcm({ gcs: 'G111', consent: { gcd: '11q1v1v1v5' } })!)).toEqual({ analytics: 'granted', advertising: 'denied' })
    for (const bad of ['G1', 'G112', 'g111', '11x1t1t1t5', '11t1t1t5', 'gcd']) expect(parseGcs(bad) ?? parseGcd(bad), bad).toBeNull()
    const invalid = gcm({ gcs: 'G1xx' })!
    expect(invalid.evidence.valid).toBe(false)
    expect(invalid.decisions.size).toBe(0)
  })

  it('keeps unknown types and values as evidence that decides nothing, and is configurable', () => {
    const s = gcm({ consent: { googleConsentMode: { ad_storage: 'maybe', wallet_storage: 'granted', analytics_storage: 'denied' } } })!
    expect(decided(s)).toEqual({ analytics: 'denied' })
    expect(s.evidence.decoded).toMatchObject({ ignored: expect.arrayContaining(['ad_storage', 'wallet_storage']) })
    const custom = validateConsentConfig({ ...base, googleConsentMode: { types: { ad_storage: ['advertising'] }, refuseOnly: [] } }, ['analytics', 'marketing'])
    expect(decided(gcm({ consent: { ad_storage: 'granted' } }, custom)!)).toEqual({ advertising: 'granted' })
    expect(() => validateConsentConfig({ ...base, googleConsentMode: { types: { ad_storage: ['telepathy'] }, refuseOnly: [] } }, [])).toThrow(/googleConsentMode\.types\.ad_storage/)
    expect(() => validateConsentConfig({ ...base, tcf: { ...base.tcf, vendorIds: [0] } }, [])).toThrow(/tcf\.vendorIds/)
    expect(() => validateConsentConfig({ ...base, tcf: { ...base.tcf, disclosedVendorsRequiredFrom: 'March' } }, [])).toThrow(/disclosedVendorsRequiredFrom/)
  })
})

describe('fuzzed decoders: never throw, never grant on garbage', () => {
  const good = {
    tc: tcString({ consents: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], vendorConsents: [12, 755], restrictions: [[755, 2, 1]] }),
    gpp: gppString({
      tcfcav1: { PurposesExpressConsent: bits(24, [2, 3, 4, 7, 8, 9, 10]), VendorExpressConsent: [12, 755], PubRestrictions: [] },
      uspv1: { Notice: 'Y', OptOutSale: 'N' },
      tcfeuv2: { PurposeConsents: bits(24, [2, 3, 4, 7, 8, 9, 10]), VendorConsents: [12, 755], VendorsDisclosed: [12, 755] },
    }),
  }
  /** Random edits of a valid string: replaced, dropped and inserted characters, truncation. */
  const mutated = (text: string): fc.Arbitrary<string> => fc.array(fc.tuple(fc.nat({ max: text.length - 1 }), fc.constantFrom('A', '_', '-', '.', '~', 'z', '9', ''), fc.boolean()), { minLength: 1, maxLength: 6 })
    .map((edits) => edits.reduce((t, [at, ch, insert]) => (insert ? t.slice(0, at) + ch + t.slice(at) : t.slice(0, at) + ch + t.slice(at + 1)), text))
  const garbage = fc.oneof(fc.string(), fc.base64String(), fc.stringMatching(/^[A-Za-z0-9_.~-]{0,120}$/), fc.stringMatching(/^DB[A-Za-z0-9_.~-]{0,120}$/), fc.anything())

  it('TC strings with vendor checks on (random input and mutations of a valid string)', () => {
    fc.assert(fc.property(fc.oneof(garbage, mutated(good.tc)), (raw) => {
      const s = decodeTcfSignal(raw, withVendors)
      if (!s.evidence.valid) expect(s.decisions.size).toBe(0)
    }), { numRuns: 600 })
  })

  it('GPP strings with tcfcav1, uspv1 and tcfeuv2 sections', () => {
    fc.assert(fc.property(fc.oneof(garbage, mutated(good.gpp)), (raw) => {
      for (const s of decodeGppSignals(raw, withVendors)) if (!s.evidence.valid) expect(s.decisions.size).toBe(0)
    }), { numRuns: 600 })
  })

  it('US Privacy strings and Google Consent Mode values anywhere in an event context', () => {
    fc.assert(fc.property(garbage, (raw) => {
      const s = usPrivacySignal(raw, base)
      if (!s.evidence.valid) expect(s.decisions.size).toBe(0)
      else expect(raw).toMatch(/^\s*1[YN-]{3}\s*$/)
    }), { numRuns: 400 })
    fc.assert(fc.property(fc.oneof(fc.string(), fc.anything()), (raw) => {
      const gcs = parseGcs(raw)
      const gcd = parseGcd(raw)
      if (gcs !== null) expect(String(raw).trim()).toMatch(/^G1[01]{2}$/)
      if (gcd !== null) expect(String(raw).trim()).toMatch(/^1\d[a-z]\d[a-z]\d[a-z]\d[a-z]\d$/)
    }), { numRuns: 400 })
    // A value whose toString is not a function cannot be turned into text: it is reported, not thrown (fast-check found it).
    const hostile = { toString: 0, valueOf: 0 }
    for (const key of ['consent', 'gcs', 'gcd', 'us_privacy', 'gpp', 'gdpr_consent']) {
      for (const context of [{ [key]: hostile }, { consent: { [key]: hostile } }, { consent: { googleConsentMode: { ad_storage: hostile } } }]) {
        const signals = signalsOf(context, false, withVendors)
        for (const s of signals) if (!s.evidence.valid) expect(s.decisions.size).toBe(0)
      }
    }
    // Any context: never throws, and a grant only ever comes from a literal "granted"/true/G1../gcd letter.
    fc.assert(fc.property(fc.dictionary(fc.constantFrom('consent', 'gcs', 'gcd', 'us_privacy', 'gpp', 'gdpr_consent', 'x'), fc.anything()), (context) => {
      const signals = signalsOf(context, false, withVendors)
      for (const s of signals) if (!s.evidence.valid) expect(s.decisions.size).toBe(0)
    }), { numRuns: 600 })
  })
})

describe('a refusal never widens access (properties)', () => {
  /** A random TCF view: purpose and vendor bits, restrictions, disclosure. */
  const arbView = fc.record({
    consents: fc.subarray([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), interests: fc.subarray([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    vendorConsents: fc.subarray([...TEST_VENDORS]), vendorInterests: fc.subarray([...TEST_VENDORS]), disclosed: fc.subarray([...TEST_VENDORS]),
    restrictions: fc.array(fc.tuple(fc.constantFrom(...TEST_VENDORS), fc.integer({ min: 1, max: 11 }), fc.constantFrom(0, 1, 2)), { maxLength: 4 }),
    created: fc.constantFrom(Date.UTC(2025, 0, 1), Date.UTC(2026, 5, 1)),
  })
  type Raw = typeof arbView extends fc.Arbitrary<infer T> ? T : never
  const view = (r: Raw): TcfView => ({
    purposeConsent: (n) => r.consents.includes(n), purposeInterest: (n) => r.interests.includes(n),
    vendorConsent: (v) => r.vendorConsents.includes(v as never), vendorInterest: (v) => r.vendorInterests.includes(v as never),
    restriction: (v, n) => r.restrictions.find(([rv, rn]) => rv === v && rn === n)?.[2], hasDisclosedVendors: r.disclosed.length > 0,
    disclosed: (v) => r.disclosed.includes(v as never), created: r.created,
  })
  const rules = { purposes: base.tcfPurposes, interestAllowed: new Set([2, 7, 8, 9, 10, 11]), disclosureRequiredFrom: Date.UTC(2026, 2, 1) }
  const configs = [base, withVendors]

  it('TCF: removing any consent, LI or disclosure bit, or adding a restriction, never grants more', () => {
    const refusal = fc.oneof(
      fc.record({ kind: fc.constantFrom('consents', 'interests'), n: fc.integer({ min: 1, max: 11 }) }),
      fc.record({ kind: fc.constantFrom('vendorConsents', 'vendorInterests', 'disclosed'), n: fc.constantFrom(...TEST_VENDORS) }),
      fc.record({ kind: fc.constant('restrict'), n: fc.tuple(fc.constantFrom(...TEST_VENDORS), fc.integer({ min: 1, max: 11 }), fc.constantFrom(0, 1, 2)) }),
    )
    fc.assert(fc.property(arbView, refusal, fc.constantFrom(0, 1), (r, change, which) => {
      const config = configs[which]!
      let after: Raw
      if (change.kind === 'restrict') {
        const [v, n, t] = change.n as [number, number, number]
        // A restriction narrows the legal bases a vendor may use; replacing one that allowed more is a refusal too.
        const existing = r.restrictions.find(([rv, rn]) => rv === v && rn === n)?.[2]
        if (existing !== undefined && existing !== t && t !== 0) return
        after = { ...r, restrictions: [[v, n, t] as never, ...r.restrictions.filter(([rv, rn]) => !(rv === v && rn === n))] }
      } else {
        const key = change.kind as 'consents' | 'interests' | 'vendorConsents' | 'vendorInterests' | 'disclosed'
        after = { ...r, [key]: (r[key] as number[]).filter((x) => x !== change.n) }
        // Removing the last disclosed vendor makes the list absent: for a string from before TCF 2.3 that means
        // "nothing said about disclosure", not a refusal, so it is not a case of this property.
        if (key === 'disclosed' && after.disclosed.length === 0 && r.created < rules.disclosureRequiredFrom) return
      }
      const before = tcfDecisions(view(r), rules, config).decisions
      const now = tcfDecisions(view(after), rules, config).decisions
      for (const [p, d] of now) if (d === 'granted') expect(before.get(p), p).toBe('granted')
    }), { numRuns: 1500 })
  })

  it('Google Consent Mode: turning any type from granted to denied never grants more', () => {
    const types = Object.keys(base.googleConsentMode.types)
    fc.assert(fc.property(fc.dictionary(fc.constantFrom(...types), fc.constantFrom('granted', 'denied')), fc.constantFrom(...types), (state, flip) => {
      const before = googleConsentModeSignal({ consent: { googleConsentMode: state } }, base)
      const after = googleConsentModeSignal({ consent: { googleConsentMode: { ...state, [flip]: 'denied' } } }, base)!
      for (const [p, d] of after.decisions) if (d === 'granted') expect(before?.decisions.get(p)).toBe('granted')
    }), { numRuns: 500 })
  })

  it('through decoding and the ledger: an event with one more refusing signal never leaves more allowed', () => {
    // Events carry any mix of signals; the same event with an added refusal (Sec-GPC, a CMP "no", a US Privacy
    // opt-out, a denied Consent Mode type) is decoded, recorded and evaluated like the pipeline does.
    const arbContext = fc.record({
      categoryPreferences: fc.option(fc.dictionary(fc.constantFrom('Analytics', 'Advertising', 'Personalization', 'Sale'), fc.boolean()), { nil: undefined }),
      tcf: fc.option(fc.constantFrom(tcString({ consents: [2, 3, 4, 5, 6, 7, 8, 9, 10], vendorConsents: [12, 755] }), tcString({ consents: [8, 9, 10] })), { nil: undefined }),
      usPrivacy: fc.option(fc.constantFrom('1YNN', '1YYN', '1---'), { nil: undefined }),
      googleConsentMode: fc.option(fc.dictionary(fc.constantFrom('ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization'), fc.constantFrom('granted', 'denied')), { nil: undefined }),
    }, { requiredKeys: [] })
    const arbRefusal = fc.oneof(
      fc.constant({ gpc: true } as const),
      fc.constantFrom('Analytics', 'Advertising', 'Personalization', 'Sale').map((c) => ({ category: c })),
      fc.constant({ usPrivacy: '1YYN' } as const),
      fc.constantFrom('ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization').map((t) => ({ gcm: t })),
    )
    let seq = 0
    const toRecords = (signals: readonly ConsentSignal[], identifier: string): StoredConsentRecord[] => signals.flatMap((s) => [...s.decisions].map(([purpose, state]) => ({
      identifier, purpose, state, source: s.source, legalBasis: 'consent', jurisdiction: s.jurisdiction ?? 'UNKNOWN', time: 0, evidence: s.evidence, seq: ++seq,
    })))
    fc.assert(fc.property(arbContext, arbRefusal, fc.constantFrom('DE', 'US', null), fc.constantFrom(0, 1), (consent, refusal, hint, which) => {
      const config = configs[which]!
      const refused: Record<string, unknown> = { ...consent }
      let gpc = false
      if ('gpc' in refusal) gpc = true
      else if ('category' in refusal) refused.categoryPreferences = { ...(consent.categoryPreferences ?? {}), [refusal.category]: false }
      else if ('usPrivacy' in refusal) refused.usPrivacy = refusal.usPrivacy
      else refused.googleConsentMode = { ...(consent.googleConsentMode ?? {}), [refusal.gcm]: 'denied' }
      const prior = [{ identifier: 'user_id:u', purpose: 'analytics', state: 'granted' as const, source: 'api' as const, legalBasis: 'consent', jurisdiction: 'US', time: 0, evidence: { valid: true }, seq: ++seq }]
      const states = (context: Record<string, unknown>, withGpc: boolean): Map<string, 'granted' | 'denied'> => {
        const records = [...prior, ...toRecords(signalsOf({ consent: context }, withGpc, config), 'user_id:u')]
        return new Map(PURPOSES.map((p) => [p, effectiveConsent(records, ['user_id:u'], p, config, hint).state]))
      }
      const before = states(consent, false)
      const after = states(refused, gpc)
      for (const p of PURPOSES) if (after.get(p) === 'granted') expect(before.get(p), p).toBe('granted')
      const enforcedBefore = categoriesToEnforce(before, config)
      for (const c of enforcedBefore.keys()) expect(categoriesToEnforce(after, config).has(c)).toBe(true)
    }), { numRuns: 400 })
  })
})
