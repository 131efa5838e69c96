/**
 * @module IdentityStore port: identifier nodes, their owning profile, the append-only edge and merge logs, and the
 * graph guards (quarantined supernodes, the contacts that detect them, split rules written by unmerges).
 */
import type { SealedIdentifierValue } from './identifier-codec.js'

/**
 * `type` and stored `value` joined by a colon: `email:ann@example.com` in a clear state, `email:~<HMAC>` in a
 * pseudonymous one (src/identity/identifier-codec.ts).
 */
export type IdentifierKey = string

export function identifierKey(type: string, value: string): IdentifierKey {
  return `${type}:${value}`
}

export function splitIdentifierKey(key: IdentifierKey): { type: string; value: string } {
  const at = key.indexOf(':')
  return { type: key.slice(0, at), value: key.slice(at + 1) }
}

export interface IdentifierNode {
  readonly key: IdentifierKey
  readonly type: string
  readonly value: string
  readonly profileId: string
  /** Event time (ms) when the identifier was first seen. */
  readonly firstSeen: number
}

export const LINK_RULES = ['identify', 'track', 'page', 'screen', 'group', 'alias', 'import', 'probabilistic'] as const
export type LinkRule = (typeof LINK_RULES)[number]

/**
 * One link between two identifiers, with the event and rule behind it. Appended once per distinct pair;
 * a profile is the connected component of these edges, which is what lets a later unmerge recompute it.
 */
export interface IdentityEdge {
  readonly from: IdentifierKey
  readonly to: IdentifierKey
  readonly rule: LinkRule
  readonly messageId: string
  readonly sourceId: string
  /** Event time, ms. */
  readonly eventTime: number
  /** 1 for deterministic links; the match probability (< 1) for a `probabilistic` link. */
  readonly confidence: number
}

export interface MergeRecord {
  readonly winner: string
  readonly loser: string
  readonly messageId: string
  readonly rule: LinkRule
  readonly eventTime: number
}

export const REJECTION_REASONS = [
  'blocked_value', 'merge_protection', 'limit_exceeded', 'component_cap', 'quarantined', 'split_rule',
] as const
export type RejectionReason = (typeof REJECTION_REASONS)[number]

/** An identifier an event carried that was not linked, and why (audit trail for merge protection). */
export interface RejectedIdentifier {
  readonly key: IdentifierKey
  readonly messageId: string
  readonly reason: RejectionReason
  /** The profile the event was attributed to instead. */
  readonly profileId: string
  readonly eventTime: number
}

/**
 * An identifier seen linking (or trying to link) a profile other than its own: the profiles of a merge it
 * caused, or the profile an event went to after the identifier was refused. The supernode guard counts the
 * distinct profiles of an identifier's contacts within its type's quarantine window.
 */
export interface IdentifierContact {
  readonly key: IdentifierKey
  readonly profileId: string
  /** Event time, ms. */
  readonly time: number
}

/** An identifier that stopped linking because it linked too many profiles (or was quarantined by an operator). */
export interface QuarantineRecord {
  readonly key: IdentifierKey
  /** Distinct profiles it had linked within the window when it was quarantined. */
  readonly profiles: number
  readonly threshold: number
  readonly windowMs: number
  /** What caused it: `supernode_guard` (the pipeline). */
  readonly cause: string
  /** The event that crossed the threshold. */
  readonly messageId: string
  /** Event time, ms. */
  readonly time: number
}

/** Two identifiers that must never be in one profile again (written by an unmerge, honoured by the resolver). */
export interface SplitRule {
  readonly a: IdentifierKey
  readonly b: IdentifierKey
  /** Seq of the unmerge that wrote it. */
  readonly unmergeSeq: number
}

/** What the resolver needs besides the graph: quarantined keys and the split rules that name a key. */
export interface GraphGuards {
  readonly quarantined: ReadonlySet<IdentifierKey>
  /** key -> keys it must never share a profile with. */
  readonly splits: ReadonlyMap<IdentifierKey, ReadonlySet<IdentifierKey>>
}

/** Everything one batch changed, written at once (one multi-row statement per kind where the backend allows). */
export interface IdentityChanges {
  readonly nodes: readonly IdentifierNode[]
  /** Identifiers of `from` now belong to `to` (a merge). Applied in order. */
  readonly repoints: readonly { readonly from: string; readonly to: string }[]
  readonly edges: readonly IdentityEdge[]
  readonly merges: readonly MergeRecord[]
  readonly rejections: readonly RejectedIdentifier[]
  readonly contacts?: readonly IdentifierContact[]
  readonly quarantines?: readonly QuarantineRecord[]
  /** Real-time matching: profiles' match records (normalised traits) and blocking keys, replacing the stored ones. */
  readonly matchRecords?: readonly MatchRecordWrite[]
  /** Real-time matching: pairs in the review band, queued for a person to decide. */
  readonly reviews?: readonly ReviewItem[]
  /**
   * Sealed clear values of pseudonymous keys (src/identity/identifier-codec.ts), kept by key; a key that has one
   * keeps it (the first seal wins, so a re-resolution or a second rejection writes nothing new).
   */
  readonly values?: readonly SealedIdentifierValue[]
}

/** A profile's match record as stored: its normalised compared traits, JSON (see src/matching/realtime.ts). */
export interface StoredMatchRecord {
  readonly profileId: string
  readonly fields: string
}

/** A candidate found through the blocking index: its stored record and which of the looked-up keys it holds. */
export interface StoredMatchCandidate extends StoredMatchRecord {
  /** The looked-up keys (those under the cap) this profile holds, in no particular order. */
  readonly keys: readonly string[]
}

export interface MatchRecordWrite extends StoredMatchRecord {
  /** Its blocking keys (the persisted blocking index). */
  readonly keys: readonly string[]
}

/** Two profiles the matcher scored in the review band. */
export interface ReviewItem {
  /** The existing profile (the candidate). */
  readonly profileA: string
  /** The profile of the event that was scored. */
  readonly profileB: string
  readonly probability: number
  readonly weight: number
  readonly messageId: string
  /** Event time, ms. */
  readonly eventTime: number
}

export const REVIEW_STATUSES = ['open', 'accepted', 'rejected'] as const
export type ReviewStatus = (typeof REVIEW_STATUSES)[number]

export interface ReviewRecord extends ReviewItem {
  readonly seq: number
  readonly status: ReviewStatus
  /** Who decided it (`token:<name>`), null while open. */
  readonly principal: string | null
  /** Wall-clock ms of the decision, null while open. */
  readonly decidedAt: number | null
}

/** One unmerge, as recorded: who asked, why, what was cut and which profiles came out. */
export interface UnmergeRecord {
  readonly profileId: string
  /** `identifier` (detached) or `edge` (removed). */
  readonly kind: 'identifier' | 'edge'
  /** The identifier key, or the edge as `from|to`. */
  readonly target: string
  /** Who asked: `token:<name>` or `cli:<user>`. */
  readonly principal: string
  readonly reason: string
  /** The resulting profiles and their identifiers. */
  readonly result: readonly { readonly profileId: string; readonly identifiers: readonly IdentifierKey[] }[]
  /** Wall-clock ms. */
  readonly time: number
}

/** One resolved event in a profile's timeline, as the unmerge rebuild reads it. */
export interface TimelineRow {
  readonly profileId: string
  readonly messageId: string
  readonly sourceId: string
  readonly timestamp: number
  /** The resolved event, JSON. */
  readonly payload: string
}

/** Write side, used inside a pipeline transaction. */
export interface IdentityStore {
  /** The profile that owns each known key; unknown keys are absent from the map. */
  lookup(keys: readonly IdentifierKey[]): Promise<Map<IdentifierKey, string>>
  /** Every identifier of these profiles (for limit and merge-protection checks). */
  identifiersOf(profileIds: readonly string[]): Promise<Map<string, IdentifierNode[]>>
  /** Which of these pairs already have an edge (pair key is `from|to` with from < to). */
  existingEdges(pairs: readonly string[]): Promise<Set<string>>
  apply(changes: IdentityChanges): Promise<void>
  /** Quarantined keys among `keys` and the split rules naming any of them (one read per batch). */
  guards(keys: readonly IdentifierKey[]): Promise<GraphGuards>
  /** For each key, the distinct profiles of its stored contacts at or after `since` (event time, ms). */
  contacts(queries: readonly { readonly key: IdentifierKey; readonly since: number }[]): Promise<Map<IdentifierKey, Set<string>>>
  /** Every quarantined identifier, newest first, with its sequence number. */
  quarantineList(options: { readonly limit: number; readonly afterSeq?: number }): Promise<(QuarantineRecord & { readonly seq: number })[]>

  // Unmerge (admin): the edge log of a component, its timeline rows, and writing the split.
  /** Every edge whose two ends are both among `keys`. */
  edgesAmong(keys: readonly IdentifierKey[]): Promise<IdentityEdge[]>
  /** The timeline rows of these profiles, oldest first. */
  timeline(profileIds: readonly string[]): Promise<TimelineRow[]>
  /** Moves timeline rows (by message and source) of `from` to another profile. */
  moveTimelineRows(moves: readonly { readonly from: string; readonly to: string; readonly messageId: string; readonly sourceId: string }[]): Promise<void>
  /** Records an unmerge and its split rules; returns the unmerge's sequence number. */
  recordUnmerge(record: UnmergeRecord, splits: readonly (readonly [IdentifierKey, IdentifierKey])[]): Promise<number>
  /** Unmerges of a profile (as the source or a result), oldest first. */
  unmerges(profileId: string): Promise<(UnmergeRecord & { readonly seq: number })[]>
  /** The merges naming any of these profiles (as winner or loser), oldest first: who merged into whom, identity side. */
  mergeLog(profileIds: readonly string[]): Promise<MergeRecord[]>

  // Real-time matching: the persisted blocking index, do-not-link pairs and the review queue.
  /**
   * The match records of the profiles sharing any of `keys`, skipping every key held by more than
   * `maxBlockSize` profiles (a stop list for common names; bounded work per lookup). Each profile comes once, with
   * the keys it was found through (the caller's blocks, without recomputing the candidates' keys).
   */
  matchCandidates(keys: readonly string[], maxBlockSize: number): Promise<StoredMatchCandidate[]>
  /** How many profiles hold each of `keys` in the blocking index, counted up to `cap + 1` (absent keys: 0). */
  matchBlockSizes(keys: readonly string[], cap: number): Promise<Map<string, number>>
  /** The stored match records of these profiles. */
  matchRecords(profileIds: readonly string[]): Promise<StoredMatchRecord[]>
  /** Do-not-link pairs (written by a rejected review) naming any of these profiles, as `a|b` with a < b. */
  doNotLink(profileIds: readonly string[]): Promise<Set<string>>
  /** Review items with this status (all when absent), oldest first, after `afterSeq`. */
  reviewList(options: { readonly limit: number; readonly afterSeq?: number; readonly status?: ReviewStatus }): Promise<ReviewRecord[]>
  /**
   * Decides an open review item (accepted or rejected, by `principal`); a rejection also writes the do-not-link
   * pair. Returns the item as it was before, or null when there is no open item with that seq.
   */
  decideReview(seq: number, status: 'accepted' | 'rejected', principal: string, time: number): Promise<ReviewRecord | null>
  /**
   * Split rules of a rejected review (stored both ways, tagged with the review's seq): the two profiles' identifiers
   * never share a profile, whatever links them later, until the review is reopened.
   */
  recordReviewSplits(reviewSeq: number, pairs: readonly (readonly [IdentifierKey, IdentifierKey])[]): Promise<void>
  /**
   * Reopens a rejected review item: its do-not-link pair and split rules are removed and it is open again. Returns the
   * item as it was (rejected), or null when there is no rejected item with that seq.
   */
  reopenReview(seq: number): Promise<ReviewRecord | null>
}

/** The key of an unordered pair of profiles. */
export function profilePairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`
}

export function edgePairKey(a: IdentifierKey, b: IdentifierKey): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`
}
