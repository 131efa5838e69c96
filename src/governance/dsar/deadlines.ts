/**
 * @module Legal deadlines of data-subject requests, from the time a request is received: GDPR (Art. 12(3)) one
 * month, CCPA (Cal. Civ. Code §1798.130; CCPA Regulations §7021) 45 calendar days, and an opt-out of sale/sharing
 * under CCPA 15 business days (§7026(f); weekends skipped, public holidays are not modelled, so the date is on
 * the safe side only if none falls in between). All in UTC. Extensions (GDPR +2 months, CCPA +45 days, with notice
 * to the person) are not applied automatically.
 */
import { ValidationError } from '../../core/errors.js'

export const DSAR_TYPES = ['access', 'erasure', 'opt_out', 'correct'] as const
export type DsarType = (typeof DSAR_TYPES)[number]

export const REGIMES = ['gdpr', 'ccpa'] as const
export type Regime = (typeof REGIMES)[number]

/** Jurisdictions (as in the consent ledger) → the law whose clock applies. */
const REGIME_OF: Readonly<Record<string, Regime>> = { EU: 'gdpr', EEA: 'gdpr', UK: 'gdpr', GB: 'gdpr', 'US-CA': 'ccpa' }

export function regimeOf(jurisdiction: string, field = '.jurisdiction'): Regime {
  const r = Object.hasOwn(REGIME_OF, jurisdiction) ? REGIME_OF[jurisdiction] : undefined
  if (r === undefined) throw new ValidationError(field, `${JSON.stringify(jurisdiction.slice(0, 20))} is not a jurisdiction with data-subject request deadlines (one of ${Object.keys(REGIME_OF).join(', ')})`)
  return r
}

/** The same day of the next month, or its last day when the next month is shorter (31 Jan → 28/29 Feb). */
export function addOneMonth(ms: number): number {
  const d = new Date(ms)
  const y = d.getUTCFullYear()
  const m = d.getUTCMonth() + 1
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate()
  return Date.UTC(y, m, Math.min(d.getUTCDate(), last), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds())
}

export function addBusinessDays(ms: number, days: number): number {
  let t = ms
  let left = days
  while (left > 0) {
    t += 86_400_000
    const wd = new Date(t).getUTCDay()
    if (wd !== 0 && wd !== 6) left--
  }
  return t
}

/** The deadline (ms) of a request of this type and law received at `receivedAt`. */
export function deadline(type: DsarType, regime: Regime, receivedAt: number): { dueAt: number; basis: string } {
  if (regime === 'gdpr') return { dueAt: addOneMonth(receivedAt), basis: 'GDPR Art. 12(3): one month from receipt' }
  if (type === 'opt_out') return { dueAt: addBusinessDays(receivedAt, 15), basis: 'CCPA Regulations §7026(f): 15 business days for an opt-out of sale/sharing' }
  return { dueAt: receivedAt + 45 * 86_400_000, basis: 'CCPA §1798.130(a)(2): 45 calendar days from receipt' }
}
