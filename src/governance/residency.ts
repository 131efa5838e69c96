/**
 * @module A profile's residency region, for row-level rules: the first of the configured trait paths
 * (default `traits.region`, `traits.address.country`, `traits.country`) that holds a string. A country code
 * (ISO 3166 alpha-2) becomes its configured region (EU/EEA countries → `EU`) or stays the country code;
 * any other text is taken as a region name. Upper case; `UNKNOWN` when no trait says, which matches no
 * region-bound token.
 */
import type { JsonObject, JsonValue } from '../core/event.js'

export interface ResidencyConfig {
  /** Trait paths to look at, in order, e.g. `traits.address.country`. */
  readonly paths: readonly string[]
  /** Region → country codes (ISO 3166 alpha-2). */
  readonly regions: Readonly<Record<string, readonly string[]>>
}

export const UNKNOWN_REGION = 'UNKNOWN'

/** EU member states plus the EEA (Iceland, Liechtenstein, Norway): where the GDPR applies. */
export const EU_EEA = ['AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE', 'IT', 'LV', 'LT', 'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE', 'IS', 'LI', 'NO'] as const

export const DEFAULT_RESIDENCY: ResidencyConfig = {
  paths: ['traits.region', 'traits.address.country', 'traits.country'],
  regions: { EU: EU_EEA, UK: ['GB'] },
}

function at(traits: JsonObject, path: readonly string[]): JsonValue | undefined {
  let v: JsonValue | undefined = traits
  for (const key of path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, key)) return undefined
    v = v[key]
  }
  return v
}

export function createResidency(config: ResidencyConfig): (traits: JsonObject) => string {
  const byCountry = new Map<string, string>()
  for (const [region, countries] of Object.entries(config.regions)) for (const c of countries) byCountry.set(c.toUpperCase(), region.toUpperCase())
  const paths = config.paths.map((p) => p.replace(/^traits\./, '').split('.'))
  return (traits) => {
    for (const path of paths) {
      const v = at(traits, path)
      if (typeof v !== 'string' || v.trim() === '') continue
      const text = v.normalize('NFKC').trim().toUpperCase()
      return byCountry.get(text) ?? text
    }
    return UNKNOWN_REGION
  }
}
