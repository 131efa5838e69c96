/**
 * @module JSON views of profiles for the admin API (ISO times, identities grouped), and their schemas.
 * Every view goes through an access scope: fields are shown in clear, masked or left out as the policies
 * decide for the token and purpose of the request.
 */
import type { JsonObject } from '../core/event.js'
import type { AccessScope, ProfileTarget } from '../governance/access-control.js'
import type { IdentifierNode } from '../identity/identity-store.js'
import type { ProfileRecord } from '../profiles/profile-store.js'

export function iso(ms: number): string {
  return new Date(ms).toISOString()
}

/** The identities a token may see, each value in clear or masked; identities it may not read are left out. */
export function identitiesView(scope: AccessScope, target: ProfileTarget, identities: readonly IdentifierNode[]): JsonObject[] {
  const out: JsonObject[] = []
  for (const i of identities) {
    const value = scope.leaf(target, `identities.${i.type}`, i.value)
    if (value === undefined) continue
    const firstSeen = scope.typedLeaf(target, 'profile.firstSeen', iso(i.firstSeen))
    out.push({ type: i.type, value, ...(firstSeen === undefined ? {} : { firstSeen }) })
  }
  return out
}

export function profileView(scope: AccessScope, target: ProfileTarget, profile: ProfileRecord, identities: readonly IdentifierNode[]): Record<string, unknown> {
  const meta: [string, string | number | JsonObject][] = [
    ['createdAt', iso(profile.createdAt)], ['firstSeen', iso(profile.firstSeen)], ['lastSeen', iso(profile.lastSeen)],
    ['eventCount', profile.eventCount], ['sourceCounts', profile.sourceCounts], ['eventCounts', profile.eventCounts],
    ['updatedAt', iso(profile.updatedAt)],
  ]
  const view: Record<string, unknown> = { id: profile.id, status: 'active' }
  const traits = scope.filter(target, 'traits', profile.traits)
  view.traits = traits ?? {}
  view.identities = identitiesView(scope, target, identities)
  for (const [key, value] of meta) {
    if (typeof value === 'object') {
      // Counts keep their integer type: a masked count is left out rather than turned into text.
      const kept = Object.keys(value).flatMap((k) => {
        const v = scope.typedLeaf(target, `profile.${key}.${k}`, value[k]!)
        return v === undefined ? [] : [[k, v] as const]
      })
      if (kept.length > 0 || Object.keys(value).length === 0) view[key] = Object.fromEntries(kept)
    } else {
      const v = scope.typedLeaf(target, `profile.${key}`, value)
      if (v !== undefined) view[key] = v
    }
  }
  return view
}

const counts = { type: 'object', additionalProperties: { type: 'integer' } } as const

export const profileSchema = {
  type: 'object',
  description: 'A unified profile (`status: active`), or a pointer to the profile it was merged into (`status: merged`, with `mergedInto` and `href`). ' +
    'Fields are shown in clear, masked or left out as the access policies decide for the token and the stated purpose (see docs/privacy.md).',
  properties: {
    id: { type: 'string' },
    status: { type: 'string', enum: ['active', 'merged'] },
    mergedInto: { type: 'string' },
    href: { type: 'string' },
    traits: { type: 'object', additionalProperties: true },
    identities: {
      type: 'array',
      items: { type: 'object', properties: { type: { type: 'string' }, value: { type: 'string' }, firstSeen: { type: 'string', format: 'date-time' } } },
    },
    createdAt: { type: 'string', format: 'date-time' },
    firstSeen: { type: 'string', format: 'date-time' },
    lastSeen: { type: 'string', format: 'date-time' },
    eventCount: { type: 'integer' },
    sourceCounts: counts,
    eventCounts: counts,
    updatedAt: { type: 'string', format: 'date-time' },
  },
} as const
