/**
 * @module PrivacyStore port: the persistent state of Tessera's privacy operations, apart from the state store
 * (which a replay resets): the ε budget ledger of differentially private counts. Adapters: a SQLite file
 * (`<dataDir>/privacy.db`) and `privacy_*` tables in PostgreSQL.
 */

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

export interface PrivacyStore {
  /** Creates or upgrades the tables (versioned, forward only). */
  migrate(): Promise<void>
  /** Adds `micros` to the period's spend in one atomic step, unless the total would exceed `limitMicros`. */
  spendBudget(spend: BudgetSpend): Promise<BudgetResult>
  /** Millionths spent by the principal in the period (0 when none). */
  budgetSpent(principal: string, periodStart: number): Promise<number>
  close(): Promise<void>
}
