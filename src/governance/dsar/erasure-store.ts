/**
 * @module ErasureStore port: removes one person from the state store in one transaction: the profile and every
 * profile merged into it, their identifiers, links, merges, rejections, timeline, sessions, and the rows of the
 * identity guards, unmerge log and matching tables that name them. Adapters:
 * `src/storage/{sqlite,postgres}/privacy-erasure.ts`.
 */

export interface ErasureResult {
  /** The identifier keys (`type:value`) the person had: the caller suppresses them. */
  readonly identifierKeys: readonly string[]
  readonly profileIds: readonly string[]
  /** Rows deleted per table. */
  readonly deleted: Readonly<Record<string, number>>
}

export interface ErasureStore {
  /**
   * Erases the profile `profileId` (canonical) and everything merged into it. `values`: the person's identifier values
   * in clear (the keys of their sessions), beside the stored values of their identifiers (which are pseudonyms in a
   * pseudonymous state).
   */
  erase(profileId: string, values?: readonly string[]): Promise<ErasureResult>
  close(): Promise<void>
}

/**
 * Tables and the condition a row is erased on: `M` is the set of profile ids, `K` the identifier keys, `V` the raw
 * identifier values (session keys: the stored values and the clear ones the caller gives). Optional tables are skipped when absent (older schema).
 */
export const ERASURE_TABLES: readonly { readonly table: string; readonly where: string; readonly optional?: boolean }[] = [
  // First, while the rejections still say which refused keys were the person's.
  { table: 'identifier_values', where: 'key IN K OR key IN (SELECT key FROM identity_rejections WHERE profile_id IN M)', optional: true },
  { table: 'identity_edges', where: 'from_key IN K OR to_key IN K' },
  { table: 'profile_merges', where: 'winner IN M OR loser IN M' },
  { table: 'identity_rejections', where: 'profile_id IN M OR key IN K' },
  { table: 'profile_events', where: 'profile_id IN M' },
  { table: 'sessions', where: 'key IN V' },
  { table: 'identity_contacts', where: 'key IN K OR profile_id IN M', optional: true },
  { table: 'identity_quarantine', where: 'key IN K', optional: true },
  { table: 'identity_splits', where: 'a IN K OR b IN K', optional: true },
  { table: 'identity_unmerges', where: 'profile_id IN M', optional: true },
  { table: 'identity_match_records', where: 'profile_id IN M', optional: true },
  { table: 'identity_match_keys', where: 'profile_id IN M', optional: true },
  { table: 'identity_review', where: 'profile_a IN M OR profile_b IN M', optional: true },
  { table: 'identity_do_not_link', where: 'a IN M OR b IN M OR a IN K OR b IN K', optional: true },
  { table: 'profile_routes', where: 'profile_id IN M', optional: true },
  { table: 'profile_trimmed', where: 'profile_id IN M', optional: true },
  { table: 'profile_outbox', where: 'key IN M', optional: true },
  { table: 'identifiers', where: 'profile_id IN M' },
  { table: 'profiles', where: 'id IN M' },
]
