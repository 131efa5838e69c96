/**
 * @module Unmerge: splits a profile by recomputing its component from the edge log without one identifier (detached
 * into a profile of its own) or one edge, then rebuilds each resulting profile's traits and counters from its own
 * events (the timeline rows hold the resolved events), and writes split rules so the resolver never joins the
 * parts again. Runs inside one state transaction: on SQLite the caller's `BEGIN IMMEDIATE` serialises it against
 * pipeline batches; on PostgreSQL `lookup` of the component's keys takes the advisory locks the batches take.
 *
 * With inline profile updates the profile rows and timelines are rebuilt here, in the same transaction. With
 * partitioned updates they belong to the owners of events.resolved partitions: the transaction recomputes the identity
 * graph and queues an unmerge notice for every profile of the old component (the kept one and each profile merged
 * into it, found in the identity side's merge log), which the owners apply in order with the rest of their partition
 * (see src/pipeline/stages/unmerge-routing.ts); the outcome then says the parts are being rebuilt.
 *
 * Trimmed timelines (`pipeline.timelineLimit`): events older than the kept timeline cannot be attributed. They stay
 * counted on the profile that keeps the original id (their share of counters and the traits they set), and the
 * outcome says how many there were (`complete: false`).
 */
import { deterministicId } from '../core/hash.js'
import type { JsonObject, RawEvent } from '../core/event.js'
import { TesseraError } from '../core/errors.js'
import type { ProfileRecord } from '../profiles/profile-store.js'
import { applyEvent, eventName, newProfile } from '../profiles/profile-updates.js'
import type { StateTransaction } from '../storage/state-backend.js'
import { routeKey, type UnmergeNotice } from '../profiles/profile-messages.js'
import { attributeEvent } from './attribute-event.js'
import { edgePairKey, type IdentifierKey, type IdentifierNode, type TimelineRow } from './identity-store.js'
import type { IdentityRules } from './identity-rules.js'

export type UnmergeTarget =
  | { readonly identifier: IdentifierKey }
  | { readonly edge: { readonly from: IdentifierKey; readonly to: IdentifierKey } }

export interface UnmergeRequest {
  readonly profileId: string
  readonly target: UnmergeTarget
  /** Who asks, e.g. `token:ops`. */
  readonly principal: string
  readonly reason: string
  /** Wall-clock ms. */
  readonly now: number
}

export interface UnmergedProfile {
  readonly profileId: string
  readonly identifiers: readonly IdentifierKey[]
  /** Null while the profile owners rebuild the part (partitioned profile updates). */
  readonly eventCount: number | null
  readonly traits: JsonObject | null
  /** True for the profile that keeps the original id. */
  readonly kept: boolean
}

export interface UnmergeOutcome {
  readonly seq: number
  readonly profileId: string
  readonly profiles: readonly UnmergedProfile[]
  /** `done`: the parts were rebuilt in the transaction; `queued`: the profile owners rebuild them (partitioned). */
  readonly rebuild: 'done' | 'queued'
  /** False when the timeline had been trimmed: `unattributedEvents` stayed on the kept profile. Null when queued. */
  readonly complete: boolean | null
  readonly unattributedEvents: number | null
}

export interface UnmergeOptions {
  /** Where profile rows are written: in this transaction (inline) or by the owners of events.resolved (partitioned). */
  readonly profileUpdates: 'inline' | 'partitioned'
}

function notFound(message: string): TesseraError {
  return new TesseraError('TESSERA_NOT_FOUND', message)
}

/**
 * The surviving profile by the identity side's merge log (partitioned profile updates, where profile rows lag):
 * `id` itself unless it lost a merge.
 */
async function identitySurvivor(tx: StateTransaction, id: string): Promise<string> {
  let current = id
  for (let hops = 0; hops < 64; hops++) {
    const lost = (await tx.identity.mergeLog([current])).find((m) => m.loser === current)
    if (!lost) return current
    current = lost.winner
  }
  throw new TesseraError('TESSERA_STORE', `merge chain from ${id} is longer than 64 hops`)
}

/** The profile and every profile merged into it, transitively, by the identity side's merge log. */
export async function componentMembers(tx: StateTransaction, id: string): Promise<string[]> {
  const members = new Set([id])
  let frontier = [id]
  while (frontier.length > 0) {
    const next: string[] = []
    for (const m of await tx.identity.mergeLog(frontier)) {
      if (frontier.includes(m.winner) && !members.has(m.loser)) {
        members.add(m.loser)
        next.push(m.loser)
      }
    }
    frontier = next
  }
  return [...members]
}

/** Follows merge pointers to the surviving profile (inside the transaction). */
async function survivor(tx: StateTransaction, id: string): Promise<ProfileRecord> {
  let current = id
  for (let hops = 0; hops < 64; hops++) {
    const p = (await tx.profiles.get([current])).get(current)
    if (!p) throw notFound(`profile ${id} not found`)
    if (p.mergedInto === null) return p
    current = p.mergedInto
  }
  throw new TesseraError('TESSERA_STORE', `merge chain from ${id} is longer than 64 hops`)
}

/** Connected components of `keys` over `edges` (union-find), each sorted, in order of their earliest key. */
export function components(keys: readonly IdentifierKey[], edges: readonly { from: IdentifierKey; to: IdentifierKey }[]): IdentifierKey[][] {
  const parent = new Map(keys.map((k) => [k, k]))
  const find = (k: IdentifierKey): IdentifierKey => {
    let root = k
    while (parent.get(root) !== root) root = parent.get(root)!
    parent.set(k, root)
    return root
  }
  for (const e of edges) {
    if (!parent.has(e.from) || !parent.has(e.to)) continue
    const [a, b] = [find(e.from), find(e.to)]
    if (a !== b) parent.set(a < b ? b : a, a < b ? a : b)
  }
  const groups = new Map<IdentifierKey, IdentifierKey[]>()
  for (const k of keys) {
    const root = find(k)
    groups.set(root, [...(groups.get(root) ?? []), k])
  }
  return [...groups.values()].map((g) => g.sort()).sort((a, b) => (a[0]! < b[0]! ? -1 : 1))
}

export async function unmergeProfile(
  tx: StateTransaction, rules: IdentityRules, request: UnmergeRequest, options: UnmergeOptions = { profileUpdates: 'inline' },
): Promise<UnmergeOutcome> {
  const partitioned = options.profileUpdates === 'partitioned'
  const old = partitioned ? null : await survivor(tx, request.profileId)
  const pid = old?.id ?? (await identitySurvivor(tx, request.profileId))
  // Lock the component as a pipeline batch would (PostgreSQL advisory locks), then read it under the lock.
  const before = (await tx.identity.identifiersOf([pid])).get(pid) ?? []
  await tx.identity.lookup(before.map((n) => n.key))
  const nodes: IdentifierNode[] = (await tx.identity.identifiersOf([pid])).get(pid) ?? []
  if (partitioned && nodes.length === 0) throw notFound(`profile ${request.profileId} not found (it holds no identifiers)`)
  const keys = nodes.map((n) => n.key)
  const held = new Set(keys)
  const edges = await tx.identity.edgesAmong(keys)

  let remaining = edges
  let detached: IdentifierKey | null = null
  let target: string
  if ('identifier' in request.target) {
    detached = request.target.identifier
    target = detached
    if (!held.has(detached)) throw notFound(`profile ${pid} holds no identifier ${detached} (see GET /v1/profiles/${pid}/identities)`)
    if (keys.length < 2) throw new TesseraError('TESSERA_CONFLICT', `profile ${pid} holds only ${detached}: there is nothing to detach it from`)
    remaining = edges.filter((e) => e.from !== detached && e.to !== detached)
  } else {
    const { from, to } = request.target.edge
    const pair = edgePairKey(from, to)
    target = pair
    if (!edges.some((e) => edgePairKey(e.from, e.to) === pair)) {
      throw notFound(`profile ${pid} has no edge between ${from} and ${to} (see the edges in GET /v1/profiles/${pid}/identities)`)
    }
    remaining = edges.filter((e) => edgePairKey(e.from, e.to) !== pair)
  }
  const groups = detached === null
    ? components(keys, remaining)
    : [[detached], ...components(keys.filter((k) => k !== detached), remaining)]
  if (groups.length < 2) {
    throw new TesseraError('TESSERA_CONFLICT',
      `removing the edge ${target} does not split profile ${pid}: other links still connect its identifiers; unmerge one of the identifiers instead`)
  }

  // The part holding the earliest-seen identifier (never the detached one) keeps the id.
  const firstSeen = new Map(nodes.map((n) => [n.key, n.firstSeen]))
  const earliest = (g: readonly IdentifierKey[]): number => Math.min(...g.map((k) => firstSeen.get(k) ?? Infinity))
  const candidates = groups.filter((g) => !(g.length === 1 && g[0] === detached))
  const keptGroup = candidates.reduce((best, g) => (earliest(g) < earliest(best) ? g : best))
  const idOf = new Map<IdentifierKey[], string>(groups.map((g) => [g, g === keptGroup ? pid : deterministicId('p_', 'unmerge', pid, g[0]!)]))
  const groupOfKey = new Map<IdentifierKey, string>()
  for (const g of groups) for (const k of g) groupOfKey.set(k, idOf.get(g)!)

  const moved = nodes.filter((n) => groupOfKey.get(n.key) !== pid).map((n) => ({ ...n, profileId: groupOfKey.get(n.key)! }))
  // Split rules: the detached identifier never rejoins any part; a removed edge's two sides never meet again.
  const splits: [IdentifierKey, IdentifierKey][] = 'edge' in request.target
    ? [[request.target.edge.from, request.target.edge.to]]
    : keys.filter((k) => k !== detached).map((k) => [detached!, k])
  const result = groups.map((g) => ({ profileId: idOf.get(g)!, identifiers: g }))
  const record = async (): Promise<number> => tx.identity.recordUnmerge({
    profileId: pid, kind: detached === null ? 'edge' : 'identifier', target, principal: request.principal, reason: request.reason,
    result, time: request.now,
  }, splits)

  if (old === null) {
    // Partitioned: the identity graph now, the profile rows by their owners, told in order through the outbox.
    await tx.identity.apply({ nodes: moved, repoints: [], edges: [], merges: [], rejections: [] })
    const seq = await record()
    const members = await componentMembers(tx, pid)
    const parts = result.map((r) => ({ profileId: r.profileId, keys: r.identifiers.map(routeKey), createdAt: earliest(r.identifiers) }))
    const told = [...members, ...result.map((r) => r.profileId).filter((id) => !members.includes(id))]
    const notices: UnmergeNotice[] = told.map((profile) => ({
      control: 'unmerge', profile, unmerge: seq, kept: pid, members, parts, detached: detached === null ? null : routeKey(detached), time: request.now,
    }))
    await tx.control.enqueue(notices.map((n) => ({ key: n.profile, value: JSON.stringify(n) })), request.now)
    return {
      seq, profileId: pid, rebuild: 'queued', complete: null, unattributedEvents: null,
      profiles: result.map((r) => ({ profileId: r.profileId, identifiers: r.identifiers, eventCount: null, traits: null, kept: r.profileId === pid })),
    }
  }

  // Attribute each timeline event to the part owning its highest-priority identifier.
  const rows = await tx.identity.timeline([pid])
  const byProfile = new Map<string, { row: TimelineRow; event: RawEvent }[]>([...idOf.values()].map((id) => [id, []]))
  for (const row of rows) {
    const event = JSON.parse(row.payload) as RawEvent
    byProfile.get(attributeEvent(event, rules, (key) => groupOfKey.get(key), (key) => key === detached, pid))!.push({ row, event })
  }

  const unattributed = Math.max(0, old.eventCount - rows.length)
  const profiles: ProfileRecord[] = []
  for (const [id, events] of byProfile) {
    const createdAt = id === pid ? old.createdAt : Math.min(events[0]?.row.timestamp ?? Infinity, earliest(groups.find((g) => idOf.get(g) === id)!))
    let p = newProfile(id, createdAt, request.now)
    if (id === pid && unattributed > 0) p = carryUnattributed(p, old, rows)
    if (events.length > 0 && id === pid && unattributed === 0) p = { ...p, firstSeen: events[0]!.row.timestamp, lastSeen: events[0]!.row.timestamp }
    if (events.length > 0 && id !== pid) p = { ...p, firstSeen: events[0]!.row.timestamp, lastSeen: events[0]!.row.timestamp }
    for (const { row, event } of events) p = applyEvent(p, event, row.timestamp, request.now)
    profiles.push(p)
  }

  await tx.identity.apply({ nodes: moved, repoints: [], edges: [], merges: [], rejections: [] })
  await tx.identity.moveTimelineRows([...byProfile].flatMap(([id, events]) => (id === pid ? [] : events.map(({ row }) => ({
    from: pid, to: id, messageId: row.messageId, sourceId: row.sourceId,
  })))))
  await tx.profiles.put(profiles)
  const seq = await record()
  return {
    seq, profileId: pid, rebuild: 'done', complete: unattributed === 0, unattributedEvents: unattributed,
    profiles: profiles.map((p) => ({
      profileId: p.id, identifiers: result.find((r) => r.profileId === p.id)!.identifiers, eventCount: p.eventCount, traits: p.traits, kept: p.id === pid,
    })),
  }
}

/**
 * The kept profile's share of what the trimmed events did: counters beyond what the kept timeline explains, and
 * traits set before the oldest kept event (or never by a kept event).
 */
function carryUnattributed(base: ProfileRecord, old: ProfileRecord, rows: readonly TimelineRow[]): ProfileRecord {
  const explainedNames = new Map<string, number>()
  const explainedSources = new Map<string, number>()
  for (const row of rows) {
    const event = JSON.parse(row.payload) as RawEvent
    explainedNames.set(eventName(event), (explainedNames.get(eventName(event)) ?? 0) + 1)
    explainedSources.set(row.sourceId, (explainedSources.get(row.sourceId) ?? 0) + 1)
  }
  const rest = (counts: Readonly<Record<string, number>>, explained: Map<string, number>): Record<string, number> => {
    const out: Record<string, number> = {}
    for (const [k, n] of Object.entries(counts)) {
      const left = n - (explained.get(k) ?? 0)
      if (left > 0) out[k] = left
    }
    return out
  }
  const oldest = rows[0]?.timestamp ?? Infinity
  const traits: JsonObject = {}
  const traitTimes: Record<string, number> = {}
  for (const [k, v] of Object.entries(old.traits)) {
    const t = old.traitTimes[k] ?? 0
    if (t < oldest) {
      traits[k] = v
      traitTimes[k] = t
    }
  }
  return {
    ...base, traits, traitTimes, firstSeen: old.firstSeen, lastSeen: old.firstSeen,
    eventCount: Math.max(0, old.eventCount - rows.length),
    eventCounts: rest(old.eventCounts, explainedNames), sourceCounts: rest(old.sourceCounts, explainedSources),
  }
}
