/**
 * @module PrivacyStore port: the persistent state of Tessera's privacy operations, apart from the state store
 * (which a replay resets): the ε budget ledger of differentially private counts, data-subject requests, and the
 * suppression list of erased people (keyed hashes of their identifiers). Adapters: a SQLite file
 * (`<dataDir>/privacy.db`) and `privacy_*` tables in PostgreSQL.
 */
import type { JsonObject } from '../core/event.js'

export interface BudgetSpend {
  /** The principal (admin token name). */
  readonly principal: string
  /** Start (ms) of the budget period. */
  readonly periodStart: number
  /** ε to spend, in millionths. */
  readonly micros: number
  /** The principal's total for the period, in millionths. */
  readonly limitMicros: number
}

export interface BudgetResult {
  /** False when the spend would exceed the limit: nothing was spent. */
  readonly ok: boolean
  /** Millionths spent in the period after this call. */
  readonly spentMicros: number
}

export type DsarStatus = 'received' | 'completed' | 'failed'

export interface DsarRecord {
  readonly id: string
  readonly type: 'access' | 'erasure' | 'opt_out' | 'correct'
  /** The identifier the person gave, `type:value` (normalised); erased from the record once an erasure completes. */
  readonly identifier: string
  readonly jurisdiction: string
  readonly regime: 'gdpr' | 'ccpa'
  readonly status: DsarStatus
  readonly receivedAt: number
  /** The deadline in force: the first one, or the extended one (`extension`). */
  readonly dueAt: number
  readonly basis: string
  /** CCPA (know, delete, correct): when receipt must be confirmed to the person; null when the law sets no such step. */
  readonly acknowledgeBy: number | null
  readonly acknowledgement: DsarAcknowledgement | null
  readonly extension: DsarExtension | null
  readonly requestedBy: string
  /** Request details (corrected traits for `correct`). */
  readonly detail: JsonObject
  /** What was done: counts, never personal data. */
  readonly result: JsonObject | null
  readonly completedAt: number | null
}

/** Receipt confirmed to the person. */
export interface DsarAcknowledgement {
  readonly at: number
  /** How the person was told: `channel <name>` (Tessera sent it) or `recorded: <what the privacy officer wrote>`. */
  readonly via: string
}

/** The one extension the law allows, told to the person with its reason before the first deadline. */
export interface DsarExtension {
  readonly at: number
  /** The deadline before the extension. */
  readonly firstDueAt: number
  readonly basis: string
  /** The reason given to the person (blanked if the person is erased: it may describe them). */
  readonly reason: string
  readonly via: string
}

export interface PrivacyStore {
  /** Creates or upgrades the tables (versioned, forward only). */
  migrate(): Promise<void>
  /** Adds `micros` to the period's spend in one atomic step, unless the total would exceed `limitMicros`. */
  spendBudget(spend: BudgetSpend): Promise<BudgetResult>
  /** Millionths spent by the principal in the period (0 when none). */
  budgetSpent(principal: string, periodStart: number): Promise<number>
  createRequest(r: DsarRecord): Promise<void>
  getRequest(id: string): Promise<DsarRecord | null>
  /** Newest first. */
  listRequests(limit: number): Promise<DsarRecord[]>
  /** Records the outcome; `identifier` and `detail` replace the stored ones (an erasure blanks them). */
  finishRequest(id: string, update: { status: DsarStatus; result: JsonObject; completedAt: number; identifier: string; detail: JsonObject }): Promise<void>
  /** Records the acknowledgement unless one is recorded already; false when there was one (or no such request). */
  acknowledgeRequest(id: string, ack: DsarAcknowledgement): Promise<boolean>
  /** Moves the deadline to `dueAt` and records the extension unless the request was extended already; false then. */
  extendRequest(id: string, dueAt: number, extension: DsarExtension): Promise<boolean>
  /**
   * Replaces these identifiers with `(erased)` in every request record that names one, and blanks those requests'
   * details, extension reasons and the officer's own words on how the person was told (`recorded: ...`); returns how many.
   */
  redactRequests(identifierKeys: readonly string[]): Promise<number>
  /** Adds keyed hashes of erased identifiers (idempotent). */
  addSuppressions(hashes: readonly string[], requestId: string, time: number): Promise<void>
  /** Which of these hashes are suppressed. */
  suppressed(hashes: readonly string[]): Promise<Set<string>>
  /** Whether the suppression list holds any hash (it only grows: nothing removes a suppression). */
  hasSuppressions(): Promise<boolean>
  close(): Promise<void>
}
