/**
 * @module The policy enforcement point of the admin API. One {@link AccessScope} per request: it checks the
 * stated purpose, asks the policy engine whether the profile may be seen at all (row level), then decides
 * once per (category, sensitivity) and applies the decision to every field: in clear, masked, or removed.
 * It collects what was decided for the audit entry. Output objects are built with own data properties only,
 * so keys such as `__proto__` or `constructor` are plain (classified, usually as unknown) fields, never a
 * way around the filter.
 */
import type { JsonObject, JsonValue } from '../core/event.js'
import { TesseraError, ValidationError } from '../core/errors.js'
import type { AuditFieldDecision, AuditOutcome } from './audit-entry.js'
import { normalizePath, type Classification, type Classifier } from './classification.js'
import type { Masker } from './masking.js'
import type { AccessDecision, MaskMode, PolicyAction, PolicyEngine } from './policy-engine.js'
import type { Principal } from './principals.js'

export interface PurposeConfig {
  /** The legal basis recorded with every read for this purpose (GDPR Art. 6: consent, contract, ...). */
  readonly legalBasis: string
  readonly description?: string
}

export interface AccessControlOptions {
  readonly engine: PolicyEngine
  readonly classifier: Classifier
  readonly mask: Masker
  readonly purposes: Readonly<Record<string, PurposeConfig>>
  readonly regionOf: (traits: JsonObject) => string
}

/** Paths recorded per category in an audit entry at most. */
const MAX_AUDIT_PATHS = 50

interface CategoryRecord {
  readonly category: string
  readonly decision: 'allow' | 'mask' | 'deny'
  readonly mask?: MaskMode
  readonly paths: Set<string>
}

export interface ProfileTarget {
  readonly id: string
  readonly region: string
  /** The person's consent for what this read's purpose needs, from the consent ledger (Cedar `context.consent`). */
  readonly consent?: string
}

export class AccessControl {
  readonly options: AccessControlOptions

  constructor(options: AccessControlOptions) {
    this.options = options
  }

  /** The scope of one request: the purpose comes from the header or is bound to the token. */
  scope(principal: Principal, purposeHeader: string | undefined): AccessScope {
    const stated = purposeHeader?.trim()
    const known = Object.keys(this.options.purposes)
    if (principal.purpose !== undefined && stated !== undefined && stated !== '' && stated !== principal.purpose) {
      throw new TesseraError('TESSERA_FORBIDDEN', `this token is bound to the purpose ${JSON.stringify(principal.purpose)}; it cannot be used for ${JSON.stringify(stated)}`)
    }
    const purpose = principal.purpose ?? stated
    if (purpose === undefined || purpose === '') {
      throw new ValidationError('.headers.x-tessera-purpose', `state the purpose of this read in the X-Tessera-Purpose header (one of: ${known.join(', ')}) or bind one to the token`)
    }
    const config = Object.hasOwn(this.options.purposes, purpose) ? this.options.purposes[purpose] : undefined
    if (config === undefined) {
      throw new ValidationError('.headers.x-tessera-purpose', `${JSON.stringify(purpose.slice(0, 60))} is not a configured purpose (one of: ${known.join(', ')}; see governance.purposes)`)
    }
    return new AccessScope(this.options, principal, purpose, config.legalBasis)
  }
}

export class AccessScope {
  readonly #o: AccessControlOptions
  readonly principal: Principal
  readonly purpose: string
  readonly legalBasis: string
  readonly #decisions = new Map<string, AccessDecision>()
  readonly #categories = new Map<string, CategoryRecord>()
  readonly #policyIds = new Set<string>()
  readonly #subjects = new Set<string>()
  #masked = 0
  #removed = 0
  #denied = false
  #reason: string | undefined

  constructor(options: AccessControlOptions, principal: Principal, purpose: string, legalBasis: string) {
    this.#o = options
    this.principal = principal
    this.purpose = purpose
    this.legalBasis = legalBasis
  }

  #context(profile?: ProfileTarget): Record<string, string> {
    const base = { purpose: this.purpose, legalBasis: this.legalBasis }
    return profile?.consent === undefined ? base : { ...base, consent: profile.consent }
  }

  #note(decision: AccessDecision): void {
    for (const id of decision.policyIds) this.#policyIds.add(id)
  }

  #deny(message: string, decision: AccessDecision): TesseraError {
    this.#denied = true
    const by = decision.policyIds.length > 0 ? ` (denied by ${decision.policyIds.join(', ')})` : decision.errors.length > 0 ? ` (${decision.errors[0]})` : ' (no policy permits it)'
    this.#reason = `${message}${by}`
    return new TesseraError('TESSERA_FORBIDDEN', `${message} for purpose ${this.purpose}${by}`)
  }

  /** A profile target (its residency region from its traits; its consent for this read's purpose when known). */
  target(id: string, traits: JsonObject, consent?: string): ProfileTarget {
    return consent === undefined ? { id, region: this.#o.regionOf(traits) } : { id, region: this.#o.regionOf(traits), consent }
  }

  /** Row level: may this token see the profile at all? Throws TESSERA_FORBIDDEN if not. */
  requireProfile(profile: ProfileTarget): void {
    this.#subjects.add(profile.id)
    const d = this.#o.engine.authorize(this.principal, 'viewProfile', { type: 'Profile', id: profile.id, region: profile.region }, this.#context(profile))
    this.#note(d)
    if (!d.allow) throw this.#deny(`reading profile ${profile.id} is not allowed`, d)
  }

  /** Same check, as a boolean (for reads that must not reveal that a profile exists). */
  mayViewProfile(profile: ProfileTarget): boolean {
    try {
      this.requireProfile(profile)
      return true
    } catch (error) {
      if (error instanceof TesseraError && error.code === 'TESSERA_FORBIDDEN') return false
      throw error
    }
  }

  /** Non-profile resources: stats, audit, policies. */
  requireSystem(action: Exclude<PolicyAction, 'viewProfile' | 'readField'>, id: 'stats' | 'audit' | 'policies' | 'privacy_requests' | 'workload'): void {
    const d = this.#o.engine.authorize(this.principal, action, { type: 'System', id }, this.#context())
    this.#note(d)
    if (!d.allow) throw this.#deny(`${action} is not allowed`, d)
  }

  fieldDecision(profile: ProfileTarget, c: Classification): AccessDecision {
    const key = `${profile.id}\u0000${profile.region}\u0000${profile.consent ?? ''}\u0000${c.category}\u0000${c.sensitivity}`
    let d = this.#decisions.get(key)
    if (!d) {
      d = this.#o.engine.authorize(this.principal, 'readField', { type: 'Profile', id: profile.id, region: profile.region },
        { ...this.#context(profile), category: c.category, sensitivity: c.sensitivity })
      this.#decisions.set(key, d)
      this.#note(d)
    }
    return d
  }

  classify(path: string): Classification {
    return this.#o.classifier.classify(path)
  }

  /**
   * May the token use values of this field as a search key? Only with clear read access: filtering or looking
   * up by a masked or denied field would reveal its values one guess at a time.
   */
  requireClearField(profile: ProfileTarget, path: string, what: string): void {
    const c = this.classify(path)
    const d = this.fieldDecision(profile, c)
    if (!d.allow || d.mask !== null) {
      throw this.#deny(`${what} needs clear read access to ${c.category} data, which this token ${d.allow ? `sees only masked (${d.mask})` : 'may not read'}`, d)
    }
  }

  #record(path: string, c: Classification, d: AccessDecision): void {
    const decision = !d.allow ? 'deny' : d.mask === null ? 'allow' : 'mask'
    const key = `${c.category}/${decision}/${d.mask ?? ''}`
    let r = this.#categories.get(key)
    if (!r) {
      r = { category: c.category, decision, ...(d.mask === null ? {} : { mask: d.mask }), paths: new Set() }
      this.#categories.set(key, r)
    }
    if (r.paths.size < MAX_AUDIT_PATHS) r.paths.add(normalizePath(path))
    if (decision === 'mask') this.#masked++
    if (decision === 'deny') this.#removed++
  }

  /** One leaf value: in clear, masked, or undefined (removed). */
  leaf(profile: ProfileTarget, path: string, value: JsonValue): JsonValue | undefined {
    const c = this.classify(path)
    const d = this.fieldDecision(profile, c)
    this.#record(path, c, d)
    if (!d.allow) return undefined
    return d.mask === null ? value : this.#o.mask(d.mask, value)
  }

  /** Like {@link leaf}, for fields whose type is fixed by the API schema: a masked value is removed instead. */
  typedLeaf<T extends JsonValue>(profile: ProfileTarget, path: string, value: T): T | undefined {
    const c = this.classify(path)
    const d = this.fieldDecision(profile, c)
    const effective: AccessDecision = d.allow && d.mask !== null ? { ...d, allow: false } : d
    this.#record(path, c, effective)
    return effective.allow ? value : undefined
  }

  /** Filters a JSON tree under a rooted path (`traits`, `properties`, `context`, ...). */
  filter(profile: ProfileTarget, root: string, value: JsonValue): JsonValue | undefined {
    if (Array.isArray(value)) {
      const out = value.map((v) => this.filter(profile, root, v)).filter((v): v is JsonValue => v !== undefined)
      return out.length === 0 && value.length > 0 ? undefined : out
    }
    if (value !== null && typeof value === 'object') {
      const entries: [string, JsonValue][] = []
      for (const key of Object.keys(value)) {
        const v = this.filter(profile, `${root}.${key}`, value[key]!)
        if (v !== undefined) entries.push([key, v])
      }
      if (entries.length === 0 && Object.keys(value).length > 0) return undefined
      return Object.fromEntries(entries) as JsonObject
    }
    return this.leaf(profile, root, value)
  }

  /** Filters a stored event: its traits, properties and context under their own roots, the rest as `event.*`. */
  filterEvent(profile: ProfileTarget, event: JsonObject): JsonObject {
    const entries: [string, JsonValue][] = []
    for (const key of Object.keys(event)) {
      const root = key === 'traits' || key === 'properties' || key === 'context' ? key : `event.${key}`
      const v = this.filter(profile, root, event[key]!)
      if (v !== undefined) entries.push([key, v])
    }
    return Object.fromEntries(entries) as JsonObject
  }

  /** Masks the value part of a `type:value` identifier key (edges, rejections); null when denied. */
  identifierKey(profile: ProfileTarget, key: string): string | null {
    const at = key.indexOf(':')
    const type = at < 0 ? key : key.slice(0, at)
    const v = this.leaf(profile, `identities.${type}`, at < 0 ? '' : key.slice(at + 1))
    return v === undefined ? null : `${type}:${typeof v === 'string' ? v : JSON.stringify(v)}`
  }

  get subjects(): readonly string[] {
    return [...this.#subjects]
  }

  get policyIds(): readonly string[] {
    return [...this.#policyIds].sort()
  }

  get reason(): string | undefined {
    return this.#reason
  }

  get masked(): number {
    return this.#masked
  }

  get removed(): number {
    return this.#removed
  }

  outcome(): AuditOutcome {
    if (this.#denied) return 'deny'
    return this.#masked > 0 || this.#removed > 0 ? 'partial' : 'allow'
  }

  fields(): AuditFieldDecision[] {
    return [...this.#categories.values()]
      .map((r) => ({ category: r.category, decision: r.decision, ...(r.mask === undefined ? {} : { mask: r.mask }), paths: [...r.paths].sort() }))
      .sort((a, b) => (a.category + a.decision < b.category + b.decision ? -1 : 1))
  }
}
