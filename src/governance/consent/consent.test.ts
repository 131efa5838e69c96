import { GppModel } from '@iabgpp/cmpapi'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createClassifier, SAFE_DEFAULT } from '../classification.js'
import { DEFAULT_CONSENT, type ConsentConfig } from './consent-config.js'
import { categoriesToEnforce, enforceConsent } from './consent-enforcement.js'
import type { StoredConsentRecord } from './consent-record.js'
import { signalsOf } from './consent-signals.js'
import { effectiveConsent, readConsent } from './effective-consent.js'
import { decodeGppSignals } from './gpp-signal.js'
import { decodeTcfSignal } from './tcf-signal.js'
import { refusedFeatureFields } from './special-features.js'
import { tcString as encodeTc } from './testing/consent-strings.js'

const config: ConsentConfig = DEFAULT_CONSENT
const PURPOSES = Object.keys(config.purposes)

function tcString(consents: number[], interests: number[] = [], policyVersion = 4): string {
  return encodeTc({ consents, interests, policyVersion })
}

let seq = 0
const rec = (identifier: string, purpose: string, state: 'granted' | 'denied', jurisdiction = 'UNKNOWN'): StoredConsentRecord => ({
  identifier, purpose, state, source: 'api', legalBasis: 'consent', jurisdiction, time: 0, evidence: { valid: true }, seq: ++seq,
})

describe('TCF strings', () => {
  it('grants a purpose only when every mapped TCF purpose has consent (or LI where TCF v2.2 allows it)', () => {
    const s = decodeTcfSignal(tcString([5, 6, 8, 9, 10], [2, 7, 3, 4]), config)
    expect(s.evidence.valid).toBe(true)
    expect(s.jurisdiction).toBe('EU')
    expect(Object.fromEntries(s.decisions)).toEqual({ analytics: 'granted', personalization: 'granted', advertising: 'denied' }) // LI never counts for 3 and 4
    expect(Object.fromEntries(decodeTcfSignal(tcString([2, 3, 4, 7]), config).decisions)).toMatchObject({ advertising: 'granted', personalization: 'denied' })
  })

  it('treats strings older than TCF v2.2 and garbage as invalid evidence, never as consent, and never throws (fuzzed)', () => {
    expect(decodeTcfSignal(tcString([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [], 2), config).evidence).toMatchObject({ valid: false, error: expect.stringMatching(/policy version/) })
    const good = tcString([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    fc.assert(fc.property(fc.oneof(fc.string(), fc.base64String(), fc.stringMatching(/^[A-Za-z0-9_.-]{0,80}$/),
      fc.integer({ min: 1, max: good.length - 1 }).map((n) => good.slice(0, n)), fc.anything()), (raw) => {
      const s = decodeTcfSignal(raw, config)
      if (!s.evidence.valid) expect(s.decisions.size).toBe(0)
    }), { numRuns: 500 })
  })
})

describe('TCF special features', () => {
  const geo = { context: { location: { latitude: 52.52, longitude: 13.4, city: 'Berlin', country: 'DE' } }, properties: { latitude: 1, longitude: 2, plan: 'pro' } }
  it('decodes the opt-in of each configured feature from TC strings and GPP tcfeuv2 / tcfcav1 sections', () => {
    expect(Object.fromEntries(decodeTcfSignal(encodeTc({ consents: [8, 9, 10], specialFeatures: [1] }), config).features!)).toEqual({ precise_geolocation: 'granted' })
    expect(Object.fromEntries(decodeTcfSignal(encodeTc({ consents: [8, 9, 10], specialFeatures: [2] }), config).features!)).toEqual({ precise_geolocation: 'denied' })
    const eu = new GppModel()
    eu.setFieldValue('tcfeuv2', 'PurposeConsents', Array.from({ length: 24 }, () => true))
    eu.setFieldValue('tcfeuv2', 'SpecialFeatureOptins', [true, false, ...Array.from({ length: 10 }, () => false)])
    eu.setFieldValue('tcfeuv2', 'PolicyVersion', 4)
    eu.setFieldValue('usnat', 'SaleOptOut', 1)
    const signals = decodeGppSignals(eu.encode(), config)
    expect(signals.find((x) => x.jurisdiction === 'EU')!.features!.get('precise_geolocation')).toBe('granted')
    expect(signals.find((x) => x.jurisdiction === 'US')!.features).toBeUndefined() // only TCF sections speak of special features
    const ca = new GppModel()
    ca.setFieldValue('tcfcav1', 'PurposesExpressConsent', Array.from({ length: 24 }, () => true))
    expect(decodeGppSignals(ca.encode(), config)[0]!.features!.get('precise_geolocation')).toBe('denied')
  })

  it('drops exactly the configured fields of a refused feature, whatever the purposes allow', () => {
    const classifier = createClassifier({ fields: {}, default: SAFE_DEFAULT })
    const hash = (v: unknown) => `hmac:${String(v)}`
    const fields = config.tcfSpecialFeatures.precise_geolocation!.fields
    const r = enforceConsent(geo, new Map(), classifier, hash as never, fields)
    expect(r.event).toEqual({ context: { location: { city: 'Berlin', country: 'DE' } }, properties: { plan: 'pro' } })
    expect([...r.dropped].sort()).toEqual(['context.location.latitude', 'context.location.longitude', 'properties.latitude', 'properties.longitude'])
    expect(enforceConsent(geo, new Map(), classifier, hash as never, ['context.location.*']).event).toEqual({ context: { location: {} }, properties: geo.properties })
    expect(enforceConsent(geo, new Map(), classifier, hash as never, []).event).toBe(geo) // nothing refused: the same object
  })

  it('refuses a feature when the latest record on any identifier refuses it; nothing said restricts nothing', () => {
    const f = (id: string, state: 'granted' | 'denied') => rec(id, 'feature:precise_geolocation', state, 'EU')
    const fields = config.tcfSpecialFeatures.precise_geolocation!.fields
    expect(refusedFeatureFields([], ['user_id:a'], config)).toEqual([])
    expect(refusedFeatureFields([f('user_id:a', 'denied'), f('user_id:a', 'granted')], ['user_id:a'], config)).toEqual([])
    expect(refusedFeatureFields([f('user_id:a', 'granted'), f('user_id:a', 'denied')], ['user_id:a'], config)).toEqual(fields)
    // An opt-in on one identifier does not lift another identifier's refusal.
    expect(refusedFeatureFields([f('user_id:a', 'denied'), f('email:a@x', 'granted')], ['user_id:a', 'email:a@x'], config)).toEqual(fields)
    // Records of purposes never count as feature records.
    expect(refusedFeatureFields([rec('user_id:a', 'analytics', 'denied')], ['user_id:a'], config)).toEqual([])
  })
})

describe('GPP strings', () => {
  it('reads US opt-outs and GPC from the US sections', () => {
    const m = new GppModel()
    m.setFieldValue('usnat', 'SaleOptOut', 1)
    m.setFieldValue('usnat', 'TargetedAdvertisingOptOut', 2)
    m.setFieldValue('usca', 'SaleOptOut', 2)
    m.setFieldValue('usca', 'SharingOptOut', 2)
    m.setFieldValue('usco', 'Gpc', true)
    const signals = decodeGppSignals(m.encode(), config)
    const by = Object.fromEntries(signals.map((s) => [s.jurisdiction, Object.fromEntries(s.decisions)]))
    expect(by.US).toEqual({ sale_share: 'denied', advertising: 'granted' })
    expect(by['US-CA']).toEqual({ sale_share: 'granted' })
    expect(by['US-CO']).toEqual({ sale_share: 'denied', advertising: 'denied' })
  })

  it('refuses a TC string passed as GPP, and never throws or grants on garbage (fuzzed)', () => {
    expect(decodeGppSignals(tcString([1, 2, 3]), config)[0]!.evidence.valid).toBe(false)
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string().map((s) => `DB${s}`), fc.stringMatching(/^DB[A-Za-z0-9~._-]{0,60}$/), fc.anything()), (raw) => {
      for (const s of decodeGppSignals(raw, config)) if (!s.evidence.valid) expect(s.decisions.size).toBe(0)
    }), { numRuns: 500 })
  })
})

describe('signals on an event', () => {
  it('reads Segment categories case-insensitively, lets a refusal win, ignores unknown categories, and adds GPC last', () => {
    const signals = signalsOf({ consent: { categoryPreferences: { ANALYTICS: true, statistics: false, Advertising: true, Weird: true } } }, true, config)
    expect(signals.map((s) => s.source)).toEqual(['segment', 'gpc'])
    expect(Object.fromEntries(signals[0]!.decisions)).toEqual({ analytics: 'denied', advertising: 'granted' })
    expect(signals[0]!.evidence.decoded).toMatchObject({ ignored: ['Weird'] })
    expect(Object.fromEntries(signals[1]!.decisions)).toEqual({ sale_share: 'denied', advertising: 'denied' })
    expect(signalsOf({ consent: 'yes' }, false, config)[0]!.evidence.valid).toBe(false)
    expect(signalsOf(undefined, false, config)).toEqual([])
    // A refusal before a grant of the same purpose in another signal is repeated after it (the latest record counts).
    const mixed = signalsOf({ consent: { categoryPreferences: { Advertising: false }, tcf: tcString([2, 3, 4, 7]) } }, false, config)
    expect(mixed.map((s) => `${s.source}:${JSON.stringify(Object.fromEntries(s.decisions))}`)).toEqual([
      'segment:{"advertising":"denied"}', 'tcf:{"analytics":"denied","personalization":"denied","advertising":"granted"}', 'segment:{"advertising":"denied"}'])
  })
})

describe('effective consent', () => {
  it('uses the jurisdiction default: opt-in for consent purposes in the EU, opt-out in the US, LI purposes allowed', () => {
    expect(effectiveConsent([], ['user_id:x'], 'advertising', config, 'DE').state).toBe('denied')
    expect(effectiveConsent([], ['user_id:x'], 'advertising', config, 'US').state).toBe('granted')
    expect(effectiveConsent([], ['user_id:x'], 'analytics', config, 'DE').state).toBe('granted')
    expect(effectiveConsent([], ['user_id:x'], 'advertising', config, null).state).toBe('denied') // unknown: opt-in
    expect(effectiveConsent([rec('user_id:x', 'advertising', 'granted', 'EU')], ['user_id:x'], 'personalization', config, 'US').state).toBe('denied') // recorded jurisdiction wins
  })

  it('spreads an opt-out across merged identifiers but not an opt-in; each side keeps its own after an unmerge', () => {
    const records = [rec('anonymous_id:a', 'advertising', 'denied'), rec('user_id:u', 'advertising', 'granted')]
    expect(effectiveConsent(records, ['anonymous_id:a', 'user_id:u'], 'advertising', config, 'US')).toMatchObject({ state: 'denied', explicit: 'refused' })
    expect(effectiveConsent(records, ['user_id:u'], 'advertising', config, 'US').state).toBe('granted')
    expect(effectiveConsent(records, ['anonymous_id:a'], 'advertising', config, 'US').state).toBe('denied')
    // An opt-in on one identifier does not lift another identifier's opt-in default (EU).
    const eu = [rec('user_id:v', 'personalization', 'granted', 'EU')]
    expect(effectiveConsent(eu, ['user_id:v', 'anonymous_id:new'], 'personalization', config, 'DE').state).toBe('denied')
    expect(effectiveConsent(eu, ['user_id:v'], 'personalization', config, 'DE').state).toBe('granted')
  })

  it('revoking consent never widens what is allowed: not for processing, not for reads (property)', () => {
    const ids = ['user_id:u', 'anonymous_id:a', 'email:e']
    const arbRecord = fc.record({ identifier: fc.constantFrom(...ids), purpose: fc.constantFrom(...PURPOSES), state: fc.constantFrom('granted' as const, 'denied' as const), jurisdiction: fc.constantFrom('EU', 'US', 'UNKNOWN') })
    fc.assert(fc.property(fc.array(arbRecord, { maxLength: 12 }), arbRecord, fc.subarray(ids, { minLength: 1 }), fc.constantFrom('DE', 'US', null),
      (history, revoke, profile, hint) => {
        const before = history.map((r) => rec(r.identifier, r.purpose, r.state, r.jurisdiction))
        const after = [...before, rec(revoke.identifier, revoke.purpose, 'denied', revoke.jurisdiction)]
        const states = (records: StoredConsentRecord[]): Map<string, 'granted' | 'denied'> =>
          new Map(PURPOSES.map((p) => [p, effectiveConsent(records, profile, p, config, hint).state]))
        const b = states(before)
        const a = states(after)
        for (const p of PURPOSES) if (a.get(p) === 'granted') expect(b.get(p)).toBe('granted')
        // Categories removed at ingest only grow.
        const enforcedBefore = categoriesToEnforce(b, config)
        for (const c of enforcedBefore.keys()) expect(categoriesToEnforce(a, config).has(c)).toBe(true)
        // The read consent never goes from refused to something else.
        for (const read of Object.keys(config.readPurposes)) {
          if (readConsent(before, profile, read, config, hint) === 'refused') expect(readConsent(after, profile, read, config, hint)).toBe('refused')
        }
      }), { numRuns: 300 })
  })
})

describe('enforcement at ingest', () => {
  const classifier = createClassifier({ fields: {}, default: SAFE_DEFAULT })
  const hash = (v: unknown): string => `hmac:${String(v).length}`

  it('drops or hashes exactly the attributes whose category no allowed purpose uses, and keeps the rest and the evidence', () => {
    const states = new Map<string, 'granted' | 'denied'>(PURPOSES.map((p) => [p, 'denied']))
    states.set('personalization', 'granted') // uses identifier, contact, demographic, professional, behavioral, location, device
    const enforce = categoriesToEnforce(states, config)
    expect([...enforce.keys()].sort()).toEqual(['financial', 'personal'])
    const event = {
      type: 'identify', userId: 'u1', traits: { email: 'a@b.c', favouriteColour: 'blue', plan: 'pro' },
      properties: { revenue: 10, products: [{ price: 3, product_id: 'x' }] }, context: { consent: { tcf: 'C...' }, ip: '1.2.3.4' },
    }
    const out = enforceConsent(event, enforce, classifier, hash as never)
    expect(out.event).toEqual({
      type: 'identify', userId: 'u1', traits: { email: 'a@b.c', plan: 'pro' }, properties: { products: [{ product_id: 'x' }] },
      context: { consent: { tcf: 'C...' }, ip: '1.2.3.4' },
    })
    expect(out.dropped).toEqual(expect.arrayContaining(['traits.favouriteColour', 'properties.revenue', 'properties.products.price']))
    expect(event.traits.favouriteColour).toBe('blue') // the input is not changed
    const none = enforceConsent(event, categoriesToEnforce(new Map(PURPOSES.map((p) => [p, 'denied' as const])), config), classifier, hash as never)
    expect(none.event.traits).toEqual({ email: 'hmac:5' })
    expect(none.event.userId).toBe('u1')
    const all = enforceConsent(event, categoriesToEnforce(new Map(PURPOSES.map((p) => [p, 'granted' as const])), config), classifier, hash as never)
    expect(all.event).toBe(event)
  })
})
