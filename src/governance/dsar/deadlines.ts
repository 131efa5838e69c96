/**
 * @module Legal deadlines of data-subject requests, from the time a request is received: GDPR (Art. 12(3)) one
 * month, CCPA (Cal. Civ. Code §1798.130; CCPA Regulations §7021) 45 calendar days, and an opt-out of sale/sharing
 * under CCPA 15 business days (§7026(f); weekends skipped, public holidays are not modelled, so the date is on
 * the safe side only if none falls in between). All in UTC.
 *
 * Besides the answer's deadline: the CCPA wants a request to know, delete or correct acknowledged within 10 business
 * days (§7021(a)), and both laws allow one extension, with notice to the person (and the reasons) before the first
 * deadline passes: GDPR by two further months (Art. 12(3)), CCPA by 45 more days, 90 in all (§1798.130(a)(2)(A);
 * §7021(b)). An opt-out of sale/sharing has neither: it is applied within its 15 business days, without extension.
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

/** The same day `n` months later, or that month's last day when it is shorter (31 Jan + 1 → 28/29 Feb). */
export function addMonths(ms: number, n: number): number {
  const d = new Date(ms)
  const y = d.getUTCFullYear()
  const m = d.getUTCMonth() + n
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate()
  return Date.UTC(y, m, Math.min(d.getUTCDate(), last), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds())
}

export function addOneMonth(ms: number): number {
  return addMonths(ms, 1)
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

/** When receipt must be acknowledged, or null when the law sets no separate acknowledgement (GDPR; a CCPA opt-out). */
export function acknowledgementDeadline(type: DsarType, regime: Regime, receivedAt: number): { dueAt: number; basis: string } | null {
  if (regime !== 'ccpa' || type === 'opt_out') return null
  return { dueAt: addBusinessDays(receivedAt, 10), basis: 'CCPA Regulations §7021(a): confirm receipt within 10 business days' }
}

/**
 * The deadline after the one extension the law allows, computed from the first deadline, or null when the request
 * cannot be extended (a CCPA opt-out). Notice must reach the person before `firstDueAt`.
 */
export function extendedDeadline(type: DsarType, regime: Regime, firstDueAt: number): { dueAt: number; basis: string } | null {
  if (regime === 'gdpr') return { dueAt: addMonths(firstDueAt, 2), basis: 'GDPR Art. 12(3): extended by two further months, the person told why within the first month' }
  if (type === 'opt_out') return null
  return { dueAt: firstDueAt + 45 * 86_400_000, basis: 'CCPA §1798.130(a)(2)(A): extended by 45 days (90 in all), the person told why within the first 45' }
}
