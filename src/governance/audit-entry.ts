/**
 * @module What one audit entry says: who did what to which data, for which purpose and legal basis, what
 * the policy decided and which policies decided it. Any kind of entry can be logged (admin reads and exports,
 * policy reloads today; consent changes, merges, DSAR steps later): `kind` names it and `detail` carries the
 * rest. An entry is stored as its canonical JSON text, which is exactly what its Merkle leaf commits to.
 */
import type { JsonObject } from '../core/event.js'
import { canonicalJson } from './canonical-json.js'
import { leafHash } from './merkle.js'

export const AUDIT_ENTRY_VERSION = 1

/** Whose action it was: an admin API token (by its name, never the secret), Tessera itself, or the CLI. */
export interface AuditActor {
  readonly type: 'token' | 'system' | 'cli'
  readonly id: string
  readonly roles?: readonly string[]
}

/** The decision for one data category in a read. */
export interface AuditFieldDecision {
  readonly category: string
  readonly decision: 'allow' | 'mask' | 'deny'
  readonly mask?: string
  /** Field paths of this category that the read touched (names only, never values). */
  readonly paths: readonly string[]
}

export type AuditOutcome = 'allow' | 'partial' | 'deny' | 'error' | 'ok'

export interface AuditEntryInput {
  /** `admin.read`, `audit.read`, `policy.reload`, ... (dotted, lower case). */
  readonly kind: string
  readonly actor: AuditActor
  /** What was asked, e.g. `GET /v1/profiles/:id`. */
  readonly action: string
  /** Profile ids whose data the action touched (how the log is searched per person). */
  readonly subjects?: readonly string[]
  readonly purpose?: string
  readonly legalBasis?: string
  readonly decision: AuditOutcome
  readonly fields?: readonly AuditFieldDecision[]
  /** Ids of the policies that determined the decision(s). */
  readonly policyIds?: readonly string[]
  readonly reason?: string
  readonly detail?: JsonObject
}

export interface AuditEntry extends AuditEntryInput {
  readonly v: number
  /** ISO 8601, UTC, milliseconds. */
  readonly time: string
}

/** The row an {@link AuditStore} appends: the committed text plus the columns it is searched by. */
export interface NewAuditRecord {
  readonly text: string
  readonly leafHash: Buffer
  readonly time: number
  readonly kind: string
  readonly actor: string
  readonly subjects: readonly string[]
}

export function toRecord(input: AuditEntryInput, timeMs: number): NewAuditRecord {
  const entry: AuditEntry = { v: AUDIT_ENTRY_VERSION, time: new Date(timeMs).toISOString(), ...input }
  const text = canonicalJson(entry as unknown as JsonObject)
  return {
    text, leafHash: leafHash(Buffer.from(text, 'utf8')), time: timeMs, kind: input.kind,
    actor: `${input.actor.type}:${input.actor.id}`, subjects: [...new Set(input.subjects ?? [])],
  }
}
