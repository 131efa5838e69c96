/**
 * @module Verifying the person behind a data-subject request before it is run (GDPR Art. 12(6): reasonable doubts
 * about the requester's identity; CCPA §1798.140(ak), Regulations §7060-7062: a "verifiable consumer request").
 * Two ways, both audited step by step:
 * - a **one-time code**: 8 random digits (CSPRNG), delivered through the VerificationChannel to the identifier the
 *   request names (proving control of that mailbox, phone or account), stored only as a salted HMAC, valid for
 *   `codeTtlMinutes`, at most `maxAttempts` tries per code and `maxCodes` codes per request; then
 * - an **attestation** by a privacy officer (Cedar action `attestPrivacyRequester`, privacy officers only): how the
 *   person was verified (`basis`: account, documents, callback, in_person, other) and the evidence, kept with the
 *   request (blanked if the person is later erased); the audit entry holds its SHA-256, never its text.
 * Opt-outs need no verification (CCPA Regulations §7026: an opt-out of sale/sharing must not require it; GDPR Art.
 * 21). The legal deadline keeps running from receipt while the request waits for verification.
 */
import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto'
import type { Clock } from '../../core/clock.js'
import { TesseraError, ValidationError } from '../../core/errors.js'
import type { AuditActor } from '../audit-entry.js'
import type { AuditLog } from '../audit-log.js'
import type { DsarVerificationConfig } from '../privacy-config.js'
import type { DsarRecord } from '../privacy-store.js'
import type { VerificationChannel } from './verification-channel.js'
import { initialVerification, type VerificationRecord, type VerificationStore } from './verification-store.js'

export const ATTESTATION_BASES = ['account', 'documents', 'callback', 'in_person', 'other'] as const
export type AttestationBasis = (typeof ATTESTATION_BASES)[number]

const CODE_DIGITS = 8

export interface VerificationView {
  readonly status: VerificationRecord['status']
  readonly method: VerificationRecord['method']
  readonly verifiedAt: string | null
  readonly verifiedBy: string | null
  readonly codeExpiresAt: string | null
  readonly attemptsLeft: number | null
  readonly codesLeft: number
  /** The delivery channel for codes, or null when only attestation is available. */
  readonly channel: string | null
}

export interface RequesterVerificationOptions {
  readonly store: VerificationStore
  readonly channel: VerificationChannel | null
  readonly audit: AuditLog
  readonly clock: Clock
  readonly config: DsarVerificationConfig
}

function hashCode(salt: string, code: string): string {
  return createHmac('sha256', Buffer.from(salt, 'hex')).update(code).digest('hex')
}

export class RequesterVerification {
  readonly #o: RequesterVerificationOptions

  constructor(options: RequesterVerificationOptions) {
    this.#o = options
  }

  /** Records the initial state of a new request (pending; not_required for an opt-out). */
  async init(r: DsarRecord): Promise<void> {
    await this.#o.store.create(initialVerification(r.id, r.type, this.#o.clock.now()))
  }

  async state(r: DsarRecord): Promise<VerificationRecord> {
    return (await this.#o.store.get(r.id)) ?? initialVerification(r.id, r.type, r.receivedAt)
  }

  view(v: VerificationRecord): VerificationView {
    const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString())
    return {
      status: v.status, method: v.method, verifiedAt: iso(v.verifiedAt), verifiedBy: v.verifiedBy,
      codeExpiresAt: v.status === 'code_sent' ? iso(v.codeExpiresAt) : null,
      attemptsLeft: v.status === 'code_sent' ? Math.max(0, this.#o.config.maxAttempts - v.attempts) : null,
      codesLeft: Math.max(0, this.#o.config.maxCodes - v.codesSent), channel: this.#o.channel?.name ?? null,
    }
  }

  /** Throws unless the request may run: verified, or an opt-out. */
  async requireVerified(r: DsarRecord): Promise<void> {
    const v = await this.state(r)
    if (v.status === 'verified' || v.status === 'not_required') return
    throw new TesseraError('TESSERA_FORBIDDEN', `data-subject request ${r.id} cannot run before its requester is verified (verification: ${v.status}): ` +
      `send a one-time code (POST /v1/privacy/requests/${r.id}/verification/code, then .../verification/confirm) or have a privacy officer attest ` +
      `(POST .../verification/attest); the deadline keeps running from receipt`)
  }

  async #audit(r: DsarRecord, actor: AuditActor, decision: 'ok' | 'deny' | 'error', step: string, detail: Record<string, string | number | null>, reason?: string): Promise<void> {
    await this.#o.audit.record({
      kind: 'dsar.verification', actor, action: `verification ${step}`, purpose: 'privacy_request', decision,
      detail: { requestId: r.id, type: r.type, step, ...detail }, ...(reason === undefined ? {} : { reason }),
    })
  }

  #open(v: VerificationRecord, r: DsarRecord): void {
    if (r.status === 'completed') throw new TesseraError('TESSERA_CONFLICT', `data-subject request ${r.id} is already completed`)
    if (v.status === 'verified') throw new TesseraError('TESSERA_CONFLICT', `the requester of ${r.id} is already verified (${v.method}, ${new Date(v.verifiedAt ?? 0).toISOString()})`)
    if (v.status === 'not_required') throw new TesseraError('TESSERA_CONFLICT', `an ${r.type} request needs no verification (CCPA Regulations §7026); run it`)
  }

  /** Sends a new one-time code to the identifier the request names. */
  async sendCode(r: DsarRecord, actor: AuditActor): Promise<VerificationRecord> {
    const channel = this.#o.channel
    if (channel === null) {
      throw new TesseraError('TESSERA_CONFLICT', 'no verification channel is configured (governance.dsar.verification.webhookUrl): a privacy officer can attest the requester\'s identity instead (POST .../verification/attest)')
    }
    const v = await this.state(r)
    this.#open(v, r)
    const now = this.#o.clock.now()
    const code = String(randomInt(0, 10 ** CODE_DIGITS)).padStart(CODE_DIGITS, '0')
    const salt = randomBytes(16).toString('hex')
    const codeHash = hashCode(salt, code)
    const expiresAt = now + this.#o.config.codeTtlMinutes * 60_000
    await this.#o.store.create(initialVerification(r.id, r.type, now))
    const issued = await this.#o.store.issueCode(r.id, { codeHash, codeSalt: salt, codeExpiresAt: expiresAt, maxCodes: this.#o.config.maxCodes, now })
    if (issued === null) {
      await this.#audit(r, actor, 'deny', 'code_refused', { codesSent: v.codesSent }, 'no codes left')
      throw new TesseraError('TESSERA_CONFLICT', `${this.#o.config.maxCodes} codes were already sent for ${r.id} (governance.dsar.verification.maxCodes): a privacy officer must attest the requester's identity instead`)
    }
    try {
      await channel.deliver({ requestId: r.id, requestType: r.type, identifier: r.identifier, code, expiresAt: new Date(expiresAt).toISOString() })
    } catch (error) {
      await this.#o.store.withdrawCode(r.id, codeHash, this.#o.clock.now())
      await this.#audit(r, actor, 'error', 'delivery_failed', { channel: channel.name }, (error as Error).message.slice(0, 300))
      throw error
    }
    await this.#audit(r, actor, 'ok', 'code_sent', { channel: channel.name, expiresAt: new Date(expiresAt).toISOString(), codesLeft: this.#o.config.maxCodes - issued.codesSent })
    return issued
  }

  /** Checks a code the requester gave back. */
  async confirm(r: DsarRecord, given: string, actor: AuditActor): Promise<VerificationRecord> {
    const code = given.replace(/[\s-]/g, '')
    if (!new RegExp(`^\\d{${CODE_DIGITS}}$`).test(code)) throw new ValidationError('.code', `must be the ${CODE_DIGITS}-digit code that was sent`)
    const v = await this.state(r)
    this.#open(v, r)
    const now = this.#o.clock.now()
    const noCode = async (status: string): Promise<never> => {
      await this.#audit(r, actor, 'deny', 'no_code', { status }, 'no code to check')
      throw new TesseraError('TESSERA_CONFLICT', status === 'locked'
        ? `the last code for ${r.id} took too many wrong attempts: send a new one (${Math.max(0, this.#o.config.maxCodes - v.codesSent)} left) or attest`
        : `no code was sent for ${r.id}: send one first (POST .../verification/code)`)
    }
    if (v.status !== 'code_sent') return noCode(v.status)
    const taken = await this.#o.store.takeAttempt(r.id, this.#o.config.maxAttempts, now)
    if (taken === null || taken.codeHash === null || taken.codeSalt === null) return noCode('locked')
    const left = this.#o.config.maxAttempts - taken.attempts
    if (taken.codeExpiresAt === null || now > taken.codeExpiresAt) {
      await this.#audit(r, actor, 'deny', 'code_expired', { attemptsLeft: left })
      throw new TesseraError('TESSERA_FORBIDDEN', `the code for ${r.id} expired at ${new Date(taken.codeExpiresAt ?? 0).toISOString()}: send a new one`)
    }
    const ok = timingSafeEqual(Buffer.from(hashCode(taken.codeSalt, code), 'hex'), Buffer.from(taken.codeHash, 'hex'))
    if (!ok) {
      if (left <= 0) await this.#o.store.lock(r.id, taken.codeHash, now)
      await this.#audit(r, actor, 'deny', left <= 0 ? 'locked' : 'code_wrong', { attemptsLeft: left })
      throw new TesseraError('TESSERA_FORBIDDEN', left <= 0
        ? `wrong code for ${r.id}; no attempts left on this code: send a new one or have a privacy officer attest`
        : `wrong code for ${r.id}; ${left} attempt${left === 1 ? '' : 's'} left`)
    }
    const by = `${actor.type}:${actor.id}`
    if (!(await this.#o.store.markVerified(r.id, { method: 'code', by, evidence: null, now }))) return this.state(r)
    await this.#audit(r, actor, 'ok', 'verified', { method: 'code', channel: this.#o.channel?.name ?? null })
    return this.state(r)
  }

  /** A privacy officer's attestation of how the requester was verified. */
  async attest(r: DsarRecord, input: { basis: string; evidence: string }, actor: AuditActor): Promise<VerificationRecord> {
    if (!(ATTESTATION_BASES as readonly string[]).includes(input.basis)) throw new ValidationError('.basis', `must be one of ${ATTESTATION_BASES.join(', ')}`)
    const evidence = input.evidence.trim()
    if (evidence.length < 10 || evidence.length > 2000) {
      throw new ValidationError('.evidence', 'must say in 10 to 2,000 characters what was checked, e.g. "signed in to the account; order numbers and postcode matched"')
    }
    const v = await this.state(r)
    this.#open(v, r)
    const now = this.#o.clock.now()
    await this.#o.store.create(initialVerification(r.id, r.type, now))
    const text = `${input.basis}: ${evidence}`
    if (!(await this.#o.store.markVerified(r.id, { method: 'attestation', by: `${actor.type}:${actor.id}`, evidence: text, now }))) return this.state(r)
    await this.#audit(r, actor, 'ok', 'attested', { method: 'attestation', basis: input.basis, evidenceSha256: createHash('sha256').update(text).digest('hex'), evidenceLength: text.length })
    return this.state(r)
  }

  /** After an erasure: the evidence of every request naming the erased person goes too. */
  eraseEvidence(): Promise<number> {
    return this.#o.store.eraseEvidenceOfErasedRequests()
  }
}
