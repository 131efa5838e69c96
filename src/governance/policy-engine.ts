/**
 * @module The policy decision point: Cedar (`@cedar-policy/cedar-wasm`). The schema and the policy files
 * (`policies/*.cedar` shipped with Tessera, plus a configurable directory) are parsed, validated against the
 * schema in strict mode and preparsed once per load; every decision is a `statefulIsAuthorized` call on the
 * preparsed set. Deny by default; a forbid always wins; any evaluation error denies. A policy set that fails
 * to load (syntax, schema, duplicate id, bad @mask) is reported with file, line and column and makes every
 * decision a deny until a reload succeeds. Masking: an allow whose determining permits all carry
 * `@mask("partial" | "hash" | "redact")` gives a masked view; the least restrictive of them applies, since
 * each permit alone would have allowed that much.
 */
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import * as cedar from '@cedar-policy/cedar-wasm/nodejs'
import type { CedarValueJson, DetailedError, EntityJson } from '@cedar-policy/cedar-wasm/nodejs'
import type { Clock } from '../core/clock.js'
import { NAMESPACE, principalEntities, tokenUid, type Principal } from './principals.js'

export const MASK_MODES = ['partial', 'hash', 'redact'] as const
export type MaskMode = (typeof MASK_MODES)[number]
const MASK_ORDER: Readonly<Record<MaskMode | 'none', number>> = { none: 0, partial: 1, hash: 2, redact: 3 }

export const ACTIONS = ['viewProfile', 'readField', 'readStats', 'readAudit', 'reloadPolicies', 'unmergeProfile', 'readMatchReview', 'decideMatchReview', 'handlePrivacyRequest',
  'attestPrivacyRequester', 'ingestWorkload', 'recommendWorkload', 'readWorkload'] as const
export type PolicyAction = (typeof ACTIONS)[number]

export type PolicyResource =
  | { readonly type: 'Profile'; readonly id: string; readonly region: string }
  | { readonly type: 'System'; readonly id: 'stats' | 'audit' | 'policies' | 'privacy_requests' | 'workload' }

export interface AccessDecision {
  readonly allow: boolean
  /** For an allow: the masking the determining permits ask for (null = in clear). */
  readonly mask: MaskMode | null
  /** The determining policies: the satisfied permits of an allow, the satisfied forbids of a deny. */
  readonly policyIds: readonly string[]
  readonly errors: readonly string[]
}

export interface PolicyLoadError {
  readonly file: string
  readonly line: number
  readonly column: number
  readonly message: string
}

export interface PolicySetStatus {
  readonly ok: boolean
  /** Increases with every load attempt. */
  readonly version: number
  /** SHA-256 of the schema and every policy file (name and text), in load order. */
  readonly hash: string
  readonly files: readonly string[]
  readonly policyIds: readonly string[]
  readonly loadedAt: number
  readonly errors: readonly PolicyLoadError[]
}

export interface PolicyEngineOptions {
  /** Directories whose `*.cedar` files form the policy set, in this order (files sorted by name in each). */
  readonly dirs: readonly string[]
  readonly schemaFile: string
  readonly clock: Clock
  /** Reuse decisions across requests when that cannot change them (default true; false to measure Cedar itself). */
  readonly decisionCache?: boolean
}

/** The shipped policies and schema (the `policies/` folder of the Tessera package). */
export const SHIPPED_POLICY_DIR = resolve(new URL('../../policies', import.meta.url).pathname)
export const SHIPPED_SCHEMA_FILE = join(SHIPPED_POLICY_DIR, 'tessera.cedarschema')

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)))
  const line = before.split('\n').length
  return { line, column: offset - before.lastIndexOf('\n') }
}

function describeError(e: DetailedError): string {
  const label = e.sourceLocations?.find((l) => l.label)?.label
  return [e.message, label, e.help].filter((x) => x !== null && x !== undefined && x !== '').join(': ')
}

interface LoadedPolicy {
  readonly id: string
  readonly text: string
  readonly file: string
  /** Offset of the policy's text in its file. */
  readonly offset: number
  readonly mask: MaskMode | null
  /** Names a particular profile, so decisions depend on the resource id, not only on its attributes. */
  readonly namesEntities: boolean
}

type LoadResult = { ok: true; policies: LoadedPolicy[]; schema: string; hash: string; files: string[] } | { ok: false; errors: PolicyLoadError[]; hash: string; files: string[] }

function readPolicySources(options: PolicyEngineOptions): { schema: string; files: { path: string; text: string }[]; hash: string; missing: PolicyLoadError[] } {
  const h = createHash('sha256')
  const missing: PolicyLoadError[] = []
  const schema = readFileSync(options.schemaFile, 'utf8')
  h.update(schema)
  const files: { path: string; text: string }[] = []
  for (const dir of options.dirs) {
    if (!existsSync(dir)) {
      missing.push({ file: dir, line: 0, column: 0, message: 'policy directory does not exist (governance.policies.dir)' })
      continue
    }
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.cedar')).sort()) {
      const path = join(dir, name)
      const text = readFileSync(path, 'utf8')
      h.update(`\0${path}\0${text}`)
      files.push({ path, text })
    }
  }
  return { schema, files, hash: h.digest('hex'), missing }
}

function loadPolicies(options: PolicyEngineOptions): LoadResult {
  let sources: ReturnType<typeof readPolicySources>
  try {
    sources = readPolicySources(options)
  } catch (error) {
    return { ok: false, errors: [{ file: options.schemaFile, line: 0, column: 0, message: (error as Error).message }], hash: '', files: [] }
  }
  const { schema, files, hash } = sources
  const fileNames = files.map((f) => f.path)
  const errors: PolicyLoadError[] = [...sources.missing]
  const schemaCheck = cedar.checkParseSchema(schema)
  if (schemaCheck.type === 'failure') {
    for (const e of schemaCheck.errors) {
      const at = lineAndColumn(schema, e.sourceLocations?.[0]?.start ?? 0)
      errors.push({ file: options.schemaFile, ...at, message: describeError(e) })
    }
    return { ok: false, errors, hash, files: fileNames }
  }
  const policies: LoadedPolicy[] = []
  const ids = new Map<string, LoadedPolicy>()
  for (const file of files) {
    const parts = cedar.policySetTextToParts(file.text)
    if (parts.type === 'failure') {
      for (const e of parts.errors) errors.push({ file: file.path, ...lineAndColumn(file.text, e.sourceLocations?.[0]?.start ?? 0), message: describeError(e) })
      continue
    }
    if (parts.policy_templates.length > 0) {
      errors.push({ file: file.path, line: 1, column: 1, message: 'policy templates (?principal / ?resource slots) are not supported; write static policies' })
    }
    let cursor = 0
    parts.policies.forEach((text, i) => {
      const found = file.text.indexOf(text, cursor)
      const offset = found < 0 ? 0 : found
      cursor = found < 0 ? cursor : found + text.length
      const at = lineAndColumn(file.text, offset)
      const json = cedar.policyToJson(text)
      const annotations = json.type === 'success' ? json.json.annotations ?? {} : {}
      const id = annotations.id ?? `${basename(file.path)}#${i + 1}`
      const maskText = annotations.mask
      let mask: MaskMode | null = null
      if (maskText !== undefined && maskText !== 'none') {
        if (!(MASK_MODES as readonly string[]).includes(maskText)) {
          errors.push({ file: file.path, ...at, message: `@mask(${JSON.stringify(maskText)}) must be one of "none", ${MASK_MODES.map((m) => `"${m}"`).join(', ')}` })
        } else mask = maskText as MaskMode
        if (json.type === 'success' && json.json.effect === 'forbid') {
          errors.push({ file: file.path, ...at, message: '@mask on a forbid policy has no effect (a forbid denies); put it on a permit' })
        }
      }
      const previous = ids.get(id)
      if (previous) {
        errors.push({ file: file.path, ...at, message: `policy id ${JSON.stringify(id)} is already used in ${previous.file}:${lineAndColumn(readFileSync(previous.file, 'utf8'), previous.offset).line}` })
        return
      }
      const policy = { id, text, file: file.path, offset, mask, namesEntities: json.type !== 'success' || /"type":"Tessera::Profile","id":/.test(JSON.stringify(json.json)) }
      ids.set(id, policy)
      policies.push(policy)
    })
  }
  if (errors.length > 0) return { ok: false, errors, hash, files: fileNames }
  const validation = cedar.validate({
    schema, validationSettings: { mode: 'strict' },
    policies: { staticPolicies: Object.fromEntries(policies.map((p) => [p.id, p.text])) },
  })
  if (validation.type === 'failure') {
    for (const e of validation.errors) errors.push({ file: options.schemaFile, line: 0, column: 0, message: describeError(e) })
  } else {
    for (const v of validation.validationErrors) {
      const p = ids.get(v.policyId)
      const fileText = p ? (files.find((f) => f.path === p.file)?.text ?? '') : ''
      const at = p ? lineAndColumn(fileText, p.offset + (v.error.sourceLocations?.[0]?.start ?? 0)) : { line: 0, column: 0 }
      errors.push({ file: p?.file ?? '(policy set)', ...at, message: `policy ${v.policyId} does not match the schema: ${describeError(v.error)}` })
    }
  }
  if (errors.length > 0) return { ok: false, errors, hash, files: fileNames }
  return { ok: true, policies, schema, hash, files: fileNames }
}

export function formatLoadError(e: PolicyLoadError): string {
  return e.line > 0 ? `${e.file}:${e.line}:${e.column}: ${e.message}` : `${e.file}: ${e.message}`
}

let engines = 0

export class PolicyEngine {
  readonly #options: PolicyEngineOptions
  readonly #instance = ++engines
  #status: PolicySetStatus
  #masks = new Map<string, MaskMode | null>()
  #setId = ''
  #schemaId = ''
  /** Decisions by request, when no policy names a particular profile (then a profile id cannot change a decision). */
  #cache: Map<string, AccessDecision> | null = null

  constructor(options: PolicyEngineOptions) {
    this.#options = options
    this.#status = { ok: false, version: 0, hash: '', files: [], policyIds: [], loadedAt: 0, errors: [{ file: '(not loaded)', line: 0, column: 0, message: 'policies not loaded yet' }] }
    this.reload()
  }

  get status(): PolicySetStatus {
    return this.#status
  }

  /** Loads the policy files again. On failure every decision denies (fail closed) until a reload succeeds. */
  reload(): PolicySetStatus {
    const version = this.#status.version + 1
    const loaded = loadPolicies(this.#options)
    const base = { version, hash: loaded.hash, files: loaded.files, loadedAt: this.#options.clock.now() }
    if (!loaded.ok) {
      this.#setId = ''
      this.#status = { ...base, ok: false, policyIds: [], errors: loaded.errors }
      return this.#status
    }
    const setId = `tessera-${this.#instance}-${version}`
    const schemaId = `tessera-schema-${this.#instance}-${version}`
    const a = cedar.preparseSchema(schemaId, loaded.schema)
    const b = cedar.preparsePolicySet(setId, { staticPolicies: Object.fromEntries(loaded.policies.map((p) => [p.id, p.text])) })
    const failure = [a, b].find((r) => r.type === 'failure')
    if (failure && failure.type === 'failure') {
      this.#setId = ''
      this.#status = { ...base, ok: false, policyIds: [], errors: failure.errors.map((e) => ({ file: '(policy set)', line: 0, column: 0, message: describeError(e) })) }
      return this.#status
    }
    this.#setId = setId
    this.#schemaId = schemaId
    this.#masks = new Map(loaded.policies.map((p) => [p.id, p.mask]))
    this.#cache = this.#options.decisionCache === false || loaded.policies.some((p) => p.namesEntities) ? null : new Map()
    this.#status = { ...base, ok: true, policyIds: loaded.policies.map((p) => p.id), errors: [] }
    return this.#status
  }

  authorize(principal: Principal, action: PolicyAction, resource: PolicyResource, context: Readonly<Record<string, string>>): AccessDecision {
    if (!this.#status.ok) {
      return { allow: false, mask: null, policyIds: [], errors: [`the policy set failed to load: ${this.#status.errors.map(formatLoadError).join('; ')}`] }
    }
    const cache = this.#cache
    if (cache === null) return this.#decide(principal, action, resource, context)
    // Everything a decision can depend on when no policy names a profile: the principal, its roles and attributes,
    // the action, the resource's type and attributes (a System's id is its identity), and the context.
    const key = JSON.stringify([principal.name, [...principal.roles].sort(), principal.attributes.region ?? null, principal.attributes.team ?? null,
      action, resource.type, resource.type === 'Profile' ? resource.region : resource.id, Object.entries(context).sort(([a], [b]) => (a < b ? -1 : 1))])
    let decision = cache.get(key)
    if (decision === undefined) {
      decision = this.#decide(principal, action, resource, context)
      if (cache.size >= 50_000) cache.clear()
      cache.set(key, decision)
    }
    return decision
  }

  #decide(principal: Principal, action: PolicyAction, resource: PolicyResource, context: Readonly<Record<string, string>>): AccessDecision {
    const resourceUid = { type: `${NAMESPACE}::${resource.type}`, id: resource.id }
    const resourceEntity: EntityJson = resource.type === 'Profile'
      ? { uid: resourceUid, attrs: { region: resource.region }, parents: [] }
      : { uid: resourceUid, attrs: {}, parents: [] }
    const answer = cedar.statefulIsAuthorized({
      principal: tokenUid(principal),
      action: { type: `${NAMESPACE}::Action`, id: action },
      resource: resourceUid,
      context: context as Record<string, CedarValueJson>,
      entities: [...principalEntities(principal), resourceEntity],
      preparsedPolicySetId: this.#setId,
      preparsedSchemaName: this.#schemaId,
      validateRequest: true,
    })
    if (answer.type === 'failure') {
      return { allow: false, mask: null, policyIds: [], errors: answer.errors.map(describeError) }
    }
    const { decision, diagnostics } = answer.response
    const errors = diagnostics.errors.map((e) => `${e.policyId}: ${describeError(e.error)}`)
    // A policy that errors is skipped by Cedar; if it was a forbid, allowing would fail open. Deny instead.
    if (errors.length > 0) return { allow: false, mask: null, policyIds: diagnostics.reason, errors }
    if (decision !== 'allow') return { allow: false, mask: null, policyIds: diagnostics.reason, errors }
    let best: MaskMode | 'none' = 'redact'
    for (const id of diagnostics.reason) {
      const m = this.#masks.get(id) ?? 'none'
      if (MASK_ORDER[m] < MASK_ORDER[best]) best = m
    }
    return { allow: true, mask: best === 'none' ? null : best, policyIds: diagnostics.reason, errors }
  }
}
