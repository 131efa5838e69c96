/**
 * @module Retention: deletes what is older than its data category's schedule (governance.retention.schedules):
 * timeline events by event time (they are classified as `event.event`, behavioral by default), and trait values
 * by the time each trait was last set (each leaf classified at its path, so `traits.address.city` can expire as
 * location while `traits.address.street` is kept as contact). Each run is an audit entry with the counts per
 * category, the cut-offs and the time, never the values. Run by `tessera up` every `intervalMinutes` and by
 * `tessera retention run [--dry-run]`.
 *
 * The event log too: records of events.raw, events.resolved and events.dead-letter older than the schedule of
 * the events' category (behavioral by default) are deleted from the start of each partition, but only below what
 * every pipeline consumer group reading the topic has stored as done with its state (and what any group that
 * committed in the log itself has passed), so no record is deleted before it was read. A group that never ran
 * protects everything. Logs whose broker deletes by itself (Kafka, `retention.ms`) are reported, not touched.
 */
import type { Clock } from '../../core/clock.js'
import type { JsonObject, JsonValue } from '../../core/event.js'
import type { AuditActor } from '../audit-entry.js'
import type { AuditLog } from '../audit-log.js'
import type { Classifier, DataCategory } from '../classification.js'
import type { RetentionConfig } from '../privacy-config.js'
import { isTesseraError } from '../../core/errors.js'
import type { EventLog, TopicPartitionOffset } from '../../log/event-log.js'
import type { RetentionStore, TraitRow } from './retention-store.js'

const DAY_MS = 86_400_000

export interface RetentionReport {
  readonly time: string
  readonly dryRun: boolean
  /** Category → ISO cut-off: values of the category from before it are deleted. */
  readonly cutoffs: Readonly<Record<string, string>>
  /** Timeline events deleted, by category. */
  readonly events: Readonly<Record<string, number>>
  /** Trait values (leaves) deleted, by category. */
  readonly traits: Readonly<Record<string, number>>
  readonly profilesChanged: number
  /** Event-log records deleted, by topic. */
  readonly log: Readonly<Record<string, number>>
  /** Why some log was not touched (Kafka: its retention.ms does it). */
  readonly logNotes: readonly string[]
}

/** A topic of the event log for retention: where it is and which pipeline consumer groups read it. */
export interface LogTopicTarget {
  readonly topic: string
  readonly log: EventLog
  /** Groups whose offsets are stored with the state (RetentionStore.committedOffsets); their reading bounds deletion. */
  readonly groups: readonly string[]
}

export interface RetentionOptions {
  readonly store: RetentionStore
  readonly classifier: Classifier
  readonly config: RetentionConfig
  readonly clock: Clock
  readonly audit: AuditLog
  readonly actor: AuditActor
  /** The event-log topics to apply retention to (none: only the state store). */
  readonly logTopics?: readonly LogTopicTarget[]
}

/** Removes the leaves of `value` (at `path`) whose category has expired; counts them per category. */
function prune(value: JsonValue, path: string, expired: (path: string) => DataCategory | null, counts: Map<string, number>): JsonValue | undefined {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const out: JsonObject = {}
    let kept = 0
    for (const key of Object.keys(value)) {
      const v = prune(value[key]!, `${path}.${key}`, expired, counts)
      if (v !== undefined) {
        Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true })
        kept++
      }
    }
    return kept === 0 && Object.keys(value).length > 0 ? undefined : out
  }
  const category = expired(path)
  if (category === null) return value
  counts.set(category, (counts.get(category) ?? 0) + 1)
  return undefined
}

export async function runRetention(o: RetentionOptions, dryRun: boolean): Promise<RetentionReport> {
  const now = o.clock.now()
  const cutoffs = new Map<DataCategory, number>()
  for (const [category, days] of Object.entries(o.config.schedules) as [DataCategory, number][]) cutoffs.set(category, now - days * DAY_MS)
  const events = new Map<string, number>()
  const traits = new Map<string, number>()
  let profilesChanged = 0
  const logCounts = new Map<string, number>()
  const logNotes = new Set<string>()
  try {
    const eventCategory = o.classifier.classify('event.event').category
    const eventCutoff = cutoffs.get(eventCategory)
    if (eventCutoff !== undefined) events.set(eventCategory, await o.store.expireEvents(eventCutoff, dryRun))
    if (cutoffs.size > 0) {
      const latest = Math.max(...cutoffs.values())
      profilesChanged = await o.store.editTraitsOlderThan(latest, (row: TraitRow) => {
        const keptTraits: JsonObject = {}
        const keptTimes: Record<string, number> = {}
        let changed = false
        for (const key of Object.keys(row.traits)) {
          const setAt = row.traitTimes[key]
          const expired = (path: string): DataCategory | null => {
            const category = o.classifier.classify(path).category
            const cutoff = cutoffs.get(category)
            return setAt !== undefined && cutoff !== undefined && setAt < cutoff ? category : null
          }
          const v = prune(row.traits[key]!, `traits.${key}`, expired, traits)
          if (v === undefined) {
            changed = true
            continue
          }
          if (JSON.stringify(v) !== JSON.stringify(row.traits[key])) changed = true
          Object.defineProperty(keptTraits, key, { value: v, enumerable: true, writable: true, configurable: true })
          if (setAt !== undefined) keptTimes[key] = setAt
        }
        return changed ? { traits: keptTraits, traitTimes: keptTimes } : null
      }, dryRun)
    }
    if (eventCutoff !== undefined) {
      for (const target of o.logTopics ?? []) {
        let upTo: readonly TopicPartitionOffset[]
        try {
          upTo = await target.log.endOffsets(target.topic)
        } catch (error) {
          if (isTesseraError(error) && error.code === 'TESSERA_NOT_FOUND') continue // not created yet: nothing to delete
          throw error
        }
        for (const group of target.groups) {
          const done = await o.store.committedOffsets(group, target.topic)
          upTo = upTo.map((e) => ({ ...e, offset: Math.min(e.offset, done.find((d) => d.partition === e.partition)?.offset ?? 0) }))
        }
        const result = await target.log.deleteRecordsBefore(target.topic, eventCutoff, upTo, dryRun)
        if (result.supported) logCounts.set(target.topic, result.deleted)
        else logNotes.add(result.reason)
      }
    }
  } catch (error) {
    await o.audit.record({ kind: 'retention.run', actor: o.actor, action: dryRun ? 'retention dry-run' : 'retention run', decision: 'error', reason: (error as Error).message.slice(0, 300) })
    throw error
  }
  const report: RetentionReport = {
    time: new Date(now).toISOString(), dryRun,
    cutoffs: Object.fromEntries([...cutoffs].map(([c, t]) => [c, new Date(t).toISOString()])),
    events: Object.fromEntries(events), traits: Object.fromEntries(traits), profilesChanged,
    log: Object.fromEntries(logCounts), logNotes: [...logNotes],
  }
  await o.audit.record({
    kind: 'retention.run', actor: o.actor, action: dryRun ? 'retention dry-run' : 'retention run', decision: 'ok',
    detail: { ...report, cutoffs: { ...report.cutoffs }, events: { ...report.events }, traits: { ...report.traits }, log: { ...report.log }, logNotes: [...report.logNotes] },
  })
  return report
}
