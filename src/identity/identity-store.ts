/** @module IdentityStore port: identifier nodes, their owning profile, the append-only edge and merge logs. */

/** `type` and normalised `value` joined by a colon: `email:ann@example.com`. */
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

export const LINK_RULES = ['identify', 'track', 'page', 'screen', 'group', 'alias', 'import'] as const
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
  /** 1 for deterministic links; the probabilistic matcher will write lower values. */
  readonly confidence: number
}

export interface MergeRecord {
  readonly winner: string
  readonly loser: string
  readonly messageId: string
  readonly rule: LinkRule
  readonly eventTime: number
}

export const REJECTION_REASONS = ['blocked_value', 'merge_protection', 'limit_exceeded'] as const
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

/** Everything one batch changed, written at once (one multi-row statement per kind where the backend allows). */
export interface IdentityChanges {
  readonly nodes: readonly IdentifierNode[]
  /** Identifiers of `from` now belong to `to` (a merge). Applied in order. */
  readonly repoints: readonly { readonly from: string; readonly to: string }[]
  readonly edges: readonly IdentityEdge[]
  readonly merges: readonly MergeRecord[]
  readonly rejections: readonly RejectedIdentifier[]
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
}

export function edgePairKey(a: IdentifierKey, b: IdentifierKey): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`
}
