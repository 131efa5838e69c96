/**
 * @module Enforcement at ingest: an attribute is kept when at least one purpose that uses its data category is
 * allowed for the event's identifiers; otherwise it is dropped, or replaced by a keyed hash (HMAC) when its
 * category is configured so (identifiers and contact data by default, so they can still be counted and joined
 * but not read). Categories no consent purpose uses are not governed by consent (they rest on another legal
 * basis) and are kept. Applies to the attributes under `traits`, `properties` and `context` (except the consent
 * signals in `context.consent`, which are the evidence); the event's own identifiers (`userId`,
 * `anonymousId`), type, name and times are never changed. Objects are copied only where something changes.
 */
import type { JsonValue } from '../../core/event.js'
import type { DataCategory } from '../classification.js'
import type { Classifier } from '../classification.js'
import type { ConsentConfig, EnforcementAction } from './consent-config.js'
import { matchesFieldPattern } from './special-features.js'

export const GOVERNED_ROOTS = ['traits', 'properties', 'context'] as const

/** The categories whose attributes must go, and how, given the state of every purpose. */
export function categoriesToEnforce(states: ReadonlyMap<string, 'granted' | 'denied'>, config: Pick<ConsentConfig, 'purposes' | 'enforcement'>): Map<DataCategory, EnforcementAction> {
  const governed = new Set<DataCategory>()
  const allowed = new Set<DataCategory>()
  for (const [name, p] of Object.entries(config.purposes)) {
    for (const c of p.categories) {
      governed.add(c)
      if (states.get(name) === 'granted') allowed.add(c)
    }
  }
  const out = new Map<DataCategory, EnforcementAction>()
  for (const c of governed) {
    if (!allowed.has(c)) out.set(c, config.enforcement.categories[c] ?? config.enforcement.defaultAction)
  }
  return out
}

export interface EnforcementResult<T> {
  readonly event: T
  readonly dropped: readonly string[]
  readonly hashed: readonly string[]
}

/**
 * Applies `enforce` (category → action) to an event, and drops the attributes under `dropFields` (paths or
 * `prefix.*`: the fields of refused TCF special features). Returns the same object when nothing changes.
 * `hash` is the keyed hash of a leaf value.
 */
export function enforceConsent<T extends Readonly<Record<string, unknown>>>(
  event: T, enforce: ReadonlyMap<DataCategory, EnforcementAction>, classifier: Classifier, hash: (value: JsonValue) => JsonValue,
  dropFields: readonly string[] = [],
): EnforcementResult<T> {
  if (enforce.size === 0 && dropFields.length === 0) return { event, dropped: [], hashed: [] }
  const dropped: string[] = []
  const hashed: string[] = []
  const walk = (value: unknown, path: string): { keep: boolean; value: unknown } => {
    if (path === 'context.consent') return { keep: true, value }
    if (dropFields.length > 0 && matchesFieldPattern(path, dropFields)) {
      if (dropped.length < 100) dropped.push(path)
      return { keep: false, value }
    }
    if (Array.isArray(value)) {
      let changed = false
      const out: unknown[] = []
      for (const item of value) {
        const r = walk(item, path)
        if (r.keep) out.push(r.value)
        if (!r.keep || r.value !== item) changed = true
      }
      return { keep: true, value: changed ? out : value }
    }
    if (typeof value === 'object' && value !== null) {
      const obj = value as Readonly<Record<string, unknown>>
      let copy: Record<string, unknown> | undefined
      for (const key of Object.keys(obj)) {
        const r = walk(obj[key], `${path}.${key}`)
        if (r.keep && r.value === obj[key]) continue
        copy ??= Object.assign({}, obj)
        if (r.keep) copy[key] = r.value
        else delete copy[key]
      }
      return { keep: true, value: copy ?? value }
    }
    const action = enforce.get(classifier.classify(path).category)
    if (action === undefined || value === null || value === undefined) return { keep: true, value }
    if (action === 'drop') {
      if (dropped.length < 100) dropped.push(path)
      return { keep: false, value }
    }
    if (hashed.length < 100) hashed.push(path)
    return { keep: true, value: hash(value as JsonValue) }
  }
  let out: Record<string, unknown> | undefined
  for (const root of GOVERNED_ROOTS) {
    if (!Object.hasOwn(event, root)) continue
    const before = event[root]
    if (typeof before !== 'object' || before === null) continue
    const r = walk(before, root)
    if (r.value !== before) {
      out ??= Object.assign({}, event)
      out[root] = r.value
    }
  }
  return { event: (out ?? event) as T, dropped, hashed }
}
