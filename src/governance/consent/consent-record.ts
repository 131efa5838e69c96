/**
 * @module What the consent ledger holds. One record says: for this identifier (`type:value`) and this purpose,
 * consent was granted or refused, from which signal (the consent API, Segment's consent object, a TCF, GPP or US
 * Privacy string, Google Consent Mode, the Sec-GPC header), when, under which legal basis and jurisdiction, with the evidence (the raw
 * string, the decoded view, the event and source it came with). A signal that cannot be decoded is kept as an
 * `invalid` record: evidence that something was sent, never a grant.
 */
import type { JsonObject } from '../../core/event.js'

/** `usp`: a US Privacy string outside GPP; `gcm`: Google Consent Mode. */
export const CONSENT_SOURCES = ['api', 'segment', 'tcf', 'gpp', 'gpc', 'usp', 'gcm'] as const
export type ConsentSource = (typeof CONSENT_SOURCES)[number]

export const CONSENT_STATES = ['granted', 'denied', 'invalid'] as const
export type ConsentState = (typeof CONSENT_STATES)[number]

/** The purpose of an `invalid` record (it decides nothing). */
export const NO_PURPOSE = '*'

export interface ConsentEvidence {
  /** The raw TC / GPP string or CMP object as received (truncated to 4 KB), when there is one. */
  readonly raw?: string
  readonly valid: boolean
  /** Why the signal was not usable. */
  readonly error?: string
  /** The event that carried the signal, and its source (write key owner). */
  readonly messageId?: string
  readonly sourceId?: string
  /** The decoded view (TCF purposes, GPP section fields, CMP categories, ...). */
  readonly decoded?: JsonObject
}

export interface ConsentRecordInput {
  /** `type:value`, normalised as identity resolution does (`email:ann@example.com`). */
  readonly identifier: string
  readonly purpose: string
  readonly state: ConsentState
  readonly source: ConsentSource
  readonly legalBasis: string
  /** `EU`, `US`, `US-CA`, ... or `UNKNOWN`. */
  readonly jurisdiction: string
  /** When Tessera received the signal (ms since epoch). */
  readonly time: number
  readonly evidence: ConsentEvidence
}

export interface StoredConsentRecord extends ConsentRecordInput {
  /** Position in the ledger; later records win. */
  readonly seq: number
}

/**
 * One decoded signal before it is attached to identifiers: the purposes it decides, the jurisdiction it
 * implies (null when it says nothing about one) and its evidence.
 */
export interface ConsentSignal {
  readonly source: ConsentSource
  readonly jurisdiction: string | null
  readonly decisions: ReadonlyMap<string, 'granted' | 'denied'>
  /** TCF special features (by configured name) the signal opts in to or not; only TCF strings carry them. */
  readonly features?: ReadonlyMap<string, 'granted' | 'denied'>
  readonly evidence: ConsentEvidence
}

export const MAX_RAW_EVIDENCE = 4096

export function invalidSignal(source: ConsentSource, raw: string | undefined, error: string): ConsentSignal {
  return {
    source, jurisdiction: null, decisions: new Map(),
    evidence: { ...(raw === undefined ? {} : { raw: raw.slice(0, MAX_RAW_EVIDENCE) }), valid: false, error: error.slice(0, 300) },
  }
}
