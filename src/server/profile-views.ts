/** @module JSON views of profiles for the admin API (ISO times, identities grouped), and their schemas. */
import type { IdentifierNode } from '../identity/identity-store.js'
import type { ProfileRecord } from '../profiles/profile-store.js'

export function iso(ms: number): string {
  return new Date(ms).toISOString()
}

export function profileView(profile: ProfileRecord, identities: readonly IdentifierNode[]): Record<string, unknown> {
  return {
    id: profile.id,
    status: 'active',
    traits: profile.traits,
    identities: identities.map((i) => ({ type: i.type, value: i.value, firstSeen: iso(i.firstSeen) })),
    createdAt: iso(profile.createdAt),
    firstSeen: iso(profile.firstSeen),
    lastSeen: iso(profile.lastSeen),
    eventCount: profile.eventCount,
    sourceCounts: profile.sourceCounts,
    eventCounts: profile.eventCounts,
    updatedAt: iso(profile.updatedAt),
  }
}

const counts = { type: 'object', additionalProperties: { type: 'integer' } } as const

export const profileSchema = {
  type: 'object',
  description: 'A unified profile (`status: active`), or a pointer to the profile it was merged into (`status: merged`, with `mergedInto` and `href`).',
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

