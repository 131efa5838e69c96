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
