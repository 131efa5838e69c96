/**
 * @module Deciding a review item of the real-time matcher (admin API). Accept merges the two profiles inside one
 * state transaction: the graph guards are checked first (a unique identifier held with two values, a split rule
 * between the two sides, the size cap: a person's "yes" never overrides them), then the younger profile's
 * identifiers are repointed to the older one, a scored `probabilistic` edge and a merge are recorded with the
 * principal, and the profile rows and timelines are merged as the pipeline merges them (inline profile updates), or
 * a merge notice is queued for the profile owners (partitioned: they fold the loser into the winner as for any
 * merge).
 *
 * Reject records a do-not-link pair and split rules between the two profiles' identifiers, the rules an unmerge
 * writes: a person said "not the same", and a CDP that is correct where others over-merge must not merge them later
 * through a shared e-mail or device either. Such a link is refused (`split_rule`, in GET /v1/profiles/{id}/identities)
 * until an admin reopens the item (the rules go; the item can then be accepted). All three record who decided.
 */
import { TesseraError } from '../core/errors.js'
import { mergeProfiles } from '../profiles/profile-updates.js'
import type { StateTransaction } from '../storage/state-backend.js'
import type { IdentityRules } from './identity-rules.js'
import type { IdentifierKey, IdentifierNode, ReviewRecord } from './identity-store.js'
import type { MergeNotice } from '../profiles/profile-messages.js'

export interface ReviewDecision {
  readonly seq: number
  readonly decision: 'accept' | 'reject' | 'reopen'
  /** `token:<name>`. */
  readonly principal: string
  /** Wall-clock ms. */
  readonly now: number
}

export interface ReviewOutcome {
  readonly item: ReviewRecord
  readonly status: 'accepted' | 'rejected' | 'open'
  /** The surviving profile of an accepted merge. */
  readonly profileId: string | null
  readonly merged: string | null
}

function earliest(nodes: readonly IdentifierNode[]): IdentifierNode {
  return [...nodes].sort((a, b) => a.firstSeen - b.firstSeen || (a.key < b.key ? -1 : 1))[0]!
}

export interface ReviewOptions {
  /** Where profile rows are written: in this transaction (inline) or by the owners of events.resolved (partitioned). */
  readonly profileUpdates: 'inline' | 'partitioned'
}

/** The identifiers each profile of the pair owns now, read through lookup (which takes the identity locks on PostgreSQL). */
async function ownIdentifiers(tx: StateTransaction, item: ReviewRecord): Promise<{ a: IdentifierNode[]; b: IdentifierNode[] }> {
  const nodes = await tx.identity.identifiersOf([item.profileA, item.profileB])
  const all = [...(nodes.get(item.profileA) ?? []), ...(nodes.get(item.profileB) ?? [])]
  const owners = await tx.identity.lookup(all.map((n) => n.key))
  const side = new Map(all.filter((n) => owners.get(n.key) === n.profileId).map((n) => [n.key, n.profileId]))
  return {
    a: (nodes.get(item.profileA) ?? []).filter((n) => side.get(n.key) === item.profileA),
    b: (nodes.get(item.profileB) ?? []).filter((n) => side.get(n.key) === item.profileB),
  }
}

/**
 * Decides an open review item (accept, reject) or reopens a rejected one; throws TESSERA_NOT_FOUND (no such item in
 * that state) or TESSERA_CONFLICT (the merge is refused).
 */
export async function decideReviewItem(
  tx: StateTransaction, rules: IdentityRules, request: ReviewDecision, options: ReviewOptions = { profileUpdates: 'inline' },
): Promise<ReviewOutcome> {
  if (request.decision === 'reopen') {
    const item = await tx.identity.reopenReview(request.seq)
    if (item === null) throw new TesseraError('TESSERA_NOT_FOUND', `no rejected review item ${request.seq} (GET /v1/identity/review?status=rejected lists them)`)
    return { item, status: 'open', profileId: null, merged: null }
  }
  const status = request.decision === 'accept' ? 'accepted' : 'rejected'
  const item = await tx.identity.decideReview(request.seq, status, request.principal, request.now)
  if (item === null) throw new TesseraError('TESSERA_NOT_FOUND', `no open review item ${request.seq} (GET /v1/identity/review lists them)`)
  if (status === 'rejected') {
    // The two sides never share a profile again: split rules between every identifier of one and of the other.
    const { a, b } = await ownIdentifiers(tx, item)
    const pairs: [IdentifierKey, IdentifierKey][] = a.flatMap((x) => b.map((y): [IdentifierKey, IdentifierKey] => [x.key, y.key]))
    await tx.identity.recordReviewSplits(item.seq, pairs)
    return { item, status, profileId: null, merged: null }
  }

  const partitioned = options.profileUpdates === 'partitioned'
  const ids = [item.profileA, item.profileB]
  // Partitioned: profile rows lag behind the graph; the identifiers below tell whether a profile was merged away.
  const profiles = partitioned ? null : await tx.profiles.get(ids)
  for (const id of ids) {
    const p = profiles?.get(id)
    if (profiles && (!p || p.mergedInto !== null)) {
      throw new TesseraError('TESSERA_CONFLICT', `profile ${id} of review item ${item.seq} has been merged or removed since it was queued; nothing to merge`)
    }
  }
  const { a, b } = await ownIdentifiers(tx, item)
  if (a.length === 0 || b.length === 0) throw new TesseraError('TESSERA_CONFLICT', `a profile of review item ${item.seq} has no identifiers left (merged since it was queued); nothing to merge`)
  for (const rule of rules.types.filter((t) => t.unique)) {
    const values = new Set([...a, ...b].filter((n) => n.type === rule.name).map((n) => n.value))
    if (values.size > 1) throw new TesseraError('TESSERA_CONFLICT', `the two profiles hold different ${rule.name} values (a unique identifier: two people); refused`)
  }
  const guards = await tx.identity.guards([...a, ...b].map((n) => n.key))
  for (const n of a) {
    for (const m of b) {
      if (guards.splits.get(n.key)?.has(m.key)) throw new TesseraError('TESSERA_CONFLICT', `a split rule (from an unmerge or a rejected review) keeps these profiles apart (${n.type} and ${m.type}); refused`)
    }
  }
  const cap = Math.min(rules.maxProfileSize, ...[...a, ...b].map((n) => rules.byName(n.type)?.maxProfileIdentifiers ?? Infinity))
  if (a.length + b.length > cap) throw new TesseraError('TESSERA_CONFLICT', `the merged profile would hold ${a.length + b.length} identifiers, over the cap of ${cap}; refused`)

  // The older profile wins: by its row's created-at (inline), or by its earliest identifier (partitioned, as the
  // pipeline decides there).
  const age = (id: string, nodes: readonly IdentifierNode[]): number => profiles?.get(id)?.createdAt ?? earliest(nodes).firstSeen
  const [ageA, ageB] = [age(item.profileA, a), age(item.profileB, b)]
  const aWins = ageA < ageB || (ageA === ageB && item.profileA < item.profileB)
  const [winner, loser] = aWins ? [item.profileA, item.profileB] : [item.profileB, item.profileA]
  const [wNodes, lNodes] = aWins ? [a, b] : [b, a]
  const messageId = `review:${item.seq}`
  await tx.identity.apply({
    nodes: [], rejections: [],
    repoints: [{ from: loser, to: winner }],
    edges: [{
      from: earliest(wNodes).key, to: earliest(lNodes).key, rule: 'probabilistic', messageId, sourceId: request.principal,
      eventTime: request.now, confidence: Math.min(item.probability, 1 - Number.EPSILON),
    }],
    merges: [{ winner, loser, messageId, rule: 'probabilistic', eventTime: request.now }],
  })
  if (profiles) {
    const [w, l] = [profiles.get(winner)!, profiles.get(loser)!]
    await tx.profiles.put([mergeProfiles(w, l, request.now), { ...l, mergedInto: winner, updatedAt: request.now }])
    await tx.profiles.moveEvents([{ from: loser, to: winner }])
  } else {
    // The loser's owner folds it into the winner, as after any merge the pipeline makes.
    const notice: MergeNotice = { control: 'merge', from: loser, into: winner, messageId, time: request.now }
    await tx.control.enqueue([{ key: loser, value: JSON.stringify(notice) }], request.now)
  }
  return { item, status, profileId: winner, merged: loser }
}
