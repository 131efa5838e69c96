/** @module Identifier types compiled from config: priority order, limits and windows, guards, normalisers, blocked values. */
import { DEFAULT_MAX_PROFILE_IDENTIFIERS, parseWindow, type IdentifierTypeConfig } from '../config/identity-types.js'
import { ConfigError } from '../core/errors.js'
import { createNormalizer, type Normalizer } from './normalize.js'
import { CLEAR_IDENTIFIERS, type IdentifierCodec } from './identifier-codec.js'

export interface IdentifierRule {
  readonly name: string
  readonly priority: number
  /** Effective limit: 1 when unique. */
  readonly limit: number
  readonly unique: boolean
  /** Window of `limit` in ms; 0 is ever (always 0 for unique types). */
  readonly windowMs: number
  /** Supernode guard: quarantine a value linking more than `profiles` profiles within `windowMs`; null: never. */
  readonly quarantine: { readonly profiles: number; readonly windowMs: number } | null
  /** Profile size cap enforced when an identifier of this type would add to a profile. */
  readonly maxProfileIdentifiers: number
  readonly normalize: Normalizer
  /** Path segments for each configured path. */
  readonly paths: readonly (readonly string[])[]
  isBlocked(normalizedValue: string): boolean
}

export interface IdentityRules {
  /** Ordered from highest priority (1) to lowest. */
  readonly types: readonly IdentifierRule[]
  /** Global size cap: no merge or attachment may give a profile more identifiers than this, whatever their types. */
  readonly maxProfileSize: number
  /** How values are stored: extraction keys every identifier with it (clear, or pseudonymous HMACs). */
  readonly codec: IdentifierCodec
  byName(name: string): IdentifierRule | undefined
}

/**
 * `maxProfileSize`: identity.maxProfileSize (the global cap beside each type's maxProfileIdentifiers); none when absent.
 * `codec`: the state's identifier scheme (src/app/identifier-scheme.ts picks it); clear when absent.
 */
export function compileIdentityRules(
  types: readonly IdentifierTypeConfig[], defaultPhoneRegion: string, maxProfileSize = Infinity, codec: IdentifierCodec = CLEAR_IDENTIFIERS,
): IdentityRules {
  const compiled = [...types]
    .sort((a, b) => a.priority - b.priority || a.name.localeCompare(b.name))
    .map((t): IdentifierRule => {
      const windowOf = (text: string, field: string): number => {
        const ms = parseWindow(text)
        if (ms === null) throw new ConfigError(`identity type ${t.name}: ${field} ${JSON.stringify(text)} is not a window (use 7d, 12h, 2w or ever)`, field)
        return ms
      }
      const blocked = new Set(t.blocked.map((v) => v.toLowerCase()))
      const patterns = t.blockedPatterns.map((p) => new RegExp(p, 'i'))
      return Object.freeze({
        name: t.name,
        priority: t.priority,
        limit: t.unique ? 1 : t.limit,
        unique: t.unique,
        windowMs: t.unique ? 0 : windowOf(t.window ?? 'ever', 'window'),
        quarantine: t.quarantine ? { profiles: t.quarantine.profiles, windowMs: windowOf(t.quarantine.window, 'quarantine.window') } : null,
        maxProfileIdentifiers: t.maxProfileIdentifiers ?? DEFAULT_MAX_PROFILE_IDENTIFIERS,
        normalize: createNormalizer(t.normalize, defaultPhoneRegion),
        paths: t.paths.map((p) => p.split('.')),
        isBlocked: (value: string) => blocked.has(value.toLowerCase()) || patterns.some((re) => re.test(value)),
      })
    })
  const byName = new Map(compiled.map((r) => [r.name, r]))
  return Object.freeze({ types: compiled, maxProfileSize, codec, byName: (name: string) => byName.get(name) })
}
