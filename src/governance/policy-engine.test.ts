import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir } from '../../test/support/factories.js'
import { DATA_CATEGORIES, SENSITIVITIES } from './classification.js'
import { PolicyEngine, SHIPPED_POLICY_DIR, SHIPPED_SCHEMA_FILE, formatLoadError } from './policy-engine.js'
import type { Principal } from './principals.js'

const clock = { now: () => 1 }
const shipped = new PolicyEngine({ dirs: [SHIPPED_POLICY_DIR], schemaFile: SHIPPED_SCHEMA_FILE, clock })
const token = (roles: string[], attributes: Principal['attributes'] = {}): Principal => ({ name: `t-${roles.join('-')}`, roles, attributes })
const profile = (region = 'EU') => ({ type: 'Profile' as const, id: 'p1', region })
const field = (purpose: string, category: string, sensitivity = 'confidential') => ({ purpose, legalBasis: 'legitimate_interest', category, sensitivity })
const dirs: { cleanup: () => void }[] = []
afterAll(() => dirs.forEach((d) => d.cleanup()))

function customEngine(extra: Record<string, string>): { engine: PolicyEngine; dir: string } {
  const t = tempDir()
  dirs.push(t)
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(t.dir, name), text)
  return { engine: new PolicyEngine({ dirs: [SHIPPED_POLICY_DIR, t.dir], schemaFile: SHIPPED_SCHEMA_FILE, clock }), dir: t.dir }
}

describe('PolicyEngine with the shipped policies', () => {
  it('loads and validates the shipped policy set', () => {
    expect(shipped.status.errors.map(formatLoadError)).toEqual([])
    expect(shipped.status.ok).toBe(true)
    expect(shipped.status.policyIds).toContain('admin-full-access')
    expect(shipped.status.policyIds).toContain('region-bound-tokens')
  })

  it('denies by default: no role, an unknown role, an unknown purpose', () => {
    expect(shipped.authorize(token([]), 'readField', profile(), field('analytics', 'behavioral', 'internal')).allow).toBe(false)
    expect(shipped.authorize(token(['intern']), 'viewProfile', profile(), { purpose: 'analytics', legalBasis: 'x' }).allow).toBe(false)
    expect(shipped.authorize(token(['analyst']), 'viewProfile', profile(), { purpose: 'curiosity', legalBasis: 'x' }).allow).toBe(false)
  })

  it('picks the masking of the deciding policy', () => {
    const analyst = token(['analyst'])
    expect(shipped.authorize(analyst, 'readField', profile(), field('analytics', 'behavioral', 'internal'))).toMatchObject({ allow: true, mask: null, policyIds: ['analyst-clear-fields'] })
    expect(shipped.authorize(analyst, 'readField', profile(), field('analytics', 'contact'))).toMatchObject({ allow: true, mask: 'hash', policyIds: ['analyst-pseudonymous-ids'] })
    expect(shipped.authorize(analyst, 'readField', profile(), field('analytics', 'demographic'))).toMatchObject({ allow: true, mask: 'redact' })
    expect(shipped.authorize(token(['marketer']), 'readField', profile(), field('marketing', 'contact'))).toMatchObject({ allow: true, mask: 'partial' })
    expect(shipped.authorize(analyst, 'readField', profile(), field('analytics', 'personal')).allow).toBe(false)
  })

  it('lets the least restrictive of several determining permits decide the masking', () => {
    const both = token(['analyst', 'support'])
    // analyst hashes contact for analytics, support sees it in clear for support: the purpose picks the permit.
    expect(shipped.authorize(both, 'readField', profile(), field('analytics', 'contact')).mask).toBe('hash')
    expect(shipped.authorize(both, 'readField', profile(), field('support', 'contact')).mask).toBeNull()
  })

  it('keeps a token with a region to profiles of that region (row level)', () => {
    const eu = token(['analyst'], { region: 'EU' })
    const ctx = { purpose: 'analytics', legalBasis: 'legitimate_interest' }
    expect(shipped.authorize(eu, 'viewProfile', profile('EU'), ctx).allow).toBe(true)
    expect(shipped.authorize(eu, 'viewProfile', profile('US'), ctx)).toMatchObject({ allow: false, policyIds: ['region-bound-tokens'] })
    expect(shipped.authorize(eu, 'viewProfile', profile('UNKNOWN'), ctx).allow).toBe(false)
    expect(shipped.authorize(token(['admin'], { region: 'US' }), 'readField', profile('EU'), field('administration', 'contact')).allow).toBe(false)
  })

  it('keeps restricted data for privacy officers handling a privacy request', () => {
    expect(shipped.authorize(token(['admin']), 'readField', profile(), field('administration', 'health', 'restricted')).allow).toBe(false)
    expect(shipped.authorize(token(['privacy_officer']), 'readField', profile(), field('privacy_request', 'health', 'restricted')).allow).toBe(true)
    expect(shipped.authorize(token(['privacy_officer']), 'readField', profile(), field('audit', 'health', 'restricted')).allow).toBe(false)
  })

  it('treats injected ids as plain data', () => {
    const evil = { name: 'x" || true || "', roles: ['analyst'], attributes: {} }
    expect(shipped.authorize(evil, 'readField', { type: 'Profile', id: '") || true; //', region: 'EU' }, field('analytics', 'personal')).allow).toBe(false)
    expect(shipped.authorize(token(['analyst']), 'readField', profile(), field('analytics" || true || "', 'behavioral')).allow).toBe(false)
  })
})

describe('PolicyEngine properties', () => {
  const roles = ['admin', 'analyst', 'marketer', 'support', 'privacy_officer', 'nobody']
  const purposes = ['administration', 'analytics', 'marketing', 'support', 'privacy_request', 'audit', 'unknown']
  const request = fc.record({
    roles: fc.subarray(roles),
    region: fc.option(fc.constantFrom('EU', 'US'), { nil: undefined }),
    profileRegion: fc.constantFrom('EU', 'US', 'UNKNOWN'),
    purpose: fc.constantFrom(...purposes),
    category: fc.constantFrom(...DATA_CATEGORIES),
    sensitivity: fc.constantFrom(...SENSITIVITIES),
  })
  const { engine: forbidding } = customEngine({
    'zz-forbid.cedar': '@id("test-forbid-all-for-marker")\nforbid (principal, action, resource) when { context has category && context.category == "behavioral" };\n',
  })

  it('never allows what no permit allows, and a satisfied forbid always denies', () => {
    const { engine: empty } = { engine: new PolicyEngine({ dirs: [tempDir().dir], schemaFile: SHIPPED_SCHEMA_FILE, clock }) }
    expect(empty.status.ok).toBe(true)
    fc.assert(fc.property(request, (r) => {
      const p = token(r.roles, r.region === undefined ? {} : { region: r.region })
      const res = profile(r.profileRegion)
      const ctx = field(r.purpose, r.category, r.sensitivity)
      expect(empty.authorize(p, 'readField', res, ctx).allow).toBe(false)
      const withForbid = forbidding.authorize(p, 'readField', res, ctx)
      if (r.category === 'behavioral') expect(withForbid).toMatchObject({ allow: false, policyIds: expect.arrayContaining(['test-forbid-all-for-marker']) })
      // Adding a forbid never widens access.
      if (withForbid.allow) expect(shipped.authorize(p, 'readField', res, ctx).allow).toBe(true)
      // The region guardrail holds for every role and purpose.
      if (r.region !== undefined && r.region !== r.profileRegion) expect(shipped.authorize(p, 'readField', res, ctx).allow).toBe(false)
      if (r.sensitivity === 'restricted' && !(r.roles.includes('privacy_officer') && r.purpose === 'privacy_request')) {
        expect(shipped.authorize(p, 'readField', res, ctx).allow).toBe(false)
      }
    }), { numRuns: 400 })
  })
})

describe('PolicyEngine loading', () => {
  it('fails closed on a syntax error, naming file and line, and recovers on reload', () => {
    const { engine, dir } = customEngine({ 'broken.cedar': '// a comment\n@id("x")\npermit (principal, action, resource)\nwhen { context.purpose == };\n' })
    expect(engine.status.ok).toBe(false)
    expect(formatLoadError(engine.status.errors[0]!)).toMatch(/broken\.cedar:4:\d+: unexpected token/)
    const d = engine.authorize(token(['admin']), 'viewProfile', profile(), { purpose: 'administration', legalBasis: 'x' })
    expect(d.allow).toBe(false)
    expect(d.errors[0]).toMatch(/failed to load/)
    writeFileSync(join(dir, 'broken.cedar'), '@id("x")\npermit (principal in Tessera::Role::"x", action, resource);\n')
    expect(engine.reload().ok).toBe(true)
    expect(engine.authorize(token(['admin']), 'viewProfile', profile(), { purpose: 'administration', legalBasis: 'x' }).allow).toBe(true)
  })

  it('rejects a policy that does not match the schema, a duplicate id and an unknown mask', () => {
    const schema = customEngine({ 'a.cedar': '\n\n@id("typo")\npermit (principal, action, resource) when { context.purpos == "x" };\n' }).engine
    expect(schema.status.ok).toBe(false)
    expect(formatLoadError(schema.status.errors[0]!)).toMatch(/a\.cedar:4:\d+: policy typo does not match the schema/)
    const dup = customEngine({ 'b.cedar': '@id("admin-full-access")\npermit (principal, action, resource);\n' }).engine
    expect(dup.status.errors.map(formatLoadError).join()).toMatch(/already used in .*admin\.cedar:3/)
    const mask = customEngine({ 'c.cedar': '@id("m") @mask("blur")\npermit (principal, action, resource);\n' }).engine
    expect(mask.status.errors.map(formatLoadError).join()).toMatch(/c\.cedar:1:1: @mask\("blur"\) must be one of/)
  })

  it('decides per profile id when a policy names a profile (no decision reuse across ids then)', () => {
    const { engine } = customEngine({ 'vip.cedar': '@id("vip")\nforbid (principal, action, resource == Tessera::Profile::"vip");\n' })
    const ctx = { purpose: 'administration', legalBasis: 'x' }
    expect(engine.authorize(token(['admin']), 'viewProfile', { type: 'Profile', id: 'someone', region: 'EU' }, ctx).allow).toBe(true)
    expect(engine.authorize(token(['admin']), 'viewProfile', { type: 'Profile', id: 'vip', region: 'EU' }, ctx)).toMatchObject({ allow: false, policyIds: ['vip'] })
    expect(engine.authorize(token(['admin']), 'viewProfile', { type: 'Profile', id: 'someone', region: 'EU' }, ctx).allow).toBe(true)
  })

  it('ships one policy file per default role, plus the guardrails', () => {
    expect(readdirSync(SHIPPED_POLICY_DIR).sort()).toEqual(['00-guardrails.cedar', 'admin.cedar', 'analyst.cedar', 'data-engineer.cedar', 'marketer.cedar', 'privacy-officer.cedar', 'support.cedar', 'tessera.cedarschema'])
  })
})
