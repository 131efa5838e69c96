/**
 * @module Apply-profiles stage: the profile owner's side of `pipeline.profileUpdates: partitioned`. It consumes its
 * partitions of `events.resolved` (see profiles/profile-messages.ts) and is the only writer of those profiles:
 * events update counters, traits and the timeline; a merge notice turns the loser into a pointer and sends its state
 * to the winner as a fold; a fold adds the loser's state to the winner. Records for a profile that has been merged
 * are forwarded to the profile it was merged into, so late events still count, once. An unmerge notice splits what
 * the owner holds of an unmerged component between its parts (see unmerge-routing.ts).
 *
 * Exactly once: records can arrive twice (a producer retried, or a batch was redone after a crash before its commit
 * had stored the offsets), so every record has a dedupe key scoped to its target profile, remembered in the same
 * transaction as the profile changes and the offsets. Forwards, folds, replays and carries are appended before the
 * commit: a crash in between sends them again, and the receiver's dedupe key drops the copy.
 *
 * Timeline rows stay under the profile that applied them (no cross-owner row moves); readers gather a profile's
 * timeline over the profiles merged into it. Events trimmed from a timeline (pipeline.timelineLimit) are added to the
 * profile's trimmed counts, which an unmerge needs.
 */
import { TOPICS, type AppendRecord, type EventLog, type LogRecord } from '../../log/event-log.js'
import type { RawEvent } from '../../core/event.js'
import type { IdentityRules } from '../../identity/identity-rules.js'
import { eventTime } from '../../identity/resolve-batch.js'
import { EMPTY_TRIMMED, type ProfileRoute, type TrimmedRecord } from '../../profiles/profile-control-store.js'
import {
  type CarryNotice, type FoldNotice, type ProfileMessage, type ReplayNotice, type TrimmedCounts, type UnmergeNotice, parseProfileMessage,
} from '../../profiles/profile-messages.js'
import type { ProfileRecord, TimelineEvent } from '../../profiles/profile-store.js'
import { applyEvent, eventName, mergeProfiles, newProfile } from '../../profiles/profile-updates.js'
import type { ItemCodec } from '../pipeline-runner.js'
import type { BatchContext, Stage } from '../stage.js'
import {
  addTrimmedEvents, carryRecord, isLateRecord, partOfEvent, replayKey, replayRecord, sumTrimmed, trimmedTraits, withTrimmed,
} from './unmerge-routing.js'

/** One record of events.resolved on its way through the profile owner. */
export interface ProfileItem {
  readonly record: LogRecord
  readonly message: ProfileMessage
  dropped?: 'duplicate'
}

export const profileMessageCodec: ItemCodec<ProfileItem> = {
  parse(record) {
    try {
      return { record, message: parseProfileMessage(record.value) }
    } catch (error) {
      return { poison: `events.resolved record: ${(error as Error).message}` }
    }
  },
  fresh: (item) => ({ record: item.record, message: item.message }),
}

/** The dedupe key of a record, scoped to the profile that applies it (a forwarded copy gets a new key). */
function dedupeKeyOf(message: ProfileMessage): string {
  switch (message.kind) {
    case 'event': return `#profile:${message.event.profileId}:${message.event.sourceId}:${message.event.messageId}`
    case 'merge': return `#merge:${message.notice.from}:${message.notice.into}`
    case 'fold': return `#fold:${message.notice.from}:${message.notice.into}`
    case 'unmerge': return `#unmerge:${message.notice.unmerge}:${message.notice.profile}`
    case 'replay': return replayKey(message.notice, message.notice.event.sourceId, message.notice.event.messageId)
    case 'carry': return `#carry:${message.notice.unmerge}:${message.notice.from}:${message.notice.into}`
  }
}

export interface ApplyProfilesOptions {
  /** Where forwards, folds, replays and carries go (the log holding events.resolved). */
  readonly output: EventLog
  /** Events kept per profile in the timeline; 0 keeps all. */
  readonly timelineLimit: number
  /** The identifier rules, to tell which part of an unmerged component an event belongs to. */
  readonly rules: IdentityRules
}

/** The owner's working state for one batch. */
class Working {
  readonly changed = new Set<string>()
  readonly timeline: TimelineEvent[] = []
  readonly out: AppendRecord[] = []
  readonly deleted: { profileId: string; messageId: string; sourceId: string }[] = []
  readonly routesChanged = new Map<string, ProfileRoute>()
  readonly trimmedChanged = new Map<string, TrimmedRecord>()

  constructor(
    readonly profiles: Map<string, ProfileRecord>,
    readonly routes: Map<string, ProfileRoute>,
    readonly trimmed: Map<string, TrimmedRecord>,
    /** Dedupe keys seen so far (stored, and this batch's); `fresh` are the ones to remember at commit. */
    readonly seen: Set<string>,
    readonly fresh: string[],
    readonly batch: BatchContext<ProfileItem>,
  ) {}

  /** Marks a dedupe key as used by this batch; false when it was used before. */
  claim(key: string): boolean {
    if (this.seen.has(key)) return false
    this.seen.add(key)
    this.fresh.push(key)
    return true
  }

  set(profile: ProfileRecord): void {
    this.profiles.set(profile.id, profile)
    this.changed.add(profile.id)
  }

  trimmedOf(id: string): TrimmedRecord {
    return this.trimmed.get(id) ?? { profileId: id, ...EMPTY_TRIMMED }
  }

  setTrimmed(record: TrimmedRecord): void {
    this.trimmed.set(record.profileId, record)
    this.trimmedChanged.set(record.profileId, record)
  }

  count(name: string, by = 1): void {
    this.batch.counts[name] = (this.batch.counts[name] ?? 0) + by
  }

  /** Applies an event to a live profile and records it in the timeline. */
  apply(id: string, event: RawEvent, payload: string): void {
    const time = eventTime(event)
    const current = this.profiles.get(id)
    const base = current ?? newProfile(id, time, this.batch.now)
    const next = applyEvent(base, event, time, this.batch.now)
    this.set(next.createdAt > time ? { ...next, createdAt: time } : next)
    this.timeline.push({ profileId: id, messageId: event.messageId, sourceId: event.sourceId, type: event.type, name: eventName(event), timestamp: time, payload })
  }
}

export function createApplyProfilesStage(options: ApplyProfilesOptions): Stage<ProfileItem> {
  return {
    name: 'apply-profiles',
    policy: 'ensure',
    async run(batch: BatchContext<ProfileItem>): Promise<void> {
      const keys = batch.items.map((i) => dedupeKeyOf(i.message))
      const seen = await batch.tx.dedupe.seen(keys)
      const fresh: string[] = []
      batch.items.forEach((item, n) => {
        if (seen.has(keys[n]!)) {
          item.dropped = 'duplicate'
          batch.counts.duplicates = (batch.counts.duplicates ?? 0) + 1
        } else {
          seen.add(keys[n]!)
          fresh.push(keys[n]!)
        }
      })
      const items = batch.items.filter((i) => i.dropped === undefined)

      const ids = new Set<string>()
      let needTrimmed = false
      for (const { message } of items) {
        ids.add(targetOf(message))
        if (message.kind === 'unmerge' || message.kind === 'carry') needTrimmed = true
      }
      // One after the other: on PostgreSQL they share the transaction's connection.
      const profiles = await batch.tx.profiles.get([...ids])
      const routes = await batch.tx.control.routes([...ids])
      const trimmed = needTrimmed ? await batch.tx.control.trimmed([...ids]) : new Map<string, TrimmedRecord>()
      const w = new Working(profiles, routes, trimmed, seen, fresh, batch)

      for (const { message, record } of items) {
        switch (message.kind) {
          case 'event': onEvent(w, options, message.event, record, message.forwardedFrom)
            break
          case 'merge': {
            const { from, into, time } = message.notice
            const loser = w.profiles.get(from)
            // A profile loses one merge at most (its identifiers all move to the winner); a repeat is ignored.
            if (loser?.mergedInto) break
            w.set({ ...(loser ?? newProfile(from, time, batch.now)), mergedInto: into, updatedAt: batch.now })
            if (loser) w.out.push(fold(from, into, loser))
            break
          }
          case 'fold': onFold(w, message.notice)
            break
          case 'replay': onReplay(w, options, message.notice, record)
            break
          case 'carry': onCarry(w, message.notice)
            break
          case 'unmerge': await onUnmerge(w, options, message.notice)
            break
        }
      }
      await batch.tx.dedupe.remember(fresh, batch.now)
      const live = [...w.changed].map((id) => w.profiles.get(id)!)
      await batch.tx.profiles.put(live)
      await batch.tx.control.deleteEvents(w.deleted)
      await batch.tx.profiles.appendEvents(w.timeline)
      await trimAndCount(w, live, options.timelineLimit)
      await batch.tx.control.putRoutes([...w.routesChanged.values()])
      await batch.tx.control.putTrimmed([...w.trimmedChanged.values()])
      if (w.out.length > 0) await options.output.append(TOPICS.resolved, w.out)
    },
  }
}

function targetOf(message: ProfileMessage): string {
  switch (message.kind) {
    case 'event': return message.event.profileId
    case 'merge': return message.notice.from
    case 'fold': return message.notice.into
    case 'unmerge': return message.notice.profile
    case 'replay': return message.notice.into
    case 'carry': return message.notice.into
  }
}

function onEvent(w: Working, options: ApplyProfilesOptions, event: ReplayNotice['event'], record: LogRecord, forwardedFrom: string | undefined): void {
  const id = event.profileId
  const route = w.routes.get(id)
  if (route && isLateRecord(route.notice, id, forwardedFrom)) {
    reattribute(w, options, route.notice, event, id, record.timestamp)
    return
  }
  const current = w.profiles.get(id)
  if (current?.mergedInto) {
    w.out.push({ key: current.mergedInto, value: JSON.stringify({ ...event, profileId: current.mergedInto, forwardedFrom: id }), timestamp: record.timestamp })
    w.count('forwarded')
    return
  }
  // A forwarded copy carries `forwardedFrom`, which the stored event does not need.
  w.apply(id, event, forwardedFrom === undefined ? record.value : JSON.stringify(event))
}

/**
 * Sends an event of an unmerged component, arriving at `at`, to its part as a replay; or applies it at once when
 * `at` is that part (with the replay's dedupe key, so another copy arriving as a replay counts nothing).
 */
function reattribute(w: Working, options: ApplyProfilesOptions, notice: UnmergeNotice, event: RawEvent, at: string, timestamp?: number): void {
  const part = partOfEvent(notice, event, options.rules)
  w.count('reattributed')
  if (part === at && w.profiles.get(at)?.mergedInto === null) {
    if (!w.claim(replayKey({ unmerge: notice.unmerge, into: part }, event.sourceId, event.messageId))) return
    const replayed = { ...event, profileId: part }
    w.apply(part, replayed, JSON.stringify(replayed))
    return
  }
  w.out.push(replayRecord(notice.unmerge, part, event, timestamp))
}

function onReplay(w: Working, options: ApplyProfilesOptions, notice: ReplayNotice, record: LogRecord): void {
  const id = notice.into
  const route = w.routes.get(id)
  // A replay of an older unmerge reaching a profile that has been unmerged since: it belongs to the old component.
  if (route && route.notice.unmerge > notice.unmerge) {
    reattribute(w, options, route.notice, notice.event, id, record.timestamp)
    return
  }
  const current = w.profiles.get(id)
  if (current?.mergedInto) {
    w.out.push(replayRecord(notice.unmerge, current.mergedInto, notice.event, record.timestamp))
    w.count('forwarded')
    return
  }
  const event = { ...notice.event, profileId: id }
  w.apply(id, event, JSON.stringify(event))
  w.count('replayed')
}

function onFold(w: Working, notice: FoldNotice): void {
  const { from, into, profile } = notice
  const route = w.routes.get(into)
  // A member of an unmerged component re-attributes its own events: its fold would count them twice.
  if (route && route.notice.members.includes(from)) {
    w.count('droppedFolds')
    return
  }
  const winner = w.profiles.get(into)
  if (winner?.mergedInto) {
    w.out.push(fold(from, winner.mergedInto, profile))
    return
  }
  w.set(mergeProfiles(winner ?? newProfile(into, profile.createdAt, w.batch.now), profile, w.batch.now))
}

function onCarry(w: Working, notice: CarryNotice): void {
  const current = w.profiles.get(notice.into)
  if (current?.mergedInto) {
    w.out.push(carryRecord({ ...notice, into: current.mergedInto }))
    return
  }
  const base = current ?? newProfile(notice.into, notice.counts.firstSeen, w.batch.now)
  const traitTimes: Record<string, number> = {}
  for (const k of Object.keys(notice.traits)) traitTimes[k] = notice.counts.traitTimes[k] ?? 0
  w.set(withTrimmed(base, notice.counts, { traits: notice.traits, traitTimes }, w.batch.now))
  // They stay unattributable: a later unmerge of this profile keeps them on its kept part too.
  const own = w.trimmedOf(notice.into)
  w.setTrimmed({ ...sumTrimmed(own, notice.counts), profileId: notice.into })
}

/** Splits what this owner holds of an unmerged component between its parts (see unmerge-routing.ts). */
async function onUnmerge(w: Working, options: ApplyProfilesOptions, notice: UnmergeNotice): Promise<void> {
  const id = notice.profile
  if (!notice.members.includes(id)) {
    // A new part: its profile exists from now on (its events arrive as replays, and new ones as usual).
    const part = notice.parts.find((p) => p.profileId === id)
    const current = w.profiles.get(id)
    const createdAt = part?.createdAt ?? notice.time
    if (!current) w.set(newProfile(id, createdAt, w.batch.now))
    else if (current.createdAt > createdAt) w.set({ ...current, createdAt })
    return
  }
  const existing = w.routes.get(id)
  if (existing && existing.notice.unmerge >= notice.unmerge) return
  const route: ProfileRoute = { profileId: id, notice }
  w.routes.set(id, route)
  w.routesChanged.set(id, route)
  w.count('unmergeNotices')

  // The profile's timeline: stored rows plus this batch's rows not written yet.
  const stored = await w.batch.tx.identity.timeline([id])
  const pending = w.timeline.filter((t) => t.profileId === id)
  const rows: { messageId: string; sourceId: string; payload: string; stored: boolean }[] = [
    ...stored.map((r) => ({ messageId: r.messageId, sourceId: r.sourceId, payload: r.payload, stored: true })),
    ...pending.map((t) => ({ messageId: t.messageId, sourceId: t.sourceId, payload: t.payload, stored: false })),
  ]
  for (let i = w.timeline.length - 1; i >= 0; i--) if (w.timeline[i]!.profileId === id) w.timeline.splice(i, 1)

  const current = w.profiles.get(id)
  const trimmed = w.trimmedOf(id)
  const kept = id === notice.kept && current !== undefined && current.mergedInto === null
  if (kept) {
    // The kept part restarts from what no timeline holds any more, then takes back the events that stay.
    const values = trimmedTraits(current, trimmed)
    w.set(withTrimmed({ ...newProfile(id, current.createdAt, w.batch.now), firstSeen: Number.MAX_SAFE_INTEGER, lastSeen: 0 }, trimmed, values, w.batch.now))
  } else if (current !== undefined && trimmed.eventCount > 0) {
    // A merged-away member: its trimmed events stay with the id that is kept.
    const values = trimmedTraits(current, trimmed)
    w.out.push(carryRecord({ control: 'carry', from: id, into: notice.kept, unmerge: notice.unmerge, counts: trimmed, traits: values.traits }))
    w.setTrimmed({ profileId: id, ...EMPTY_TRIMMED })
  }
  for (const row of rows) {
    const event = JSON.parse(row.payload) as RawEvent
    const part = kept ? partOfEvent(notice, event, options.rules) : null
    if (kept && part === id) {
      // Every row is one application of its event: re-applied whether or not its replay key was used (a replay that
      // came before this notice is one of these rows). Claiming the key drops any later copy.
      w.claim(replayKey({ unmerge: notice.unmerge, into: id }, row.sourceId, row.messageId))
      const e = eventTime(event)
      w.set(applyEvent(w.profiles.get(id)!, event, e, w.batch.now))
      if (!row.stored) w.timeline.push({ profileId: id, messageId: row.messageId, sourceId: row.sourceId, type: event.type, name: eventName(event), timestamp: e, payload: row.payload })
      continue
    }
    if (row.stored) w.deleted.push({ profileId: id, messageId: row.messageId, sourceId: row.sourceId })
    w.out.push(replayRecord(notice.unmerge, part ?? partOfEvent(notice, event, options.rules), event))
    w.count('reattributed')
  }
  if (kept) {
    const p = w.profiles.get(id)!
    if (p.eventCount === 0) w.set({ ...p, firstSeen: p.createdAt, lastSeen: p.createdAt })
  }
}

/** Trims the timelines over the limit, adding what was trimmed to each profile's trimmed counts. */
async function trimAndCount(w: Working, profiles: readonly ProfileRecord[], limit: number): Promise<void> {
  if (limit === 0) return
  const full = profiles.filter((p) => p.mergedInto === null && p.eventCount > limit).map((p) => p.id)
  if (full.length === 0) return
  const removed = await w.batch.tx.control.takeTrimmed(full, limit)
  if (removed.length === 0) return
  const byProfile = new Map<string, TimelineEvent[]>()
  for (const row of removed) (byProfile.get(row.profileId) ?? byProfile.set(row.profileId, []).get(row.profileId)!).push(row)
  const missing = [...byProfile.keys()].filter((id) => !w.trimmed.has(id))
  for (const [id, r] of await w.batch.tx.control.trimmed(missing)) w.trimmed.set(id, r)
  for (const [id, rows] of byProfile) {
    const counts: TrimmedCounts = addTrimmedEvents(w.trimmedOf(id), rows)
    w.setTrimmed({ ...counts, profileId: id })
  }
}

function fold(from: string, into: string, profile: ProfileRecord): AppendRecord {
  const notice: FoldNotice = { control: 'fold', from, into, profile }
  return { key: into, value: JSON.stringify(notice) }
}
