/**
 * @module RetentionStore port: the deletes a retention run makes in the state store (timeline events by event
 * time; trait values by the event time each trait was last set), and the consumer offsets stored with the state
 * (how far log retention may go). The store knows nothing of categories: the
 * retention job decides, the store applies. Adapters: `src/storage/{sqlite,postgres}/privacy-retention.ts`.
 */
import type { JsonObject } from '../../core/event.js'
import type { TopicPartitionOffset } from '../../log/event-log.js'

export interface TraitRow {
  readonly id: string
  readonly traits: JsonObject
  readonly traitTimes: Readonly<Record<string, number>>
}

/**
 * How a retention store opens and reseals a profile's sealed traits (src/profiles/profile-sealing.ts's
 * ProfileSealing): the edit sees the whole traits, the store writes the clear and the sealed part back.
 */
export interface TraitSealing {
  openTraits(rows: readonly { readonly id: string; readonly traits: JsonObject; readonly sealedTraits?: string | undefined }[]): Promise<JsonObject[]>
  sealTraits(profiles: readonly { readonly id: string; readonly traits: JsonObject }[]): Promise<{ traits: JsonObject; sealedTraits: string | undefined }[]>
}

/** Traits as stored in clear (encryption never on: no keyring). */
export const CLEAR_TRAITS: TraitSealing = Object.freeze({
  openTraits: (rows: readonly { readonly traits: JsonObject }[]) => Promise.resolve(rows.map((r) => r.traits)),
  sealTraits: (profiles: readonly { readonly traits: JsonObject }[]) => Promise.resolve(profiles.map((p) => ({ traits: p.traits, sealedTraits: undefined }))),
})

/** What to keep of a profile's traits; null leaves the profile untouched. */
export type TraitEdit = (row: TraitRow) => { readonly traits: JsonObject; readonly traitTimes: Readonly<Record<string, number>> } | null

export interface RetentionStore {
  /** Timeline events (of every profile) with an event time before `cutoff` (ms): deleted, or only counted when `dryRun`. */
  expireEvents(cutoff: number, dryRun: boolean): Promise<number>
  /**
   * Calls `edit` for every profile holding a trait set before `cutoff`, and stores its answer (unless `dryRun`),
   * each profile read and written in one transaction so a concurrent pipeline write is never lost.
   * Returns the number of profiles changed.
   */
  editTraitsOlderThan(cutoff: number, edit: TraitEdit, dryRun: boolean): Promise<number>
  /**
   * The offsets a pipeline consumer group stored with its state (the next offset to read per partition): what it
   * has consumed of a topic, so log retention never deletes a record it has not read. Empty when it never ran.
   */
  committedOffsets(group: string, topic: string): Promise<readonly TopicPartitionOffset[]>
  close(): Promise<void>
}
