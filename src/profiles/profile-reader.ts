/** @module ProfileReader port: the read side behind the admin API. */
import type { JsonObject } from '../core/event.js'
import type { IdentityEdge, IdentifierNode, MergeRecord, RejectedIdentifier } from '../identity/identity-store.js'
import type { ProfileRecord } from './profile-store.js'

export interface TimelineEntry {
  readonly messageId: string
  readonly sourceId: string
  readonly type: string
  readonly name: string | null
  readonly timestamp: number
  readonly event: JsonObject
  /**
   * Stored form only: the sealed payload, when the row holds one (then `event` is empty until the sealing decorator,
   * src/profiles/sealed-profiles.ts, opens it).
   */
  readonly sealed?: string
}

/** A row of {@link ProfileReader.profileTraits}; `sealedTraits` as in ProfileRecord (stored form only). */
export interface ProfileTraitsRow {
  readonly id: string
  readonly traits: JsonObject
  readonly sealedTraits?: string
}

/** Position in a timeline (newest first): the last entry of a page. Ties on time are broken by messageId. */
export interface TimelineCursor {
  readonly timestamp: number
  readonly messageId: string
}

export interface TimelinePage {
  readonly events: readonly TimelineEntry[]
  /** Pass as `after` to get the next (older) page; null when there is none. */
  readonly next: TimelineCursor | null
}

/** The stored part of a profile a count filter reads: traits (JSON), the per-name and per-source counters, the event total. */
export type FilterColumn = 'traits' | 'eventCounts' | 'sourceCounts' | 'eventCount'

export type FilterOperator = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'exists'

/**
 * One condition of a profile count (conditions are ANDed). `path` is the key path inside the JSON column (empty
 * for `eventCount`). Strings and booleans compare with `=` / `!=` only, numbers with any operator; a counter that
 * is absent counts as 0; a trait of another JSON type than the value never matches.
 */
export interface FilterCondition {
  readonly column: FilterColumn
  readonly path: readonly string[]
  readonly op: FilterOperator
  readonly value: string | number | boolean | null
}

export interface ProfileReader {
  /** The profile with this id, even if it was merged (then `mergedInto` is set). */
  profile(id: string): Promise<ProfileRecord | null>
  /** The current (surviving) profile id for an id that may have been merged; null if unknown. */
  canonicalId(id: string): Promise<string | null>
  profileIdByIdentifier(type: string, value: string): Promise<string | null>
  identities(profileId: string): Promise<readonly IdentifierNode[]>
  edges(profileId: string): Promise<readonly IdentityEdge[]>
  merges(profileId: string): Promise<readonly MergeRecord[]>
  rejections(profileId: string): Promise<readonly RejectedIdentifier[]>
  /** The sealed clear values of these stored keys, where kept (pseudonymous state; none in a clear one). */
  identifierValues(keys: readonly string[]): Promise<Map<string, string>>
  events(profileId: string, options: { limit: number; after?: TimelineCursor }): Promise<TimelinePage>
  /**
   * Surviving (not merged) profiles matching every condition, and every consent condition (by the profile's
   * identifiers). Values are bound as parameters, never spliced into SQL.
   */
  countProfiles(filter: readonly FilterCondition[], consent?: readonly IdentifierCondition[]): Promise<number>
  /**
   * The traits of surviving (not merged) profiles in profile-id order, a page at a time (`afterId`: the last id of
   * the previous page). For training the real-time matcher on the installation's own people (tessera match-train).
   */
  profileTraits(options: { readonly limit: number; readonly afterId?: string }): Promise<ProfileTraitsRow[]>
  /** Counts for the console and metrics. */
  stats(): Promise<{ profiles: number; identifiers: number; events: number; merges: number }>
  close(): Promise<void>
}

/**
 * A condition on a profile's identifier keys (`type:value`): `none` of them among `keys` (a refusal on any
 * identifier excludes the profile), or `all` of them among `keys` (every identifier must be allowed).
 */
export interface IdentifierCondition {
  readonly identifiers: 'none' | 'all'
  readonly keys: readonly string[]
}
