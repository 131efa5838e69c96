/** @module Update-profiles stage: merges, traits, counters and the timeline, over a working set loaded once per batch. */
import type { ResolvedEvent } from '../../core/event.js'
import { applyEvent, eventName, mergeProfiles, newProfile } from '../../profiles/profile-updates.js'
import type { ProfileRecord, ProfileStore, TimelineEvent } from '../../profiles/profile-store.js'
import { live, type BatchContext, type Stage, type WorkItem } from '../stage.js'

export interface UpdateProfilesOptions {
  /** Events kept per profile in the timeline; 0 keeps all. */
  readonly timelineLimit: number
}

/** Keeps the newest `limit` timeline events of the live profiles among `profiles` that have more (0 keeps all). */
export async function trimTimelines(store: ProfileStore, profiles: readonly ProfileRecord[], limit: number): Promise<void> {
  if (limit === 0) return
  const full = profiles.filter((p) => p.mergedInto === null && p.eventCount > limit).map((p) => p.id)
  if (full.length > 0) await store.trimEvents(full, limit)
}

export function resolvedEvent(item: WorkItem): ResolvedEvent {
  return { ...item.event, profileId: item.profileId!, enrichment: item.enrichment }
}

export function createUpdateProfilesStage(options: UpdateProfilesOptions): Stage {
  return {
    name: 'update-profiles',
    policy: 'ensure',
    async run(batch: BatchContext): Promise<void> {
      const items = live(batch.items)
      const ids = new Set<string>()
      for (const item of items) {
        ids.add(item.profileId!)
        for (const m of item.merged ?? []) ids.add(m)
      }
      const working = await batch.tx.profiles.get([...ids])
      const changed = new Set<string>()
      const moves: { from: string; to: string }[] = []
      const timeline: TimelineEvent[] = []
      for (const item of items) {
        const id = item.profileId!
        let profile: ProfileRecord = working.get(id) ?? newProfile(id, item.time, batch.now)
        for (const loserId of item.merged ?? []) {
          const loser = working.get(loserId)
          if (loser) {
            profile = mergeProfiles(profile, loser, batch.now)
            working.set(loserId, { ...loser, mergedInto: id, updatedAt: batch.now })
            changed.add(loserId)
          }
          moves.push({ from: loserId, to: id })
        }
        profile = applyEvent(profile, item.event, item.time, batch.now)
        working.set(id, profile)
        changed.add(id)
        item.resolvedJson = JSON.stringify(resolvedEvent(item))
        timeline.push({
          profileId: id, messageId: item.event.messageId, sourceId: item.event.sourceId, type: item.event.type,
          name: eventName(item.event), timestamp: item.time, payload: item.resolvedJson,
        })
      }
      // Merges first: an event of this batch may sit in a loser's timeline rows already stored.
      await batch.tx.profiles.put([...changed].map((id) => working.get(id)!))
      await batch.tx.profiles.appendEvents(timeline)
      await batch.tx.profiles.moveEvents(moves)
      await trimTimelines(batch.tx.profiles, [...changed].map((id) => working.get(id)!), options.timelineLimit)
    },
  }
}
