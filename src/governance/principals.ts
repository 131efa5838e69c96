/**
 * @module Principals of the admin API: a token's name, roles, attributes (region, team) and optional bound
 * purpose, from `adminTokens` in the config. Turned into Cedar entities as JSON objects (never by splicing
 * text into policies), so no token name, role or profile id can inject policy syntax.
 */
import type { EntityJson } from '@cedar-policy/cedar-wasm/nodejs'

export interface PrincipalAttributes {
  readonly region?: string
  readonly team?: string
}

export interface Principal {
  /** The token's configured name (the secret itself never leaves admin-auth.ts). */
  readonly name: string
  readonly roles: readonly string[]
  readonly attributes: PrincipalAttributes
  /** When set, every request of this token is for this purpose (a different X-Tessera-Purpose is refused). */
  readonly purpose?: string
}

/** The built-in roles, each with a shipped policy file in policies/. */
export const DEFAULT_ROLES = ['admin', 'analyst', 'marketer', 'support', 'privacy_officer', 'data_engineer'] as const

export const NAMESPACE = 'Tessera'

export function tokenUid(p: Principal): { type: string; id: string } {
  return { type: `${NAMESPACE}::Token`, id: p.name }
}

export function principalEntities(p: Principal): EntityJson[] {
  const attrs: Record<string, string> = {}
  if (p.attributes.region !== undefined) attrs.region = p.attributes.region
  if (p.attributes.team !== undefined) attrs.team = p.attributes.team
  const roles = [...new Set(p.roles)].map((r) => ({ type: `${NAMESPACE}::Role`, id: r }))
  return [
    { uid: tokenUid(p), attrs, parents: roles },
    ...roles.map((uid) => ({ uid, attrs: {}, parents: [] })),
  ]
}
