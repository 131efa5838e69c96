/**
 * @module The consent ledger service: records signals per identifier (only what changes: the same answer from
 * the same signal with the same evidence is not written again), writes an audit entry for every change, and
 * answers effective consent. Ingest calls {@link ConsentLedger.governEvents}: the signals an event carries are
 * recorded first, then the attributes that no allowed purpose may use are dropped or hashed, and those of a refused
 * TCF special feature dropped (special-features.ts), before the event is appended. The pipeline, audiences and
 * exports call {@link ConsentLedger.effectiveConsent}.
 */
import type { JsonValue } from '../../core/event.js'
import type { AuditActor, AuditEntryInput } from '../audit-entry.js'
import type { Classifier, DataCategory } from '../classification.js'
import type { ConsentConfig, EnforcementAction } from './consent-config.js'
import { categoriesToEnforce, enforceConsent } from './consent-enforcement.js'
import { NO_PURPOSE, type ConsentRecordInput, type ConsentSignal, type StoredConsentRecord } from './consent-record.js'
import { signalsOf } from './consent-signals.js'
import { featurePurpose, refusedFeatureFields } from './special-features.js'
import type { ConsentStore, LedgerCursor } from './consent-store.js'
import { assertPurpose, defaultState, effectiveConsent, jurisdictionOf, readConsent, UNKNOWN_JURISDICTION, type ConsentDecision } from './effective-consent.js'
import type { IdentifierCondition } from '../../profiles/profile-reader.js'

export interface ConsentLedgerOptions {
  readonly store: ConsentStore
  readonly config: ConsentConfig
  readonly classifier: Classifier
  /** Keyed hash of an attribute value (enforcement) — the same key as masked reads, so hashes join. */
  readonly hash: (value: JsonValue) => JsonValue
  /** Keyed hash of an identifier for audit entries (the audit log is never erased, so it holds no raw identifiers). */
  readonly pseudonymize: (identifier: string) => string
  /** Writes an audit entry (the audit log of governance); resolves once stored. */
  readonly audit: (entry: AuditEntryInput) => Promise<number>
  readonly now: () => number
}

/** Where a signal came from, for the records and the audit entry. */
export interface SignalOrigin {
  readonly actor: AuditActor
  /** `ingest` or the API route. */
  readonly action: string
  readonly sourceId?: string
  readonly messageId?: string
  /** Jurisdiction for signals that imply none (a country code or jurisdiction name). */
  readonly jurisdictionHint?: string | null
}

/** An event to govern at ingest: its stored form and the identifiers it carries (`type:value`). */
export interface GovernedEvent<T> {
  readonly event: T
  readonly identifiers: readonly string[]
}

const MAX_AUDITED_CHANGES = 100

function countryOf(event: Readonly<Record<string, unknown>>): string | null {
  const pick = (root: unknown, ...path: string[]): unknown => {
    let v = root
    for (const k of path) {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, k)) return undefined
      v = (v as Record<string, unknown>)[k]
    }
    return v
  }
  for (const v of [pick(event, 'context', 'location', 'country'), pick(event, 'traits', 'address', 'country'), pick(event, 'traits', 'country'), pick(event, 'context', 'traits', 'address', 'country')]) {
    if (typeof v === 'string' && v.trim() !== '') return v
  }
  return null
}

export class ConsentLedger {
  readonly #o: ConsentLedgerOptions

  constructor(options: ConsentLedgerOptions) {
    this.#o = options
  }

  get config(): ConsentConfig {
    return this.#o.config
  }

  /**
   * Records signals for identifiers, skipping what would not change the ledger (given `inForce`, the latest
   * records of these identifiers, which is updated in place). Returns the records appended.
   */
  async record(identifiers: readonly string[], signals: readonly ConsentSignal[], origin: SignalOrigin, inForce?: StoredConsentRecord[]): Promise<StoredConsentRecord[]> {
    if (identifiers.length === 0 || signals.length === 0) return []
    const current = inForce ?? await this.#o.store.latest(identifiers)
    const latest = new Map<string, StoredConsentRecord>()
    for (const r of current) latest.set(`${r.identifier}\u0000${r.purpose}`, r)
    const time = this.#o.now()
    const hint = jurisdictionOf(origin.jurisdictionHint, this.#o.config) ?? UNKNOWN_JURISDICTION
    const out: ConsentRecordInput[] = []
    for (const signal of signals) {
      const evidence = { ...signal.evidence, ...(origin.sourceId === undefined ? {} : { sourceId: origin.sourceId }), ...(origin.messageId === undefined ? {} : { messageId: origin.messageId }) }
      const jurisdiction = signal.jurisdiction ?? hint
      for (const identifier of identifiers) {
        if (!signal.evidence.valid) {
          out.push({ identifier, purpose: NO_PURPOSE, state: 'invalid', source: signal.source, legalBasis: 'none', jurisdiction, time, evidence })
          continue
        }
        const add = (purpose: string, state: 'granted' | 'denied', legalBasis: string): void => {
          const before = latest.get(`${identifier}\u0000${purpose}`)
          if (before && before.state === state && before.source === signal.source && before.evidence.raw === signal.evidence.raw && before.jurisdiction === jurisdiction) return
          const rec: ConsentRecordInput = { identifier, purpose, state, source: signal.source, legalBasis, jurisdiction, time, evidence }
          out.push(rec)
          latest.set(`${identifier}\u0000${purpose}`, { ...rec, seq: Number.MAX_SAFE_INTEGER })
        }
        for (const [purpose, state] of signal.decisions) {
          const p = Object.hasOwn(this.#o.config.purposes, purpose) ? this.#o.config.purposes[purpose] : undefined
          if (p !== undefined) add(purpose, state, p.legalBasis)
        }
        // A special feature is an opt-in of its own (special-features.ts), recorded under its `feature:` purpose.
        for (const [name, state] of signal.features ?? []) {
          if (Object.hasOwn(this.#o.config.tcfSpecialFeatures, name)) add(featurePurpose(name), state, 'consent')
        }
      }
    }
    if (out.length === 0) return []
    const seqs = await this.#o.store.append(out)
    const stored = out.map((r, i) => ({ ...r, seq: seqs[i]! }))
    if (inForce) {
      // Keep the caller's view current (later events of the same request see these records).
      for (const s of stored) if (s.state !== 'invalid') inForce.push(s)
    }
    await this.#o.audit({
      kind: 'consent.change', actor: origin.actor, action: origin.action, decision: 'ok',
      detail: {
        changes: stored.slice(0, MAX_AUDITED_CHANGES).map((s) => ({
          seq: s.seq, identifier: this.#o.pseudonymize(s.identifier), purpose: s.purpose, state: s.state, source: s.source,
          legalBasis: s.legalBasis, jurisdiction: s.jurisdiction, ...(s.evidence.error === undefined ? {} : { error: s.evidence.error }),
        })),
        total: stored.length,
        ...(origin.sourceId === undefined ? {} : { sourceId: origin.sourceId }),
        ...(origin.messageId === undefined ? {} : { messageId: origin.messageId }),
      },
    })
    return stored
  }

  /**
   * What the pipeline and later audiences and exports ask: may these identifiers' data be used for `purpose`?
   * A refusal on any identifier wins; identifiers without a record of their own count with their jurisdiction's
   * default (`jurisdictionHint`: the profile's residency or the event's country, for identifiers whose records
   * name no jurisdiction).
   */
  async effectiveConsent(identifiers: readonly string[], purpose: string, jurisdictionHint?: string | null): Promise<ConsentDecision> {
    const records = await this.#o.store.latest(identifiers)
    return effectiveConsent(records, identifiers, purpose, this.#o.config, jurisdictionHint)
  }

  /** Effective consent for every configured purpose. */
  async effectiveAll(identifiers: readonly string[], jurisdictionHint?: string | null): Promise<ConsentDecision[]> {
    const records = await this.#o.store.latest(identifiers)
    return Object.keys(this.#o.config.purposes).map((p) => effectiveConsent(records, identifiers, p, this.#o.config, jurisdictionHint))
  }

  /**
   * Which profiles an aggregate over `purpose` may include, as a condition on their identifiers (a refusal on any
   * identifier excludes the profile, as in `effectiveConsent`). Only identifiers with records can differ from the
   * default of an identifier nobody said anything about.
   * - When the purpose's default is the same in every jurisdiction (e.g. analytics on legitimate interest, allowed
   *   until refused), the answer is exact: no identifier among those whose own records refuse it (or, for a default
   *   refusal, every identifier among those whose records grant it).
   * - When the default depends on where the person is, and an identifier's records name no jurisdiction, where
   *   they are would come from the profile's residency, which the condition cannot see: such an identifier counts
   *   only with a grant of its own (never counting someone the default could refuse).
   *
   * The first call for a purpose reads the whole ledger, a page at a time; later calls read only the identifiers
   * with records appended since (`ConsentStore.changes`), so a count costs what changed, not the ledger's size.
   * Calls run one at a time; the answer reflects every record committed before the call.
   */
  async aggregateCondition(purpose: string, pageSize = 5000): Promise<IdentifierCondition> {
    assertPurpose(purpose, this.#o.config)
    const answer = this.#aggregateQueue.then(() => this.#followAggregate(purpose, pageSize))
    this.#aggregateQueue = answer.then(() => undefined, () => undefined)
    return answer
  }

  /** Per purpose: the identifiers whose answer differs from the default, as of a ledger position. */
  readonly #aggregates = new Map<string, { cursor: LedgerCursor; differing: Set<string> }>()
  #aggregateQueue: Promise<void> = Promise.resolve()

  async #followAggregate(purpose: string, pageSize: number): Promise<IdentifierCondition> {
    const config = this.#o.config
    const places = [UNKNOWN_JURISDICTION, ...Object.keys(config.jurisdictions)]
    const defaults = new Set(places.map((j) => defaultState(purpose, j, config)))
    const uniform = defaults.size === 1
    const allowedByDefault = uniform && defaults.has('granted')
    const store = this.#o.store
    const classify = async (identifiers: readonly string[], differing: Set<string>): Promise<void> => {
      if (identifiers.length === 0) return
      const decision = effectiveConsent(await store.latest(identifiers), identifiers, purpose, config, null)
      for (const i of decision.identifiers) {
        const allowed = i.state === 'granted' && (uniform || i.by === 'record' || i.jurisdiction !== UNKNOWN_JURISDICTION)
        if (allowed !== allowedByDefault) differing.add(i.identifier)
        else differing.delete(i.identifier)
      }
    }
    let state = this.#aggregates.get(purpose)
    if (state === undefined) {
      // The position first: what is appended during the full read is read again from it (harmless: same answer).
      const { next } = await store.changes(null, 0)
      const differing = new Set<string>()
      let after: string | undefined
      for (;;) {
        const page = await store.identifiers({ limit: pageSize, ...(after === undefined ? {} : { after }) })
        await classify(page, differing)
        if (page.length < pageSize) break
        after = page.at(-1)
      }
      state = { cursor: next, differing }
    }
    let cursor = state.cursor
    for (;;) {
      const page = await store.changes(cursor, pageSize)
      await classify(page.identifiers, state.differing)
      cursor = page.next
      if (!page.more) break
    }
    state.cursor = cursor
    this.#aggregates.set(purpose, state)
    const keys = [...state.differing].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    return allowedByDefault ? { identifiers: 'none', keys } : { identifiers: 'all', keys }
  }

  /** Does an admin read for this purpose depend on consent (`governance.consent.readPurposes`)? */
  needsConsent(readPurpose: string): boolean {
    return Object.hasOwn(this.#o.config.readPurposes, readPurpose) && this.#o.config.readPurposes[readPurpose]!.length > 0
  }

  /** The consent state an admin read for `readPurpose` carries into the Cedar context (see `readConsent`). */
  async readConsentState(identifiers: readonly string[], readPurpose: string, jurisdictionHint?: string | null): Promise<ReturnType<typeof readConsent>> {
    const needed = Object.hasOwn(this.#o.config.readPurposes, readPurpose) ? this.#o.config.readPurposes[readPurpose]! : []
    if (needed.length === 0) return 'not_required'
    return readConsent(await this.#o.store.latest(identifiers), identifiers, readPurpose, this.#o.config, jurisdictionHint)
  }

  history(identifier: string, options: { readonly limit: number; readonly afterSeq?: number }): Promise<StoredConsentRecord[]> {
    return this.#o.store.history(identifier, options)
  }

  /**
   * Ingest: records the consent signals of every event (all of a request's identifiers read in one query), then
   * returns each event with the attributes no allowed purpose may use dropped or hashed. An event that needs no
   * change is returned as the same object.
   */
  async governEvents<T extends Readonly<Record<string, unknown>>>(events: readonly GovernedEvent<T>[], request: { readonly sourceId: string; readonly gpc: boolean }): Promise<T[]> {
    const all = [...new Set(events.flatMap((e) => e.identifiers))]
    const inForce = all.length === 0 ? [] : await this.#o.store.latest(all)
    const out: T[] = []
    // Most events of a request share their situation (same jurisdiction hint, no record of their own), so the
    // categories to enforce are computed once per situation: identifiers without records all count with the
    // jurisdiction's default, so only the identifiers that have records, and whether any has none, matter.
    const memo = new Map<string, { enforce: Map<DataCategory, EnforcementAction>; fields: string[] }>()
    let recorded = new Set(inForce.map((r) => r.identifier))
    for (const { event, identifiers } of events) {
      const hint = countryOf(event)
      const signals = signalsOf(event.context, request.gpc, this.#o.config)
      if (signals.length > 0) {
        await this.record(identifiers, signals, {
          actor: { type: 'system', id: `source:${request.sourceId}` }, action: 'ingest', sourceId: request.sourceId,
          ...(typeof event.messageId === 'string' ? { messageId: event.messageId } : {}), jurisdictionHint: hint,
        }, inForce)
        recorded = new Set(inForce.map((r) => r.identifier))
        memo.clear()
      }
      const withRecords = identifiers.filter((id) => recorded.has(id)).sort()
      const situation = `${hint ?? ''}\u0000${withRecords.length < identifiers.length}\u0000${withRecords.join('\u0000')}`
      let rules = memo.get(situation)
      if (rules === undefined) {
        const states = new Map<string, 'granted' | 'denied'>()
        for (const purpose of Object.keys(this.#o.config.purposes)) {
          states.set(purpose, effectiveConsent(inForce, identifiers, purpose, this.#o.config, hint).state)
        }
        rules = { enforce: categoriesToEnforce(states, this.#o.config), fields: refusedFeatureFields(inForce, identifiers, this.#o.config) }
        memo.set(situation, rules)
      }
      out.push(enforceConsent(event, rules.enforce, this.#o.classifier, this.#o.hash, rules.fields).event)
    }
    return out
  }
}
