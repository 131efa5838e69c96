/**
 * @module Configuration of the privacy operations (`governance.dp`, `governance.retention`, `governance.dsar`):
 * the ε budget of differentially private counts, the retention schedule per data category, and data-subject
 * requests. Validated with the rest of the config (src/config/config.ts).
 */
import { DATA_CATEGORIES, type DataCategory } from './classification.js'

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
}

export const DEFAULT_DP: DpConfig = { epsilonPerPeriod: 3, periodDays: 30, maxEpsilon: 1 }
export const DEFAULT_RETENTION: RetentionConfig = { schedules: { behavioral: 395, location: 90 }, intervalMinutes: 60 }
export const DEFAULT_DSAR: DsarConfig = {}

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
}
