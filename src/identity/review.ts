/**
 * @module Deciding a review item of the real-time matcher (admin API). Accept merges the two profiles inside one
 * state transaction: the graph guards are checked first (a unique identifier held with two values, a split rule
 * between the two sides, the size cap: a person's "yes" never overrides them), then the younger profile's
 * identifiers are repointed to the older one, a scored `probabilistic` edge and a merge are recorded with the
 * principal, and the profile rows and timelines are merged as the pipeline merges them. Reject records a
 * do-not-link pair, so the pair is never proposed again. Both record who decided.
 */
import { TesseraError } from '../core/errors.js'
import { mergeProfiles } from '../profiles/profile-updates.js'
import type { StateTransaction } from '../storage/state-backend.js'
import type { IdentityRules } from './identity-rules.js'
import type { IdentifierNode, ReviewRecord } from './identity-store.js'

export interface ReviewDecision {
  readonly seq: number
  readonly decision: 'accept' | 'reject'
  /** `token:<name>`. */
  readonly principal: string
  /** Wall-clock ms. */
  readonly now: number
}

export interface ReviewOutcome {
  readonly item: ReviewRecord
  readonly status: 'accepted' | 'rejected'
  /** The surviving profile of an accepted merge. */
  readonly profileId: string | null
  readonly merged: string | null
}

function earliest(nodes: readonly IdentifierNode[]): IdentifierNode {
  return [...nodes].sort((a, b) => a.firstSeen - b.firstSeen || (a.key < b.key ? -1 : 1))[0]!
}

/** Decides an open review item; throws TESSERA_NOT_FOUND (no open item) or TESSERA_CONFLICT (the merge is refused). */
export async function decideReviewItem(tx: StateTransaction, rules: IdentityRules, request: ReviewDecision): Promise<ReviewOutcome> {
  const status = request.decision === 'accept' ? 'accepted' : 'rejected'
  const item = await tx.identity.decideReview(request.seq, status, request.principal, request.now)
  if (item === null) throw new TesseraError('TESSERA_NOT_FOUND', `no open review item ${request.seq} (GET /v1/identity/review lists them)`)
  if (status === 'rejected') return { item, status, profileId: null, merged: null }

  const ids = [item.profileA, item.profileB]
  const profiles = await tx.profiles.get(ids)
  for (const id of ids) {
    const p = profiles.get(id)
    if (!p || p.mergedInto !== null) {
      throw new TesseraError('TESSERA_CONFLICT', `profile ${id} of review item ${item.seq} has been merged or removed since it was queued; nothing to merge`)
    }
  }
  // Reading the keys through lookup takes the identity locks (PostgreSQL) a pipeline batch would take.
  const nodes = await tx.identity.identifiersOf(ids)
  const all = [...(nodes.get(item.profileA) ?? []), ...(nodes.get(item.profileB) ?? [])]
  const owners = await tx.identity.lookup(all.map((n) => n.key))
  const side = new Map(all.filter((n) => owners.get(n.key) === n.profileId).map((n) => [n.key, n.profileId]))
  const a = (nodes.get(item.profileA) ?? []).filter((n) => side.get(n.key) === item.profileA)
  const b = (nodes.get(item.profileB) ?? []).filter((n) => side.get(n.key) === item.profileB)
  if (a.length === 0 || b.length === 0) throw new TesseraError('TESSERA_CONFLICT', `a profile of review item ${item.seq} has no identifiers left; nothing to merge`)
  for (const rule of rules.types.filter((t) => t.unique)) {
    const values = new Set([...a, ...b].filter((n) => n.type === rule.name).map((n) => n.value))
    if (values.size > 1) throw new TesseraError('TESSERA_CONFLICT', `the two profiles hold different ${rule.name} values (a unique identifier: two people); refused`)
  }
  const guards = await tx.identity.guards([...a, ...b].map((n) => n.key))
  for (const n of a) {
    for (const m of b) {
      if (guards.splits.get(n.key)?.has(m.key)) throw new TesseraError('TESSERA_CONFLICT', `an unmerge split these profiles apart (split rule on ${n.type} and ${m.type}); refused`)
    }
  }
  const cap = Math.min(...[...a, ...b].map((n) => rules.byName(n.type)?.maxProfileIdentifiers ?? Infinity))
  if (a.length + b.length > cap) throw new TesseraError('TESSERA_CONFLICT', `the merged profile would hold ${a.length + b.length} identifiers, over the cap of ${cap}; refused`)

  const pa = profiles.get(item.profileA)!
  const pb = profiles.get(item.profileB)!
  const [winner, loser] = pa.createdAt < pb.createdAt || (pa.createdAt === pb.createdAt && pa.id < pb.id) ? [pa, pb] : [pb, pa]
  const [wNodes, lNodes] = winner === pa ? [a, b] : [b, a]
  const messageId = `review:${item.seq}`
  await tx.identity.apply({
    nodes: [], rejections: [],
    repoints: [{ from: loser.id, to: winner.id }],
    edges: [{
      from: earliest(wNodes).key, to: earliest(lNodes).key, rule: 'probabilistic', messageId, sourceId: request.principal,
      eventTime: request.now, confidence: Math.min(item.probability, 1 - Number.EPSILON),
    }],
    merges: [{ winner: winner.id, loser: loser.id, messageId, rule: 'probabilistic', eventTime: request.now }],
  })
  await tx.profiles.put([mergeProfiles(winner, loser, request.now), { ...loser, mergedInto: winner.id, updatedAt: request.now }])
  await tx.profiles.moveEvents([{ from: loser.id, to: winner.id }])
  return { item, status, profileId: winner.id, merged: loser.id }
}
