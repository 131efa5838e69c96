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
  events(profileId: string, options: { limit: number; after?: TimelineCursor }): Promise<TimelinePage>
  /** Counts for the console and metrics. */
  stats(): Promise<{ profiles: number; identifiers: number; events: number; merges: number }>
  close(): Promise<void>
}
