/**
 * @module Configuration of the privacy operations (`governance.dp`, `governance.retention`, `governance.dsar`):
 * the ε budget of differentially private counts, the retention schedule per data category, and data-subject
 * requests. Validated with the rest of the config (src/config/config.ts).
 */
import { DATA_CATEGORIES, type DataCategory } from './classification.js'
import { webhookUrlProblem } from './dsar/webhook-channel.js'

export interface DpConfig {
  /** Total ε one principal (admin token) may spend on counts per period. */
  readonly epsilonPerPeriod: number
  /** Length of a budget period in days; periods are aligned to the Unix epoch (UTC). */
  readonly periodDays: number
  /** The largest ε one count may spend. */
  readonly maxEpsilon: number
}

export interface RetentionConfig {
  /** Days a value of this data category is kept (by its event time); a category without an entry is kept. */
  readonly schedules: Readonly<Partial<Record<DataCategory, number>>>
  /** Minutes between retention runs inside `tessera up` (main process); 0 turns the job off. */
  readonly intervalMinutes: number
}

export interface DsarConfig {
  /** Key of the suppression list's HMAC (32 random bytes, hex); default `<dataDir>/suppression.key`, created on first use. */
  readonly suppressionKeyFile?: string
  /** Verification of the requester before a request runs (docs/privacy.md, "Verifying the requester"). */
  readonly verification: DsarVerificationConfig
}

export interface DsarVerificationConfig {
  /** Where one-time codes are POSTed (HTTPS, or HTTP to localhost); without it, only a privacy officer's attestation verifies. */
  readonly webhookUrl?: string
  /** The webhook's HMAC secret (64 hex characters); default `<dataDir>/dsar-webhook.key`, created on first use. */
  readonly webhookSecretFile?: string
  /** A webhook call that takes longer fails (the code is withdrawn). */
  readonly webhookTimeoutMs: number
  /** How long a code verifies. */
  readonly codeTtlMinutes: number
  /** Tries per code; the code is locked after them. */
  readonly maxAttempts: number
  /** Codes per request; after them only an attestation verifies. */
  readonly maxCodes: number
}

export const DEFAULT_DSAR_VERIFICATION: DsarVerificationConfig = { webhookTimeoutMs: 5000, codeTtlMinutes: 30, maxAttempts: 5, maxCodes: 3 }

export const DEFAULT_DP: DpConfig = { epsilonPerPeriod: 3, periodDays: 30, maxEpsilon: 1 }
export const DEFAULT_RETENTION: RetentionConfig = { schedules: { behavioral: 395, location: 90 }, intervalMinutes: 60 }
export const DEFAULT_DSAR: DsarConfig = { verification: DEFAULT_DSAR_VERIFICATION }

type Need = (ok: boolean, field: string, message: string) => void

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0

export function validatePrivacyConfig(g: { dp: DpConfig; retention: RetentionConfig; dsar: DsarConfig }, need: Need): void {
  need(isObject(g.dp), 'governance.dp', 'must be an object { "epsilonPerPeriod", "periodDays", "maxEpsilon" }')
  need(positive(g.dp.epsilonPerPeriod) && g.dp.epsilonPerPeriod <= 1000, 'governance.dp.epsilonPerPeriod', 'must be a number > 0 (the total ε per token and period, e.g. 3)')
  need(Number.isInteger(g.dp.periodDays) && g.dp.periodDays >= 1, 'governance.dp.periodDays', 'must be a whole number of days >= 1')
  need(positive(g.dp.maxEpsilon) && g.dp.maxEpsilon <= g.dp.epsilonPerPeriod && Number.isInteger(Math.round(g.dp.maxEpsilon * 1e6)) && Math.abs(g.dp.maxEpsilon * 1e6 - Math.round(g.dp.maxEpsilon * 1e6)) < 1e-6,
    'governance.dp.maxEpsilon', 'must be a number > 0 with at most 6 decimals, not above epsilonPerPeriod')
  need(isObject(g.retention) && isObject(g.retention.schedules), 'governance.retention.schedules', 'must map data categories to days, e.g. { "behavioral": 395, "location": 90 }')
  for (const [category, days] of Object.entries(g.retention.schedules)) {
    need((DATA_CATEGORIES as readonly string[]).includes(category), `governance.retention.schedules.${category}`, `is not a data category (one of ${DATA_CATEGORIES.join(', ')})`)
    need(Number.isInteger(days) && (days as number) >= 1, `governance.retention.schedules.${category}`, 'must be a whole number of days >= 1')
  }
  need(typeof g.retention.intervalMinutes === 'number' && Number.isFinite(g.retention.intervalMinutes) && g.retention.intervalMinutes >= 0,
    'governance.retention.intervalMinutes', 'must be a number of minutes >= 0 (0 turns the job in `tessera up` off)')
  need(isObject(g.dsar), 'governance.dsar', 'must be an object')
  need(g.dsar.suppressionKeyFile === undefined || (typeof g.dsar.suppressionKeyFile === 'string' && g.dsar.suppressionKeyFile.length > 0),
    'governance.dsar.suppressionKeyFile', 'must be a file path')
  const v = g.dsar.verification
  const f = 'governance.dsar.verification'
  need(isObject(v), f, 'must be an object { "webhookUrl", "codeTtlMinutes", "maxAttempts", "maxCodes", ... }')
  if (v.webhookUrl !== undefined) {
    const problem = typeof v.webhookUrl === 'string' ? webhookUrlProblem(v.webhookUrl) : 'must be a URL'
    need(problem === null, `${f}.webhookUrl`, `${problem ?? ''} (e.g. https://notify.example.com/tessera/codes)`)
  }
  need(v.webhookSecretFile === undefined || (typeof v.webhookSecretFile === 'string' && v.webhookSecretFile.length > 0), `${f}.webhookSecretFile`, 'must be a file path')
  need(Number.isInteger(v.webhookTimeoutMs) && v.webhookTimeoutMs >= 100 && v.webhookTimeoutMs <= 60_000, `${f}.webhookTimeoutMs`, 'must be a whole number of milliseconds between 100 and 60000')
  need(Number.isInteger(v.codeTtlMinutes) && v.codeTtlMinutes >= 1 && v.codeTtlMinutes <= 7 * 24 * 60, `${f}.codeTtlMinutes`, 'must be a whole number of minutes between 1 and 10080 (a week)')
  need(Number.isInteger(v.maxAttempts) && v.maxAttempts >= 1 && v.maxAttempts <= 10, `${f}.maxAttempts`, 'must be a whole number between 1 and 10 (each try is a guess at an 8-digit code)')
  need(Number.isInteger(v.maxCodes) && v.maxCodes >= 1 && v.maxCodes <= 10, `${f}.maxCodes`, 'must be a whole number between 1 and 10')
}
