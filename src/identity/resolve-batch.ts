/**
 * @module Deterministic identity resolution of one batch of events, in event order, on an in-memory working
 * set loaded with one lookup per batch (batch-oriented: a handful of store calls per batch, not per event).
 *
 * Per event (after Segment's identity-resolution algorithm, see research/identity.md):
 * 1. extract identifiers; blocked placeholder values are never linked (recorded as rejections);
 * 2. find the profiles that own them;
 * 3. merge protection: if attaching the event's identifiers to the union of those profiles would give a
 *    type more distinct values than its limit (a unique type: more than one), drop the event's
 *    lowest-priority identifier that takes part in the conflict and try again. Unlike Segment, identifiers
 *    that cannot cause the conflict are kept, so fewer links are lost;
 * 4. none found: a new profile; one: attach new identifiers; several: merge into the oldest profile.
 * Every new link is written to the append-only edge log with the event and rule behind it.
 *
 * Graph guards (issue 4): limits count only values first seen within the type's window before the event (a
 * refusal on one profile is `limit_exceeded`, on a merge `merge_protection`); a profile may not grow past its
 * size cap (`component_cap`); two identifiers an unmerge split apart never share a profile again (`split_rule`);
 * quarantined identifiers never link (the event resolves by its other identifiers, or, carrying nothing else,
 * goes to the quarantined identifier's profile without linking anything). When a link between two profiles is
 * refused, each identifier involved is recorded as a contact of the other side's profile; one whose contacts
 * reach more than its type's threshold of distinct profiles within the window is quarantined (the resolve-identity
 * stage then resolves the batch again with it quarantined from the event that crossed the threshold on). Merges that are allowed are not contacts (a person logging in from many browsers is no
 * supernode).
 */
import { deterministicId } from '../core/hash.js'
import type { RawEvent } from '../core/event.js'
import { extractIdentifiers, type ExtractedIdentifier } from './extract-identifiers.js'
import {
  edgePairKey, identifierKey, type GraphGuards, type IdentifierContact, type IdentifierKey, type IdentifierNode,
  type IdentityChanges, type IdentityEdge, type IdentityStore, type LinkRule, type MergeRecord, type QuarantineRecord,
  type RejectedIdentifier, type RejectionReason,
} from './identity-store.js'
import type { IdentityRules } from './identity-rules.js'
import type { IdentifierCodec } from './identifier-codec.js'
import type { MatchRecord } from '../matching/match-record.js'
import type { RealtimeMatching } from '../matching/realtime.js'
import { type MatchRecordWrite, type ReviewItem } from './identity-store.js'

/** The domain blocking keys are pseudonymised under (no identifier type is named so: types are configured names). */
export const BLOCKING_KEY_TYPE = '~blocking'

export interface Resolution {
  /** The profile the event belongs to (after any merge it caused). */
  readonly profileId: string
  /** Profiles merged into `profileId` by this event, oldest first. */
  readonly merged: readonly string[]
  /** True when the event created `profileId`. */
  readonly created: boolean
}

export interface BatchResolution {
  readonly resolutions: readonly Resolution[]
  readonly changes: IdentityChanges
  /** The clear value of each stored key the batch's events carried (to seal those that get stored). */
  readonly clearValues: ReadonlyMap<IdentifierKey, string>
}

/** Creation time of existing profiles (needed to pick the older profile as a merge winner). */
export type CreatedAtLookup = (profileIds: readonly string[]) => Promise<Map<string, number>>

interface Member {
  readonly createdAt: number
  /** type -> value -> first seen (event time, ms) */
  readonly values: Map<string, Map<string, number>>
  readonly keys: Set<IdentifierKey>
}

export function eventTime(event: RawEvent): number {
  const t = Date.parse(event.timestamp)
  return Number.isNaN(t) ? Date.parse(event.receivedAt) : t
}

function earliestFirstSeen(nodesByProfile: ReadonlyMap<string, readonly IdentifierNode[]>): Map<string, number> {
  const out = new Map<string, number>()
  for (const [id, nodes] of nodesByProfile) {
    for (const node of nodes) out.set(id, Math.min(out.get(id) ?? Infinity, node.firstSeen))
  }
  return out
}

export async function resolveBatch(
  events: readonly RawEvent[],
  rules: IdentityRules,
  store: IdentityStore,
  /**
   * Creation times of existing profiles; null takes the earliest first-seen time of each profile's identifiers
   * (for partitioned profile updates, where profile rows are written later by their owners).
   */
  createdAtOf: CreatedAtLookup | null,
  /** Real-time probabilistic matching (identity.matching), or null when it is off. */
  matching: RealtimeMatching | null = null,
  /**
   * Supernodes this same batch revealed (found by an earlier resolution of it): key -> index of the event from which
   * on it counts as quarantined (the event that crossed the threshold).
   */
  quarantinedNow: ReadonlyMap<IdentifierKey, number> = new Map(),
): Promise<BatchResolution> {
  // 1. One lookup for every key the batch mentions (alias previousIds both as user_id and anonymous_id).
  const keys = new Set<IdentifierKey>()
  const extractions = events.map((event) => {
    if (event.type === 'alias' && event.previousId !== undefined) {
      keys.add(rules.codec.storedKey('user_id', String(event.previousId)))
    }
    const extraction = extractIdentifiers(event, rules)
    for (const id of extraction.identifiers) keys.add(id.key)
    return extraction
  })
  const owner = await store.lookup([...keys])
  const memberIds = [...new Set(owner.values())]
  const [nodesByProfile, createdAt] = await Promise.all([
    store.identifiersOf(memberIds),
    createdAtOf ? createdAtOf(memberIds) : Promise.resolve(null),
  ])
  const createdAtById = createdAt ?? earliestFirstSeen(nodesByProfile)
  const members = new Map<string, Member>()
  for (const id of memberIds) {
    const m: Member = { createdAt: createdAtById.get(id) ?? 0, values: new Map(), keys: new Set() }
    for (const node of nodesByProfile.get(id) ?? []) addToMember(m, node.type, node.value, node.key, node.firstSeen)
    for (const key of m.keys) owner.set(key, id)
    members.set(id, m)
  }
  // Blocking keys (a surname's metaphone and a date of birth...) are stored and looked up as the codec keys them.
  const blockKey = (key: string): string => rules.codec.storedValue(BLOCKING_KEY_TYPE, key)
  const match = matching ? await prepareMatching(matching, events, extractions, owner, members, memberIds, store, createdAtOf, blockKey, rules.codec) : null
  const guards: GraphGuards = await store.guards([...new Set([...keys, ...owner.keys()])])

  const nodes = new Map<IdentifierKey, IdentifierNode>()
  const repoints: { from: string; to: string }[] = []
  const edges: IdentityEdge[] = []
  const merges: MergeRecord[] = []
  const rejections: RejectedIdentifier[] = []
  const contacts: IdentifierContact[] = []
  const pairs = new Set<string>()
  const resolutions: Resolution[] = []
  const clearValues = new Map<IdentifierKey, string>()
  const candidatePairs = new Set<string>()
  for (const x of extractions) {
    const ids = x.identifiers
    for (let i = 1; i < ids.length; i++) candidatePairs.add(edgePairKey(ids[0]!.key, ids[i]!.key))
  }
  const known = candidatePairs.size > 0 ? await store.existingEdges([...candidatePairs]) : new Set<string>()

  events.forEach((event, index) => {
    const time = eventTime(event)
    let extraction = extractions[index]!
    if (event.type === 'alias' && event.previousId !== undefined) {
      // previousId is a user_id if one with that value exists (possibly created earlier in this batch).
      extraction = extractIdentifiers(event, rules, (p) => (owner.has(rules.codec.storedKey('user_id', p)) ? 'user_id' : undefined))
    }
    for (const id of extraction.identifiers) clearValues.set(id.key, id.clear)
    for (const [key, value] of extraction.blockedValues) clearValues.set(key, value)
    const isQuarantined = (key: IdentifierKey): boolean => guards.quarantined.has(key) || (quarantinedNow.get(key) ?? Infinity) <= index
    const quarantined = extraction.identifiers.filter((id) => isQuarantined(id.key))
    const ids = extraction.identifiers.filter((id) => !isQuarantined(id.key))
    const dropped: { key: IdentifierKey; reason: RejectionReason }[] = []
    // 3. Merge protection, windowed limits, split rules, size cap.
    for (;;) {
      const conflict = findConflict(ids, owner, members, rules, guards, time)
      if (conflict === null) break
      const victim = conflict.victim ?? lowestInvolved(ids, conflict.type, owner)
      ids.splice(ids.indexOf(victim), 1)
      dropped.push({ key: victim.key, reason: conflict.reason })
    }
    // 4. Attach, create or merge.
    const candidates = [...new Set(ids.map((id) => owner.get(id.key)).filter((p): p is string => p !== undefined))]
    // Only quarantined identifiers: the event goes to the profile of the first one that has one, linking nothing.
    const fallback = ids.length === 0 ? quarantined.map((q) => owner.get(q.key)).find((p) => p !== undefined) : undefined
    if (fallback !== undefined) candidates.push(fallback)
    let profileId: string
    let created = false
    const merged: string[] = []
    // Real time: an event that links no profile, with personal traits, may join its best probabilistic match.
    const prepared = match?.records[index] ?? null
    let scored: MatchChoice | null = null
    if (candidates.length === 0 && prepared && match && ids.length > 0) {
      scored = bestMatch(match, prepared, ids, owner, members, rules, guards, time)
      if (scored?.decision === 'auto-merge') candidates.push(scored.profileId)
    }
    if (candidates.length === 0) {
      profileId = deterministicId('p_', event.sourceId, event.messageId, ids[0]?.key ?? 'none')
      created = true
      members.set(profileId, { createdAt: time, values: new Map(), keys: new Set() })
    } else {
      candidates.sort((a, b) => members.get(a)!.createdAt - members.get(b)!.createdAt || (a < b ? -1 : 1))
      profileId = candidates[0]!
      const winner = members.get(profileId)!
      for (const loserId of candidates.slice(1)) {
        const loser = members.get(loserId)!
        for (const key of loser.keys) {
          owner.set(key, profileId)
          const node = nodes.get(key)
          if (node) nodes.set(key, { ...node, profileId })
        }
        for (const [type, values] of loser.values) for (const [v, seen] of values) addToMember(winner, type, v, identifierKey(type, v), seen)
        members.delete(loserId)
        repoints.push({ from: loserId, to: profileId })
        merges.push({ winner: profileId, loser: loserId, messageId: event.messageId, rule: ruleOf(event), eventTime: time })
        merged.push(loserId)
      }
    }
    const member = members.get(profileId)!
    for (const id of ids) {
      if (owner.has(id.key)) continue
      owner.set(id.key, profileId)
      addToMember(member, id.type, id.value, id.key, time)
      nodes.set(id.key, { key: id.key, type: id.type, value: id.value, profileId, firstSeen: time })
    }
    const anchor = ids[0]
    if (scored?.decision === 'auto-merge' && anchor) {
      // The scored edge: from the matched profile's earliest identifier to the event's anchor.
      const target = scored.anchor
      pairs.add(edgePairKey(target, anchor.key))
      edges.push({
        from: target, to: anchor.key, rule: 'probabilistic', messageId: event.messageId, sourceId: event.sourceId,
        eventTime: time, confidence: Math.min(scored.probability, 1 - Number.EPSILON),
      })
    } else if (scored?.decision === 'review' && match) {
      match.reviews.push({ profileA: scored.profileId, profileB: profileId, probability: scored.probability, weight: scored.weight, messageId: event.messageId, eventTime: time })
    }
    if (prepared && match) rememberRecord(match, profileId, prepared)
    if (anchor) {
      for (const other of ids.slice(1)) {
        const pair = edgePairKey(anchor.key, other.key)
        if (known.has(pair) || pairs.has(pair)) continue
        pairs.add(pair)
        edges.push({
          from: anchor.key, to: other.key, rule: ruleOf(event), messageId: event.messageId,
          sourceId: event.sourceId, eventTime: time, confidence: 1,
        })
      }
    }
    for (const key of extraction.blocked) rejections.push({ key, messageId: event.messageId, reason: 'blocked_value', profileId, eventTime: time })
    for (const { key, reason } of dropped) {
      rejections.push({ key, messageId: event.messageId, reason, profileId, eventTime: time })
      // A refused link between two profiles: each side has tried to reach the other's profile.
      const own = owner.get(key)
      if (own !== undefined && own !== profileId) {
        contacts.push({ key, profileId, time })
        for (const id of ids) contacts.push({ key: id.key, profileId: own, time })
      }
    }
    for (const q of quarantined) {
      if (owner.get(q.key) === profileId) continue
      rejections.push({ key: q.key, messageId: event.messageId, reason: 'quarantined', profileId, eventTime: time })
    }
    resolutions.push({ profileId, merged, created })
  })

  const quarantines = await detectSupernodes(contacts, owner, guards, rules, store, events, quarantinedNow)
  const matchChanges = match ? { matchRecords: await matchWrites(match, repoints, blockKey, rules.codec), reviews: match.reviews } : {}
  return { resolutions, changes: { nodes: [...nodes.values()], repoints, edges, merges, rejections, contacts, quarantines, ...matchChanges }, clearValues }
}

/** What real-time matching holds for one batch. */
interface BatchMatching {
  readonly matching: RealtimeMatching
  /** The event's match record, by event index (null: no compared traits). */
  readonly records: readonly (MatchRecord | null)[]
  /** Known match records by profile (stored, then updated by this batch's events). */
  readonly byProfile: Map<string, MatchRecord>
  /** Blocking key -> profiles (from the store, bounded, plus this batch's records). */
  readonly postings: Map<string, Set<string>>
  /** Profiles whose record this batch changed. */
  readonly dirty: Set<string>
  readonly reviews: ReviewItem[]
}

interface MatchChoice {
  readonly profileId: string
  readonly probability: number
  readonly weight: number
  readonly decision: 'auto-merge' | 'review'
  readonly anchor: IdentifierKey
}

/**
 * One round of reads for the batch: candidates of the events whose identifiers are all unknown (through the
 * persisted blocking index, blocks over the cap skipped), the stored records of every profile the batch touches,
 * the candidates' identifiers (looked up again, which on PostgreSQL takes the same locks as the batch's own keys,
 * so no concurrent batch merges a candidate away meanwhile) and the do-not-link pairs.
 */
async function prepareMatching(
  matching: RealtimeMatching,
  events: readonly RawEvent[],
  extractions: readonly { readonly identifiers: readonly ExtractedIdentifier[] }[],
  owner: Map<IdentifierKey, string>,
  members: Map<string, Member>,
  memberIds: readonly string[],
  store: IdentityStore,
  createdAtOf: CreatedAtLookup | null,
  blockKey: (key: string) => string,
  codec: IdentifierCodec,
): Promise<BatchMatching> {
  const records = events.map((e) => matching.prepare(e))
  const lookupKeys = new Set<string>()
  records.forEach((r, i) => {
    if (r && extractions[i]!.identifiers.every((id) => !owner.has(id.key))) for (const k of matching.keysOf(r)) lookupKeys.add(k)
  })
  const narrowed = await narrowKeys(matching, records, extractions, owner, lookupKeys, store, blockKey)
  // Looked up as stored (pseudonymous in a pseudonymous state); the postings below are kept by the clear keys.
  const clearOf = new Map(narrowed.map((k) => [blockKey(k), k]))
  const found = await store.matchCandidates([...clearOf.keys()], matching.options.maxBlockSize)
  // Sealed records (pseudonymous state) are opened together: one key lookup for every candidate of the batch.
  const opened = await codec.openMatchRecords(found)
  const postings = new Map<string, Set<string>>()
  const byProfile = new Map<string, MatchRecord>()
  const candidateIds = new Set<string>()
  // The store says which looked-up keys each candidate was found through: those are its blocks (recomputing every
  // candidate's keys cost more than the lookup itself, and most of the garbage collection of a wide block).
  for (let n = 0; n < found.length; n++) {
    const row = found[n]!
    const fields = opened[n]!
    // A record whose data key is shredded (an erased person) is no record.
    const record = fields === null ? null : matching.decode(row.profileId, fields)
    if (!record) continue
    byProfile.set(row.profileId, record)
    candidateIds.add(row.profileId)
    for (const stored of row.keys) {
      const k = clearOf.get(stored) ?? stored
      ;(postings.get(k) ?? postings.set(k, new Set()).get(k)!).add(row.profileId)
    }
  }
  // Identifiers (two more reads per candidate) only for candidates that some event scores in the review band or
  // above: at 1M profiles a key such as a date of birth holds dozens of profiles, nearly all far below it.
  const promising = promisingCandidates(matching, records, extractions, owner, postings, byProfile)
  const fresh = [...candidateIds].filter((id) => !members.has(id) && promising.has(id))
  const [stored, nodes] = await Promise.all([
    store.matchRecords(memberIds.filter((id) => !byProfile.has(id))),
    store.identifiersOf(fresh),
  ])
  const storedFields = await codec.openMatchRecords(stored)
  stored.forEach((row, n) => {
    const fields = storedFields[n]!
    const record = fields === null ? null : matching.decode(row.profileId, fields)
    if (record) byProfile.set(row.profileId, record)
  })
  const freshKeys = [...nodes.values()].flat().map((n) => n.key)
  const current = await store.lookup(freshKeys)
  const createdAt = createdAtOf ? await createdAtOf(fresh) : null
  for (const id of fresh) {
    const own = (nodes.get(id) ?? []).filter((n) => current.get(n.key) === id)
    if (own.length === 0) continue
    const m: Member = { createdAt: createdAt?.get(id) ?? Math.min(...own.map((n) => n.firstSeen)), values: new Map(), keys: new Set() }
    for (const n of own) {
      addToMember(m, n.type, n.value, n.key, n.firstSeen)
      owner.set(n.key, id)
    }
    members.set(id, m)
  }
  return { matching, records, byProfile, postings, dirty: new Set(), reviews: [] }
}

/**
 * The keys to read candidates through: every lookup key, or with identity.matching.preferBlockSize below the cap,
 * per record only its narrow keys (at most preferBlockSize profiles) when any of them holds a profile, else its keys
 * under the cap. A date of birth alone holds ~40 profiles per key at 1M; the narrow keys (name + date of birth, date
 * of birth + city...) find the same people with a fraction of the reads. One count read per batch.
 */
async function narrowKeys(
  matching: RealtimeMatching,
  records: readonly (MatchRecord | null)[],
  extractions: readonly { readonly identifiers: readonly ExtractedIdentifier[] }[],
  owner: ReadonlyMap<IdentifierKey, string>,
  lookupKeys: ReadonlySet<string>,
  store: IdentityStore,
  blockKey: (key: string) => string,
): Promise<string[]> {
  const { maxBlockSize: cap, preferBlockSize: prefer = cap } = matching.options
  if (prefer >= cap || lookupKeys.size === 0) return [...lookupKeys]
  const stored = await store.matchBlockSizes([...lookupKeys].map(blockKey), cap)
  const sizes = new Map([...lookupKeys].map((k) => [k, stored.get(blockKey(k)) ?? 0]))
  const out = new Set<string>()
  records.forEach((r, i) => {
    if (!r || !extractions[i]!.identifiers.every((id) => !owner.has(id.key))) return
    const held = matching.keysOf(r).filter((k) => (sizes.get(k) ?? 0) > 0)
    const narrow = held.filter((k) => sizes.get(k)! <= prefer)
    for (const k of narrow.length > 0 ? narrow : held.filter((k) => sizes.get(k)! <= cap)) out.add(k)
  })
  return [...out]
}

/** Stored candidates that score in the review band or above for some event of the batch that links nothing (blocks over the cap skipped). */
function promisingCandidates(
  matching: RealtimeMatching,
  records: readonly (MatchRecord | null)[],
  extractions: readonly { readonly identifiers: readonly ExtractedIdentifier[] }[],
  owner: ReadonlyMap<IdentifierKey, string>,
  postings: ReadonlyMap<string, ReadonlySet<string>>,
  byProfile: ReadonlyMap<string, MatchRecord>,
): Set<string> {
  const out = new Set<string>()
  const cap = matching.options.maxBlockSize
  records.forEach((r, i) => {
    if (!r || !extractions[i]!.identifiers.every((id) => !owner.has(id.key))) return
    // A candidate in several of the record's blocks is scored once for it.
    const checked = new Set<string>()
    for (const k of matching.keysOf(r)) {
      const block = postings.get(k)
      if (!block || block.size > cap) continue
      for (const id of block) {
        if (out.has(id) || checked.has(id)) continue
        checked.add(id)
        if (matching.reachesReview(r, byProfile.get(id)!)) out.add(id)
      }
    }
  })
  return out
}

function earliestKey(member: Member): IdentifierKey | undefined {
  let best: { key: IdentifierKey; seen: number } | undefined
  for (const [type, values] of member.values) {
    for (const [value, seen] of values) {
      const key = identifierKey(type, value)
      if (!best || seen < best.seen || (seen === best.seen && key < best.key)) best = { key, seen }
    }
  }
  return best?.key
}

/**
 * The best candidate in the review band or above whose merge the graph guards allow (merge protection, limits,
 * split rules, the size cap: a probabilistic link never overrides them), skipping do-not-link pairs. A refused
 * auto-merge falls back to the next candidate; none at all leaves the event to a new profile.
 */
function bestMatch(
  match: BatchMatching,
  record: MatchRecord,
  ids: readonly ExtractedIdentifier[],
  owner: ReadonlyMap<IdentifierKey, string>,
  members: ReadonlyMap<string, Member>,
  rules: IdentityRules,
  guards: GraphGuards,
  time: number,
): MatchChoice | null {
  const seen = new Set<string>()
  const cap = match.matching.options.maxBlockSize
  for (const k of match.matching.keysOf(record)) {
    const block = match.postings.get(k)
    // The cap holds within the batch too: a batch of 2,000 sign-ups must not score every "james" against every other.
    if (block && block.size <= cap) for (const p of block) seen.add(p)
  }
  const pool: MatchRecord[] = []
  for (const p of seen) {
    const r = match.byProfile.get(p)
    if (r && members.has(p)) pool.push(r)
  }
  while (pool.length > 0) {
    const top = match.matching.best(record, pool)
    if (!top) return null
    pool.splice(pool.findIndex((r) => r.id === top.profileId), 1)
    const member = members.get(top.profileId)!
    const anchorKey = earliestKey(member)
    if (anchorKey === undefined) continue
    const rule = rules.byName(splitKeyType(anchorKey))
    if (!rule) continue
    // The probe is an identifier already stored: its clear value is not needed (nothing is stored for it).
    const probe: ExtractedIdentifier = { key: anchorKey, ...splitKey(anchorKey), clear: '', rule }
    if (findConflict([...ids, probe], owner, members, rules, guards, time) !== null) continue
    return { profileId: top.profileId, probability: top.probability, weight: top.weight, decision: top.decision === 'auto-merge' ? 'auto-merge' : 'review', anchor: anchorKey }
  }
  return null
}

function splitKey(key: IdentifierKey): { type: string; value: string } {
  const at = key.indexOf(':')
  return { type: key.slice(0, at), value: key.slice(at + 1) }
}

/** The event's traits update its profile's match record; the batch's later events can match it at once. */
function rememberRecord(match: BatchMatching, profileId: string, record: MatchRecord): void {
  const next = match.matching.overlay(profileId, match.byProfile.get(profileId) ?? null, record)
  match.byProfile.set(profileId, next)
  match.dirty.add(profileId)
  for (const k of match.matching.keysOf(next)) (match.postings.get(k) ?? match.postings.set(k, new Set()).get(k)!).add(profileId)
}

/**
 * Match records to write: each changed profile as it stands after the batch's merges, stored as the codec keeps them
 * (sealed under the profile's data key in a pseudonymous state).
 */
async function matchWrites(
  match: BatchMatching, repoints: readonly { from: string; to: string }[], blockKey: (key: string) => string, codec: IdentifierCodec,
): Promise<MatchRecordWrite[]> {
  const gone = new Set(repoints.map((r) => r.from))
  const records: { profileId: string; fields: string; keys: string[] }[] = []
  for (const id of match.dirty) {
    if (gone.has(id)) continue
    const record = match.byProfile.get(id)!
    records.push({ profileId: id, fields: match.matching.encode(record), keys: match.matching.keysOf(record).map(blockKey) })
  }
  const sealed = await codec.sealMatchRecords(records)
  return records.map((r, n) => ({ ...r, fields: sealed[n]! }))
}

/**
 * Supernode guard: identifiers whose contacts (stored within their type's window, and this batch's) together
 * with their current profile reach more than the type's threshold of distinct profiles. One read, only for
 * the identifiers that had contacts in this batch.
 */
async function detectSupernodes(
  contacts: readonly IdentifierContact[],
  owner: ReadonlyMap<IdentifierKey, string>,
  guards: GraphGuards,
  rules: IdentityRules,
  store: IdentityStore,
  events: readonly RawEvent[],
  quarantinedNow: ReadonlyMap<IdentifierKey, number>,
): Promise<QuarantineRecord[]> {
  if (contacts.length === 0) return []
  const batch = new Map<IdentifierKey, { profiles: Set<string>; last: IdentifierContact }>()
  for (const c of contacts) {
    const rule = rules.byName(splitKeyType(c.key))
    if (!rule?.quarantine || guards.quarantined.has(c.key) || quarantinedNow.has(c.key)) continue
    const entry = batch.get(c.key) ?? { profiles: new Set<string>(), last: c }
    entry.profiles.add(c.profileId)
    if (c.time >= entry.last.time) entry.last = c
    batch.set(c.key, entry)
  }
  if (batch.size === 0) return []
  const queries = [...batch].map(([key, { last }]) => {
    const q = rules.byName(splitKeyType(key))!.quarantine!
    return { key, since: q.windowMs === 0 ? 0 : last.time - q.windowMs }
  })
  const stored = await store.contacts(queries)
  const out: QuarantineRecord[] = []
  for (const [key, { profiles, last }] of batch) {
    const q = rules.byName(splitKeyType(key))!.quarantine!
    const all = new Set([...profiles, ...(stored.get(key) ?? [])])
    const own = owner.get(key)
    if (own !== undefined) all.add(own)
    if (all.size > q.profiles) {
      const messageId = events.find((e) => eventTime(e) === last.time)?.messageId ?? ''
      out.push({ key, profiles: all.size, threshold: q.profiles, windowMs: q.windowMs, cause: 'supernode_guard', messageId, time: last.time })
    }
  }
  return out
}

function splitKeyType(key: IdentifierKey): string {
  return key.slice(0, key.indexOf(':'))
}

function ruleOf(event: RawEvent): LinkRule {
  return event.type
}

function addToMember(member: Member, type: string, value: string, key: IdentifierKey, firstSeen: number): void {
  let values = member.values.get(type)
  if (!values) member.values.set(type, (values = new Map()))
  values.set(value, Math.min(values.get(value) ?? firstSeen, firstSeen))
  member.keys.add(key)
}

interface Conflict {
  /** The identifier type whose rule is broken; null when any identifier of the event may be dropped. */
  readonly type: string | null
  readonly reason: RejectionReason
  /** For a split rule: the event identifier to drop. */
  readonly victim?: ExtractedIdentifier
}

/**
 * Why attaching the event's identifiers to the union of their profiles is refused, or null:
 * - a type would hold more values than its limit (counting values first seen within its window before the
 *   event): `merge_protection` for a unique type (two people), else `limit_exceeded`. A profile already over a
 *   limit on its own (limits lowered in config) does not count as a conflict;
 * - the union would hold both sides of a split rule (`split_rule`);
 * - the union would be larger than the largest profile alone and than the size cap of an identifier that
 *   adds to it, or than the global cap identity.maxProfileSize (`component_cap`).
 */
function findConflict(
  ids: readonly ExtractedIdentifier[],
  owner: ReadonlyMap<IdentifierKey, string>,
  members: ReadonlyMap<string, Member>,
  rules: IdentityRules,
  guards: GraphGuards,
  time: number,
): Conflict | null {
  const profiles = new Set<string>()
  for (const id of ids) {
    const p = owner.get(id.key)
    if (p !== undefined) profiles.add(p)
  }
  const merging = profiles.size > 1
  const union = new Map<string, Set<string>>()
  const largestAlone = new Map<string, number>()
  let largestProfile = 0
  let total = 0
  for (const p of profiles) {
    const member = members.get(p)!
    largestProfile = Math.max(largestProfile, member.keys.size)
    total += member.keys.size
    for (const [type, values] of member.values) {
      const rule = rules.byName(type)
      const since = rule && rule.windowMs > 0 ? time - rule.windowMs : -Infinity
      let set = union.get(type)
      if (!set) union.set(type, (set = new Set()))
      let alone = 0
      for (const [v, seen] of values) {
        if (seen < since) continue
        set.add(v)
        alone++
      }
      largestAlone.set(type, Math.max(largestAlone.get(type) ?? 0, alone))
    }
  }
  const fresh = ids.filter((id) => !owner.has(id.key))
  for (const id of fresh) {
    let set = union.get(id.type)
    if (!set) union.set(id.type, (set = new Set()))
    set.add(id.value)
  }
  total += fresh.length
  for (const rule of rules.types) {
    const size = union.get(rule.name)?.size ?? 0
    if (size > rule.limit && size > (largestAlone.get(rule.name) ?? 0)) {
      return { type: rule.name, reason: rule.unique ? 'merge_protection' : 'limit_exceeded' }
    }
  }
  if (guards.splits.size > 0) {
    // Which event identifier brings each key into the union (itself, or the profile it belongs to).
    const broughtBy = new Map<IdentifierKey, ExtractedIdentifier>()
    for (const id of fresh) broughtBy.set(id.key, id)
    for (const id of ids) {
      const p = owner.get(id.key)
      if (p !== undefined) for (const k of members.get(p)!.keys) if (!broughtBy.has(k)) broughtBy.set(k, id)
    }
    for (const [k, side] of broughtBy) {
      const apart = guards.splits.get(k)
      if (!apart) continue
      for (const other of apart) {
        const otherSide = broughtBy.get(other)
        if (otherSide === undefined || otherSide === side) continue
        // Drop the side of the identifier an unmerge detached (it has a rule against every identifier it was
        // detached from); between two equal sides (a removed edge), the lower-priority one.
        const weight = (key: IdentifierKey): number => guards.splits.get(key)?.size ?? 0
        const victim = weight(k) !== weight(other) ? (weight(k) > weight(other) ? side : otherSide)
          : side.rule.priority >= otherSide.rule.priority ? side : otherSide
        return { type: null, reason: 'split_rule', victim }
      }
    }
  }
  if (total > largestProfile) {
    const adding = ids.filter((id) => !owner.has(id.key) || merging)
    if (adding.some((id) => total > Math.min(id.rule.maxProfileIdentifiers, rules.maxProfileSize))) return { type: null, reason: 'component_cap' }
  }
  return null
}

/**
 * The lowest-priority identifier that takes part in the conflict: one that brings an existing profile into the
 * union, or a new value (of the conflicting type, when the conflict is about one type).
 */
function lowestInvolved(
  ids: readonly ExtractedIdentifier[],
  type: string | null,
  owner: ReadonlyMap<IdentifierKey, string>,
): ExtractedIdentifier {
  for (let i = ids.length - 1; i >= 0; i--) {
    const id = ids[i]!
    if (owner.has(id.key) || type === null || id.type === type) return id
  }
  return ids[ids.length - 1]!
}
