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
