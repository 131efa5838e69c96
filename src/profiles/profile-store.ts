/** @module ProfileStore port: unified profiles, their counters and the per-profile event timeline. */
import type { JsonObject } from '../core/event.js'

export interface ProfileRecord {
  readonly id: string
  /** Event time (ms) of the event that created the profile; the older profile wins a merge. */
  readonly createdAt: number
  readonly firstSeen: number
  readonly lastSeen: number
  /** Traits, last write wins by event time per trait. */
  readonly traits: JsonObject
  /**
   * Stored form only (adapters and src/profiles/sealed-profiles.ts): the confidential and restricted traits, sealed
   * under the profile's data key (`<ref>.<keyId>.<base64url envelope>`), kept apart from the clear `traits`. The
   * sealing decorator opens it into `traits` on read, so the pipeline and every reader above it never see it.
   */
  readonly sealedTraits?: string
  /** Event time (ms) of the value held for each trait. */
  readonly traitTimes: Readonly<Record<string, number>>
  readonly eventCount: number
  /** Events per source id. */
  readonly sourceCounts: Readonly<Record<string, number>>
  /** Events per event name (`track` name, or the type for other calls). */
  readonly eventCounts: Readonly<Record<string, number>>
  /** Set when this profile was merged into another; lookups follow it. */
  readonly mergedInto: string | null
  /** Wall-clock ms of the last change. */
  readonly updatedAt: number
}

export interface TimelineEvent {
  readonly profileId: string
  readonly messageId: string
  readonly sourceId: string
  readonly type: string
  readonly name: string | null
  /** Event time, ms. */
  readonly timestamp: number
  /**
   * The resolved event as JSON (`{…}`), or sealed under the data key of the profile it was appended to
   * (`<ref>.<keyId>.<base64url envelope>`, never starting with `{`; src/profiles/profile-sealing.ts).
   */
  readonly payload: string
}

/** Write side, used inside a pipeline transaction. */
export interface ProfileStore {
  get(ids: readonly string[]): Promise<Map<string, ProfileRecord>>
  /** Inserts or replaces these profiles. */
  put(profiles: readonly ProfileRecord[]): Promise<void>
  appendEvents(events: readonly TimelineEvent[]): Promise<void>
  /** Moves the timeline of merged profiles to the winner, and re-points older merge pointers. */
  moveEvents(moves: readonly { readonly from: string; readonly to: string }[]): Promise<void>
  /** Keeps only the newest `keep` events of each of these profiles. */
  trimEvents(profileIds: readonly string[], keep: number): Promise<void>
}
