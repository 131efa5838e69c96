import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { JsonObject } from '../core/event.js'
import { AccessControl } from './access-control.js'
import { SAFE_DEFAULT, createClassifier } from './classification.js'
import { createMasker } from './masking.js'
import { PolicyEngine, SHIPPED_POLICY_DIR, SHIPPED_SCHEMA_FILE } from './policy-engine.js'
import { createResidency, DEFAULT_RESIDENCY } from './residency.js'

const access = new AccessControl({
  engine: new PolicyEngine({ dirs: [SHIPPED_POLICY_DIR], schemaFile: SHIPPED_SCHEMA_FILE, clock: { now: () => 1 } }),
  classifier: createClassifier({ fields: {}, default: SAFE_DEFAULT }),
  mask: createMasker(randomBytes(32)),
  purposes: { analytics: { legalBasis: 'legitimate_interest' }, support: { legalBasis: 'contract' } },
  regionOf: createResidency(DEFAULT_RESIDENCY),
})
const analyst = { name: 'a', roles: ['analyst'], attributes: {} }

describe('AccessScope', () => {
  it('treats __proto__ and constructor keys as plain unclassified fields, building only own properties', () => {
    const traits = JSON.parse('{"plan":"pro","__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}') as JsonObject
    const support = access.scope({ name: 's', roles: ['support'], attributes: {} }, 'support')
    const target = support.target('p1', traits)
    const out = support.filter(target, 'traits', traits) as JsonObject
    expect(Object.keys(out)).toEqual(['plan', '__proto__', 'constructor'])
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype)
    expect(out.__proto__).toEqual({ polluted: '[redacted]' })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    const scope = access.scope(analyst, 'analytics')
    expect(Object.keys(scope.filter(target, 'traits', traits) as JsonObject)).toEqual(['plan'])
  })

  it('drops containers emptied by the filter and records what it decided for the audit entry', () => {
    const scope = access.scope(analyst, 'analytics')
    const target = scope.target('p1', {})
    const out = scope.filterEvent(target, { properties: { secret: { deep: 'x' } }, context: { ip: '1.2.3.4' }, type: 'track' })
    expect(out).toEqual({ context: { ip: expect.stringMatching(/^hmac:/) }, type: 'track' })
    expect(scope.outcome()).toBe('partial')
    expect(scope.fields()).toEqual(expect.arrayContaining([
      { category: 'personal', decision: 'deny', paths: ['properties.secret.deep'] },
      { category: 'location', decision: 'mask', mask: 'hash', paths: ['context.ip'] },
    ]))
  })

  it('refuses a missing, unknown or inherited purpose name', () => {
    expect(() => access.scope(analyst, undefined)).toThrow(/X-Tessera-Purpose/)
    expect(() => access.scope(analyst, 'constructor')).toThrow(/not a configured purpose/)
    expect(() => access.scope(analyst, '__proto__')).toThrow(/not a configured purpose/)
  })
})
