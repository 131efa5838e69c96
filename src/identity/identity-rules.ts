/** @module Identifier types compiled from config: priority order, limits, normalisers, blocked values. */
import type { IdentifierTypeConfig } from '../config/identity-types.js'
import { createNormalizer, type Normalizer } from './normalize.js'

export interface IdentifierRule {
  readonly name: string
  readonly priority: number
  /** Effective limit: 1 when unique. */
  readonly limit: number
  readonly unique: boolean
  readonly normalize: Normalizer
  /** Path segments for each configured path. */
  readonly paths: readonly (readonly string[])[]
  isBlocked(normalizedValue: string): boolean
}

export interface IdentityRules {
  /** Ordered from highest priority (1) to lowest. */
  readonly types: readonly IdentifierRule[]
  byName(name: string): IdentifierRule | undefined
}

export function compileIdentityRules(types: readonly IdentifierTypeConfig[], defaultPhoneRegion: string): IdentityRules {
  const compiled = [...types]
    .sort((a, b) => a.priority - b.priority || a.name.localeCompare(b.name))
    .map((t): IdentifierRule => {
      const blocked = new Set(t.blocked.map((v) => v.toLowerCase()))
      const patterns = t.blockedPatterns.map((p) => new RegExp(p, 'i'))
      return Object.freeze({
        name: t.name,
        priority: t.priority,
        limit: t.unique ? 1 : t.limit,
        unique: t.unique,
        normalize: createNormalizer(t.normalize, defaultPhoneRegion),
        paths: t.paths.map((p) => p.split('.')),
        isBlocked: (value: string) => blocked.has(value.toLowerCase()) || patterns.some((re) => re.test(value)),
      })
    })
  const byName = new Map(compiled.map((r) => [r.name, r]))
  return Object.freeze({ types: compiled, byName: (name: string) => byName.get(name) })
}
