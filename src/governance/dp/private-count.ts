/**
 * @module Differentially private profile counts: checks that the principal may read every field the filter
 * names (stats access for the stated purpose, clear access to each field's category), spends ε from the
 * principal's budget for the current period (atomic; refused when invalid or exhausted), counts in the state
 * store and releases the count with exact discrete Laplace noise. A region-bound token is refused: a count spans
 * every region, which its row-level rule would not allow it to see.
 *
 * A count is processing for the stated purpose: people whose consent refuses the consent purposes that admin
 * purpose needs (`governance.consent.readPurposes`: analytics → analytics) are not counted
 * (ConsentLedger.aggregateCondition), before the noise is added.
 */
import type { Clock } from '../../core/clock.js'
import { TesseraError } from '../../core/errors.js'
import type { FilterCondition, ProfileReader } from '../../profiles/profile-reader.js'
import type { AccessScope } from '../access-control.js'
import type { ConsentLedger } from '../consent/consent-ledger.js'
import type { DpConfig } from '../privacy-config.js'
import type { PrivacyStore } from '../privacy-store.js'
import { classificationPath, parseCountFilter } from './count-filter.js'
import { EPSILON_SCALE, epsilonMicros, noisyCount, parseEpsilon } from './discrete-laplace.js'

const DAY_MS = 86_400_000

export interface BudgetState {
  readonly total: number
  readonly spent: number
  readonly remaining: number
  readonly periodStart: string
  readonly periodEnd: string
}

export interface PrivateCountResult {
  readonly count: number
  readonly epsilon: number
  readonly mechanism: 'discrete_laplace'
  readonly sensitivity: 1
  /** Fields the filter read (classification paths, never values). */
  readonly fields: readonly string[]
  readonly budget: BudgetState
  /** The consent purposes whose refusals were left out of the count (empty: the admin purpose needs none). */
  readonly consentPurposes: readonly string[]
}

export class PrivateCounter {
  readonly #reader: ProfileReader
  readonly #store: PrivacyStore
  readonly #config: DpConfig
  readonly #clock: Clock
  readonly #ledger: ConsentLedger | null

  /** Refuses a filter the store cannot count by (a sealed trait: src/profiles/profile-sealing.ts), before any ε is spent. */
  readonly #assertCountable: (filter: readonly FilterCondition[]) => void

  constructor(options: {
    reader: ProfileReader; store: PrivacyStore; config: DpConfig; clock: Clock; ledger: ConsentLedger | null
    assertCountable?: (filter: readonly FilterCondition[]) => void
  }) {
    this.#assertCountable = options.assertCountable ?? (() => {})
    this.#reader = options.reader
    this.#store = options.store
    this.#config = options.config
    this.#clock = options.clock
    this.#ledger = options.ledger
  }

  #period(): { start: number; end: number } {
    const length = this.#config.periodDays * DAY_MS
    const start = Math.floor(this.#clock.now() / length) * length
    return { start, end: start + length }
  }

  #budget(spentMicros: number, period: { start: number; end: number }): BudgetState {
    const totalMicros = Math.round(this.#config.epsilonPerPeriod * EPSILON_SCALE)
    return {
      total: this.#config.epsilonPerPeriod, spent: spentMicros / EPSILON_SCALE, remaining: Math.max(0, totalMicros - spentMicros) / EPSILON_SCALE,
      periodStart: new Date(period.start).toISOString(), periodEnd: new Date(period.end).toISOString(),
    }
  }

  /** The principal's budget in the current period. */
  async budget(principal: string): Promise<BudgetState> {
    const period = this.#period()
    return this.#budget(await this.#store.budgetSpent(principal, period.start), period)
  }

  async count(scope: AccessScope, filterText: string, epsilonText: string): Promise<PrivateCountResult> {
    scope.requireSystem('readStats', 'stats')
    if (scope.principal.attributes.region !== undefined) {
      throw new TesseraError('TESSERA_FORBIDDEN', `this token is bound to the region ${scope.principal.attributes.region}; a count spans every region, so it is not available to region-bound tokens`)
    }
    const filter = parseCountFilter(filterText)
    const target = { id: '(aggregate)', region: 'UNKNOWN' }
    const fields = [...new Set(filter.map(classificationPath))]
    for (const path of fields) scope.requireClearField(target, path, `counting by ${path}`)
    this.#assertCountable(filter)
    const epsilon = parseEpsilon(epsilonText, this.#config.maxEpsilon)
    const micros = epsilonMicros(epsilon)
    const period = this.#period()
    const limitMicros = Math.round(this.#config.epsilonPerPeriod * EPSILON_SCALE)
    const spent = await this.#store.spendBudget({ principal: scope.principal.name, periodStart: period.start, micros, limitMicros })
    if (!spent.ok) {
      const b = this.#budget(spent.spentMicros, period)
      throw new TesseraError('TESSERA_FORBIDDEN', `the privacy budget of ${scope.principal.name} is exhausted: ε ${micros / EPSILON_SCALE} asked, ${b.remaining} of ${b.total} left until ${b.periodEnd} (governance.dp.epsilonPerPeriod)`)
    }
    const ledger = this.#ledger
    const consentPurposes = ledger === null || !Object.hasOwn(ledger.config.readPurposes, scope.purpose) ? [] : [...ledger.config.readPurposes[scope.purpose]!]
    const consent = ledger === null ? [] : await Promise.all(consentPurposes.map((p) => ledger.aggregateCondition(p)))
    const trueCount = await this.#reader.countProfiles(filter, consent)
    return {
      count: noisyCount(trueCount, epsilon), epsilon: micros / EPSILON_SCALE, mechanism: 'discrete_laplace', sensitivity: 1, fields,
      budget: this.#budget(spent.spentMicros, period), consentPurposes,
    }
  }
}
