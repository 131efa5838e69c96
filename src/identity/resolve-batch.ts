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
 */
import { deterministicId } from '../core/hash.js'
import type { RawEvent } from '../core/event.js'
import { extractIdentifiers, type ExtractedIdentifier } from './extract-identifiers.js'
import {
  edgePairKey, identifierKey, type IdentifierKey, type IdentifierNode, type IdentityChanges, type IdentityEdge,
  type IdentityStore, type LinkRule, type MergeRecord, type RejectedIdentifier,
} from './identity-store.js'
import type { IdentityRules } from './identity-rules.js'

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
}

/** Creation time of existing profiles (needed to pick the older profile as a merge winner). */
export type CreatedAtLookup = (profileIds: readonly string[]) => Promise<Map<string, number>>

interface Member {
  readonly createdAt: number
  /** type -> values */
  readonly values: Map<string, Set<string>>
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
): Promise<BatchResolution> {
  // 1. One lookup for every key the batch mentions (alias previousIds both as user_id and anonymous_id).
  const keys = new Set<IdentifierKey>()
  const extractions = events.map((event) => {
    if (event.type === 'alias' && event.previousId !== undefined) {
      keys.add(identifierKey('user_id', String(event.previousId)))
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
    for (const node of nodesByProfile.get(id) ?? []) addToMember(m, node.type, node.value, node.key)
    for (const key of m.keys) owner.set(key, id)
    members.set(id, m)
  }

  const nodes = new Map<IdentifierKey, IdentifierNode>()
  const repoints: { from: string; to: string }[] = []
  const edges: IdentityEdge[] = []
  const merges: MergeRecord[] = []
  const rejections: RejectedIdentifier[] = []
  const pairs = new Set<string>()
  const resolutions: Resolution[] = []
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
      extraction = extractIdentifiers(event, rules, (p) => (owner.has(identifierKey('user_id', p)) ? 'user_id' : undefined))
    }
    const ids = [...extraction.identifiers]
    const dropped: IdentifierKey[] = []
    // 3. Merge protection.
    for (;;) {
      const conflict = findConflict(ids, owner, members, rules)
      if (conflict === null) break
      const victim = lowestInvolved(ids, conflict, owner)
      ids.splice(ids.indexOf(victim), 1)
      dropped.push(victim.key)
    }
    // 4. Attach, create or merge.
    const candidates = [...new Set(ids.map((id) => owner.get(id.key)).filter((p): p is string => p !== undefined))]
    let profileId: string
    let created = false
    const merged: string[] = []
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
        for (const [type, values] of loser.values) for (const v of values) addToMember(winner, type, v, identifierKey(type, v))
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
      addToMember(member, id.type, id.value, id.key)
      nodes.set(id.key, { key: id.key, type: id.type, value: id.value, profileId, firstSeen: time })
    }
    const anchor = ids[0]
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
    for (const key of dropped) rejections.push({ key, messageId: event.messageId, reason: 'merge_protection', profileId, eventTime: time })
    resolutions.push({ profileId, merged, created })
  })

  return { resolutions, changes: { nodes: [...nodes.values()], repoints, edges, merges, rejections } }
}

function ruleOf(event: RawEvent): LinkRule {
  return event.type
}

function addToMember(member: Member, type: string, value: string, key: IdentifierKey): void {
  let set = member.values.get(type)
  if (!set) member.values.set(type, (set = new Set()))
  set.add(value)
  member.keys.add(key)
}

/**
 * The first identifier type whose limit the union of the event's profiles and new identifiers would exceed,
 * or null. A profile already over a limit on its own (limits lowered in config) does not count as a conflict.
 */
function findConflict(
  ids: readonly ExtractedIdentifier[],
  owner: ReadonlyMap<IdentifierKey, string>,
  members: ReadonlyMap<string, Member>,
  rules: IdentityRules,
): string | null {
  const profiles = new Set<string>()
  for (const id of ids) {
    const p = owner.get(id.key)
    if (p !== undefined) profiles.add(p)
  }
  const union = new Map<string, Set<string>>()
  const largestAlone = new Map<string, number>()
  for (const p of profiles) {
    for (const [type, values] of members.get(p)!.values) {
      let set = union.get(type)
      if (!set) union.set(type, (set = new Set()))
      for (const v of values) set.add(v)
      largestAlone.set(type, Math.max(largestAlone.get(type) ?? 0, values.size))
    }
  }
  for (const id of ids) {
    if (owner.has(id.key)) continue
    let set = union.get(id.type)
    if (!set) union.set(id.type, (set = new Set()))
    set.add(id.value)
  }
  for (const rule of rules.types) {
    const size = union.get(rule.name)?.size ?? 0
    if (size > rule.limit && size > (largestAlone.get(rule.name) ?? 0)) return rule.name
  }
  return null
}

/**
 * The lowest-priority identifier that takes part in the conflict on `type`: one that brings an existing
 * profile into the union, or a new value of the conflicting type.
 */
function lowestInvolved(
  ids: readonly ExtractedIdentifier[],
  type: string,
  owner: ReadonlyMap<IdentifierKey, string>,
): ExtractedIdentifier {
  for (let i = ids.length - 1; i >= 0; i--) {
    const id = ids[i]!
    if (owner.has(id.key) || id.type === type) return id
  }
  return ids[ids.length - 1]!
}
