/**
 * @module Data-subject requests: recorded with their legal deadline (deadlines.ts), verified (the requester must
 * prove who they are before anything but an opt-out runs: requester-verification.ts), then run step by step, each
 * step an audit entry.
 * - access: a machine-readable export of everything Tessera holds on the person: profile, identities, links,
 *   merges, timeline, consent records, and the audit entries of every read of their data.
 * - erasure: suppresses the person's identifiers first (keyed hashes; the pipeline drops their new and replayed
 *   events), appends a consent tombstone (refusal of every purpose) to each identifier that has consent records,
 *   then deletes them from the state store (ErasureStore), and blanks the identifier in the request record.
 *   Last, it destroys the data keys of the person's event-log subjects (identifier values, profile ids), so their
 *   sealed records in the event log can no longer be read (crypto-shredding); the answer says what that covers.
 * - opt_out: records a refusal of sale/sharing and advertising in the consent ledger for all their identifiers.
 * - correct: sends the corrected traits as an identify event through the pipeline, so history stays consistent.
 * Besides running it, a request is acknowledged (the CCPA wants receipt confirmed within 10 business days) and may be
 * extended once, with the reason told to the person before the first deadline (deadlines.ts); the notice goes
 * through the verification channel, or the privacy officer records how they sent it.
 */
import { createHash, randomUUID } from 'node:crypto'
import type { Clock } from '../../core/clock.js'
import { TesseraError, ValidationError } from '../../core/errors.js'
import type { JsonObject, JsonValue, RawEvent } from '../../core/event.js'
import type { ProfileReader } from '../../profiles/profile-reader.js'
import type { AuditActor } from '../audit-entry.js'
import type { AuditLog } from '../audit-log.js'
import type { ConsentLedger } from '../consent/consent-ledger.js'
import type { DsarRecord, PrivacyStore } from '../privacy-store.js'
import { DSAR_TYPES, acknowledgementDeadline, deadline, extendedDeadline, regimeOf, type DsarType } from './deadlines.js'
import type { ErasureStore } from './erasure-store.js'
import type { RequesterVerification } from './requester-verification.js'
import type { SuppressionList } from './suppression.js'
import type { RequesterNotice, VerificationChannel } from './verification-channel.js'

/** What an erasure tells about the event log when the keyring shredded the person's data keys. */
export const EVENT_LOG_NOTICE = 'The event log (events.raw, events.resolved, events.dead-letter) keeps the person\'s records, sealed under their ' +
  'data keys, which are now destroyed (crypto-shredding): nobody can read them any more, a replay skips them, and their suppressed identifiers keep ' +
  'new events out. Records written while encryption was off stay readable until log retention deletes them; copies made outside Tessera ' +
  '(backups of keys.db taken before the erasure, downstream consumers) are not covered.'

/** The notice when encryption was never on here: the log holds the raw events. */
export const PLAIN_EVENT_LOG_NOTICE = 'The event log (events.raw, events.resolved) holds the events as received until log retention deletes them: ' +
  'encryption (governance.encryption.enabled) is off, so there are no data keys to shred; a replay cannot bring the person back because their ' +
  'identifiers are suppressed.'

/**
 * The event-log subjects of a person: the values of their identifiers (a record of events.raw is keyed by its
 * anonymousId or userId) and their profile ids (events.resolved is keyed by profile id).
 */
export function logSubjectsOf(identifierKeys: readonly string[], profileIds: readonly string[]): string[] {
  const values = identifierKeys.map((k) => k.slice(k.indexOf(':') + 1)).filter((v) => v !== '')
  return [...new Set([...values, ...profileIds])]
}

/** How a notice went, for the audit log: the channel's name, or only that the officer recorded it (their words may name the person). */
function auditedVia(via: string): string {
  return via.startsWith('recorded:') ? 'recorded' : via
}

export interface DsarServiceOptions {
  readonly store: PrivacyStore
  readonly reader: ProfileReader
  readonly openErasure: () => Promise<ErasureStore>
  readonly ledger: ConsentLedger | null
  readonly audit: AuditLog
  readonly suppression: SuppressionList
  /** Requester verification: every request but an opt-out waits for it. */
  readonly verification: RequesterVerification
  /** Where notices to the person go (acknowledgement, extension); null when the officer sends them and records how. */
  readonly channel: VerificationChannel | null
  readonly clock: Clock
  /** `type:value` → the normalised identifier (or a 400 naming `field`). */
  readonly identifierOf: (text: string, field: string) => { type: string; value: string; key: string }
  /** Appends events to events.raw (the correction's identify). */
  readonly appendRaw: (events: readonly RawEvent[]) => Promise<void>
  /**
   * The stored key of a clear `type:value` key (the state's identifier codec: itself, or `type:~<HMAC>`): the
   * suppression list and the state stores hold stored keys.
   */
  readonly storedKey: (key: string) => string
  /** Destroys the data keys of these event-log subjects (the keyring's `shred`); null when encryption was never on. */
  readonly shred: ((subjects: readonly string[]) => Promise<number>) | null
}

export interface DsarInput {
  readonly type: string
  readonly identifier: string
  readonly jurisdiction: string
  readonly traits?: JsonObject
}

/** How a notice reached the person: `via` names how the officer sent it; without it, Tessera sends it through the channel. */
export interface NoticeInput {
  readonly via?: string
}

export interface DsarRunResult {
  readonly request: DsarRecord
  readonly export?: JsonObject
  readonly notice?: string
}

const OPT_OUT_PURPOSES = ['sale_share', 'advertising']

export class DsarService {
  readonly #o: DsarServiceOptions

  constructor(options: DsarServiceOptions) {
    this.#o = options
  }

  async create(input: DsarInput, actor: AuditActor): Promise<DsarRecord> {
    if (!(DSAR_TYPES as readonly string[]).includes(input.type)) throw new ValidationError('.type', `must be one of ${DSAR_TYPES.join(', ')}`)
    const type = input.type as DsarType
    const id = this.#o.identifierOf(input.identifier, '.identifier')
    const regime = regimeOf(input.jurisdiction)
    if (type === 'correct' && (input.traits === undefined || Object.keys(input.traits).length === 0)) {
      throw new ValidationError('.traits', 'a correction needs the corrected traits, e.g. { "email": "new@example.com" }')
    }
    if (type !== 'correct' && input.traits !== undefined) throw new ValidationError('.traits', 'only a correction takes traits')
    const now = this.#o.clock.now()
    const due = deadline(type, regime, now)
    const record: DsarRecord = {
      id: randomUUID(), type, identifier: id.key, jurisdiction: input.jurisdiction, regime, status: 'received', receivedAt: now,
      dueAt: due.dueAt, basis: due.basis, acknowledgeBy: acknowledgementDeadline(type, regime, now)?.dueAt ?? null, acknowledgement: null, extension: null,
      requestedBy: `${actor.type}:${actor.id}`, detail: input.traits === undefined ? {} : { traits: input.traits }, result: null, completedAt: null,
    }
    await this.#o.store.createRequest(record)
    await this.#o.verification.init(record)
    await this.#o.audit.record({
      kind: 'dsar.create', actor, action: `create ${type} request`, purpose: 'privacy_request', decision: 'ok',
      detail: { requestId: record.id, type, identifierType: id.type, jurisdiction: input.jurisdiction, dueAt: new Date(record.dueAt).toISOString() },
    })
    return record
  }

  async get(id: string): Promise<DsarRecord> {
    const r = await this.#o.store.getRequest(id)
    if (!r) throw new TesseraError('TESSERA_NOT_FOUND', `data-subject request ${id} not found`)
    return r
  }

  list(limit: number): Promise<DsarRecord[]> {
    return this.#o.store.listRequests(limit)
  }

  async #profileOf(key: string): Promise<string | null> {
    const at = key.indexOf(':')
    const found = await this.#o.reader.profileIdByIdentifier(key.slice(0, at), key.slice(at + 1))
    return found === null ? null : this.#o.reader.canonicalId(found)
  }

  async run(id: string, actor: AuditActor): Promise<DsarRunResult> {
    const r = await this.get(id)
    if (r.status === 'completed') throw new TesseraError('TESSERA_CONFLICT', `data-subject request ${id} is already completed (${new Date(r.completedAt ?? 0).toISOString()})`)
    try {
      await this.#o.verification.requireVerified(r)
    } catch (error) {
      await this.#o.audit.record({ kind: `dsar.${r.type}`, actor, action: `run ${r.type} request`, purpose: 'privacy_request', decision: 'deny', reason: (error as Error).message.slice(0, 300), detail: { requestId: r.id } })
      throw error
    }
    const profileId = await this.#profileOf(r.identifier)
    const base = { kind: `dsar.${r.type}`, actor, action: `run ${r.type} request`, purpose: 'privacy_request', subjects: profileId === null ? [] : [profileId] }
    try {
      let out: { result: JsonObject; export?: JsonObject; notice?: string; identifier?: string; detail?: JsonObject }
      switch (r.type) {
        case 'access': out = await this.#access(r, profileId); break
        case 'erasure': out = await this.#erase(r, profileId, actor); break
        case 'opt_out': out = await this.#optOut(r, profileId, actor); break
        case 'correct': out = await this.#correct(r); break
      }
      const completedAt = this.#o.clock.now()
      await this.#o.store.finishRequest(r.id, { status: 'completed', result: out.result, completedAt, identifier: out.identifier ?? r.identifier, detail: out.detail ?? r.detail })
      // The verification evidence of this and every other request naming the erased person may describe them.
      if (r.type === 'erasure') out.result.verificationEvidenceErased = await this.#o.verification.eraseEvidence()
      await this.#o.audit.record({ ...base, decision: 'ok', detail: { requestId: r.id, ...out.result } })
      const request = await this.get(r.id)
      return { request, ...(out.export ? { export: out.export } : {}), ...(out.notice ? { notice: out.notice } : {}) }
    } catch (error) {
      await this.#o.audit.record({ ...base, decision: 'error', reason: (error as Error).message.slice(0, 300), detail: { requestId: r.id } })
      throw error
    }
  }

  /**
   * Confirms receipt to the person: through the channel, or recorded as sent by the officer (`via`). Once only; a late
   * acknowledgement is recorded as late. Audited.
   */
  async acknowledge(id: string, input: NoticeInput, actor: AuditActor): Promise<DsarRecord> {
    const r = await this.get(id)
    if (r.acknowledgement !== null) {
      throw new TesseraError('TESSERA_CONFLICT', `data-subject request ${id} was acknowledged already (${new Date(r.acknowledgement.at).toISOString()}, ${r.acknowledgement.via})`)
    }
    const now = this.#o.clock.now()
    const via = await this.#notify(r, input, { kind: 'acknowledgement', dueAt: new Date(r.dueAt).toISOString() }, actor, 'dsar.acknowledgement')
    if (!(await this.#o.store.acknowledgeRequest(r.id, { at: now, via }))) {
      throw new TesseraError('TESSERA_CONFLICT', `data-subject request ${id} was acknowledged meanwhile by someone else`)
    }
    const late = r.acknowledgeBy !== null && now > r.acknowledgeBy
    await this.#o.audit.record({
      kind: 'dsar.acknowledgement', actor, action: `acknowledge ${r.type} request`, purpose: 'privacy_request', decision: 'ok',
      detail: { requestId: r.id, via: auditedVia(via), late, ...(r.acknowledgeBy === null ? {} : { acknowledgeBy: new Date(r.acknowledgeBy).toISOString() }) },
    })
    return this.get(r.id)
  }

  /**
   * The one extension the law allows (GDPR two further months, CCPA 45 days), told to the person with its reason
   * before the first deadline passes: after that, or for a CCPA opt-out, or for a completed request, it is refused.
   * The reason is kept with the request (blanked if the person is erased); the audit entry holds its SHA-256.
   */
  async extend(id: string, input: NoticeInput & { readonly reason: string }, actor: AuditActor): Promise<DsarRecord> {
    const r = await this.get(id)
    const reason = input.reason.trim()
    if (reason.length < 10) throw new ValidationError('.reason', 'must say why the request needs more time (at least 10 characters): the person is told this reason')
    if (r.status === 'completed') throw new TesseraError('TESSERA_CONFLICT', `data-subject request ${id} is completed: there is nothing to extend`)
    if (r.extension !== null) throw new TesseraError('TESSERA_CONFLICT', `data-subject request ${id} was extended already, to ${new Date(r.dueAt).toISOString()}: the law allows one extension`)
    const extended = extendedDeadline(r.type, r.regime, r.dueAt)
    if (extended === null) throw new TesseraError('TESSERA_CONFLICT', `a ${r.regime.toUpperCase()} ${r.type} request cannot be extended: it must be applied by ${new Date(r.dueAt).toISOString()}`)
    const now = this.#o.clock.now()
    if (now > r.dueAt) {
      throw new TesseraError('TESSERA_CONFLICT', `the extension had to be told to the person before the deadline (${new Date(r.dueAt).toISOString()}); the request is overdue, not extendable`)
    }
    const via = await this.#notify(r, input, { kind: 'extension', dueAt: new Date(extended.dueAt).toISOString(), reason }, actor, 'dsar.extension')
    if (!(await this.#o.store.extendRequest(r.id, extended.dueAt, { at: now, firstDueAt: r.dueAt, basis: extended.basis, reason, via }))) {
      throw new TesseraError('TESSERA_CONFLICT', `data-subject request ${id} was extended meanwhile by someone else`)
    }
    await this.#o.audit.record({
      kind: 'dsar.extension', actor, action: `extend ${r.type} request`, purpose: 'privacy_request', decision: 'ok',
      detail: {
        requestId: r.id, via: auditedVia(via), firstDueAt: new Date(r.dueAt).toISOString(), dueAt: new Date(extended.dueAt).toISOString(),
        reasonSha256: createHash('sha256').update(reason).digest('hex'),
      },
    })
    return this.get(r.id)
  }

  /** Sends a notice through the channel, or takes the officer's word for how it was sent; returns how it went. */
  async #notify(r: DsarRecord, input: NoticeInput, notice: Pick<RequesterNotice, 'kind' | 'dueAt' | 'reason'>, actor: AuditActor, kind: string): Promise<string> {
    if (input.via !== undefined) {
      const via = input.via.trim()
      if (via === '') throw new ValidationError('.via', 'must say how the person was told (e.g. "e-mail from privacy@example.com"), or be left out to send it through the channel')
      return `recorded: ${via}`
    }
    const channel = this.#o.channel
    if (channel === null) {
      throw new TesseraError('TESSERA_CONFLICT', `no channel is configured (governance.dsar.verification.webhookUrl) to send the ${notice.kind} notice: tell the person yourself and record how with "via"`)
    }
    if (r.identifier === '(erased)') throw new TesseraError('TESSERA_CONFLICT', `the person of request ${r.id} was erased: there is nobody to notify`)
    try {
      await channel.notify({ ...notice, requestId: r.id, requestType: r.type, identifier: r.identifier })
    } catch (error) {
      await this.#o.audit.record({ kind, actor, action: `send ${notice.kind} notice`, purpose: 'privacy_request', decision: 'error', reason: (error as Error).message.slice(0, 300), detail: { requestId: r.id, channel: channel.name } })
      throw error
    }
    return `channel ${channel.name}`
  }

  /** The verification of a request's requester, as the API shows it. */
  async verificationOf(r: DsarRecord): Promise<ReturnType<RequesterVerification['view']>> {
    return this.#o.verification.view(await this.#o.verification.state(r))
  }

  async sendVerificationCode(id: string, actor: AuditActor): Promise<DsarRecord> {
    const r = await this.get(id)
    await this.#o.verification.sendCode(r, actor)
    return r
  }

  async confirmVerificationCode(id: string, code: string, actor: AuditActor): Promise<DsarRecord> {
    const r = await this.get(id)
    await this.#o.verification.confirm(r, code, actor)
    return r
  }

  async attestRequester(id: string, input: { basis: string; evidence: string }, actor: AuditActor): Promise<DsarRecord> {
    const r = await this.get(id)
    await this.#o.verification.attest(r, input, actor)
    return r
  }

  async #access(r: DsarRecord, profileId: string | null): Promise<{ result: JsonObject; export: JsonObject }> {
    const reader = this.#o.reader
    const profile = profileId === null ? null : await reader.profile(profileId)
    const identities = profileId === null ? [] : await reader.identities(profileId)
    const events: JsonValue[] = []
    if (profileId !== null) {
      let after: Parameters<ProfileReader['events']>[1]['after']
      for (;;) {
        const page = await reader.events(profileId, { limit: 1000, ...(after ? { after } : {}) })
        for (const e of page.events) events.push({ messageId: e.messageId, sourceId: e.sourceId, type: e.type, name: e.name, timestamp: new Date(e.timestamp).toISOString(), event: e.event })
        if (!page.next) break
        after = page.next
      }
    }
    const keys = [...new Set([r.identifier, ...identities.map((i) => i.key)])]
    const consent: JsonObject = {}
    if (this.#o.ledger) {
      for (const key of keys) {
        const history = await this.#o.ledger.history(key, { limit: 10_000 })
        consent[key] = history.map((c) => ({
          seq: c.seq, purpose: c.purpose, state: c.state, source: c.source, legalBasis: c.legalBasis, jurisdiction: c.jurisdiction,
          time: new Date(c.time).toISOString(), evidence: c.evidence as unknown as JsonObject,
        }))
      }
    }
    const profileIds = profileId === null ? [] : [profileId, ...(await reader.merges(profileId)).map((m) => m.loser)]
    const audit: JsonValue[] = []
    for (const pid of new Set(profileIds)) {
      for (const entry of await this.#o.audit.search({ profileId: pid, limit: 10_000 })) audit.push({ seq: entry.seq, entry: JSON.parse(entry.text) as JsonObject })
    }
    const exported: JsonObject = {
      format: 'tessera.dsar.access/v1', requestId: r.id, generatedAt: new Date(this.#o.clock.now()).toISOString(), identifier: r.identifier,
      profile: profile === null ? null : {
        id: profile.id, createdAt: new Date(profile.createdAt).toISOString(), firstSeen: new Date(profile.firstSeen).toISOString(), lastSeen: new Date(profile.lastSeen).toISOString(),
        traits: profile.traits, traitTimes: Object.fromEntries(Object.entries(profile.traitTimes).map(([k, t]) => [k, new Date(t).toISOString()])),
        eventCount: profile.eventCount, eventCounts: profile.eventCounts, sourceCounts: profile.sourceCounts,
      },
      identities: identities.map((i) => ({ type: i.type, value: i.value, firstSeen: new Date(i.firstSeen).toISOString() })),
      links: profileId === null ? [] : (await reader.edges(profileId)).map((e) => ({ from: e.from, to: e.to, rule: e.rule, messageId: e.messageId, eventTime: new Date(e.eventTime).toISOString() })),
      merges: profileId === null ? [] : (await reader.merges(profileId)).map((m) => ({ winner: m.winner, loser: m.loser, rule: m.rule, eventTime: new Date(m.eventTime).toISOString() })),
      events, consent, auditEntries: audit,
    }
    return { result: { found: profile !== null, events: events.length, identities: identities.length, auditEntries: audit.length }, export: exported }
  }

  async #erase(r: DsarRecord, profileId: string | null, actor: AuditActor): Promise<{ result: JsonObject; notice: string; identifier: string; detail: JsonObject }> {
    const now = this.#o.clock.now()
    const known = profileId === null ? [] : (await this.#o.reader.identities(profileId)).map((i) => i.key)
    const keys = [...new Set([r.identifier, ...known])]
    const storedKeys = [...new Set(keys.map((k) => this.#o.storedKey(k)))]
    // Suppress first: an event arriving while the rows are deleted is dropped instead of recreating the person.
    await this.#o.suppression.add(storedKeys, r.id, now)
    let tombstones = 0
    if (this.#o.ledger) {
      const withRecords: string[] = []
      for (const key of keys) if ((await this.#o.ledger.history(key, { limit: 1 })).length > 0) withRecords.push(key)
      if (withRecords.length > 0) {
        const purposes = Object.keys(this.#o.ledger.config.purposes)
        const stored = await this.#o.ledger.record(withRecords, [{
          source: 'api', jurisdiction: null, decisions: new Map(purposes.map((p) => [p, 'denied' as const])),
          evidence: { valid: true, raw: `erasure: data-subject request ${r.id}` },
        }], { actor, action: `dsar erasure ${r.id}` })
        tombstones = stored.length
      }
    }
    let deleted: Readonly<Record<string, number>> = {}
    let profiles = 0
    const allKeys = [...keys]
    const profileIds = profileId === null ? [] : [profileId]
    if (profileId !== null) {
      const erasure = await this.#o.openErasure()
      try {
        const done = await erasure.erase(profileId, keys.map((k) => k.slice(k.indexOf(':') + 1)))
        deleted = done.deleted
        profiles = done.profileIds.length
        // Identifiers that joined the profile between the read above and the deletion (stored keys: a pseudonymous
        // one names no raw-log subject; its records are still shredded with the profile's keys and suppressed).
        const late = done.identifierKeys.filter((k) => !storedKeys.includes(k))
        if (late.length > 0) await this.#o.suppression.add(late, r.id, now)
        allKeys.push(...late.filter((k) => !k.includes(':~')))
        profileIds.push(...done.profileIds)
      } finally {
        await erasure.close()
      }
    }
    // Last: the keys are destroyed once nothing of the person can be written under them any more (suppressed, deleted).
    const shredded = this.#o.shred === null ? null : await this.#o.shred(logSubjectsOf(allKeys, profileIds))
    const redacted = await this.#o.store.redactRequests(keys)
    return {
      result: {
        found: profileId !== null, profiles, suppressedIdentifiers: keys.length, consentTombstones: tombstones, otherRequestsRedacted: redacted, deleted: { ...deleted },
        ...(shredded === null ? {} : { shreddedDataKeys: shredded }),
      },
      notice: shredded === null ? PLAIN_EVENT_LOG_NOTICE : EVENT_LOG_NOTICE, identifier: '(erased)', detail: {},
    }
  }

  async #optOut(r: DsarRecord, profileId: string | null, actor: AuditActor): Promise<{ result: JsonObject }> {
    if (!this.#o.ledger) throw new TesseraError('TESSERA_CONFIG', 'an opt-out needs the consent ledger, which this process does not run')
    const configured = Object.keys(this.#o.ledger.config.purposes)
    const purposes = OPT_OUT_PURPOSES.filter((p) => configured.includes(p))
    if (purposes.length === 0) throw new TesseraError('TESSERA_CONFIG', `no opt-out purpose is configured (governance.consent.purposes needs ${OPT_OUT_PURPOSES.join(' or ')})`)
    const keys = [...new Set([r.identifier, ...(profileId === null ? [] : (await this.#o.reader.identities(profileId)).map((i) => i.key))])]
    const stored = await this.#o.ledger.record(keys, [{
      source: 'api', jurisdiction: r.jurisdiction, decisions: new Map(purposes.map((p) => [p, 'denied' as const])),
      evidence: { valid: true, raw: `opt-out: data-subject request ${r.id}` },
    }], { actor, action: `dsar opt_out ${r.id}`, jurisdictionHint: r.jurisdiction })
    return { result: { identifiers: keys.length, purposes: [...purposes], records: stored.length } }
  }

  async #correct(r: DsarRecord): Promise<{ result: JsonObject }> {
    const traits = r.detail.traits as JsonObject
    const at = r.identifier.indexOf(':')
    const now = new Date(this.#o.clock.now()).toISOString()
    const event: RawEvent = {
      type: 'identify', messageId: `dsar-${r.id}`, traits, timestamp: now, receivedAt: now, sourceId: 'tessera-dsar',
      context: { externalIds: [{ type: r.identifier.slice(0, at), id: r.identifier.slice(at + 1), collection: 'users', encoding: 'none' }] },
    }
    await this.#o.appendRaw([event])
    return { result: { correctedTraits: Object.keys(traits).sort(), messageId: event.messageId } }
  }
}
