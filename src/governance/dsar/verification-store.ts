/**
 * @module VerificationStore port: the verification of the person behind each data-subject request (GDPR Art.
 * 12(6), CCPA "verifiable consumer request"). One record per request: its state, the current one-time code as a
 * salted keyed hash (never the code), its expiry, the attempts made on it and the codes sent so far, and, once
 * verified, how, when, by whom and with what evidence. Every transition that must hold under concurrency (issuing a
 * code within the limit, spending an attempt, marking verified once) is one conditional statement. Adapters:
 * `src/storage/{sqlite,postgres}/dsar-verification-store.ts`, on the privacy store's database (`dsar_verifications`).
 */

export const VERIFICATION_STATUSES = ['pending', 'code_sent', 'locked', 'verified', 'not_required'] as const
/**
 * `pending`: nothing verified yet; `code_sent`: a code is out; `locked`: the last code took too many wrong
 * attempts (a new code may be sent while codes are left); `verified`; `not_required` (opt-outs: CCPA Regulations
 * §7026 forbid asking for verification, GDPR Art. 21 needs none).
 */
export type VerificationStatus = (typeof VERIFICATION_STATUSES)[number]

export const VERIFICATION_METHODS = ['code', 'attestation'] as const
export type VerificationMethod = (typeof VERIFICATION_METHODS)[number]

export interface VerificationRecord {
  readonly requestId: string
  readonly status: VerificationStatus
  /** How the requester was verified (set once verified). */
  readonly method: VerificationMethod | null
  /** HMAC-SHA256 of the current code under `codeSalt` (hex); null when no code is out. */
  readonly codeHash: string | null
  readonly codeSalt: string | null
  readonly codeExpiresAt: number | null
  /** Attempts made on the current code. */
  readonly attempts: number
  /** Codes sent for this request so far. */
  readonly codesSent: number
  readonly verifiedAt: number | null
  /** `token:<name>` of whoever confirmed the code or attested. */
  readonly verifiedBy: string | null
  /** What a privacy officer checked (free text; blanked when the person is erased). */
  readonly evidence: string | null
  readonly updatedAt: number
}

export interface IssueCode {
  readonly codeHash: string
  readonly codeSalt: string
  readonly codeExpiresAt: number
  readonly maxCodes: number
  readonly now: number
}

export interface VerificationStore {
  /** Records a request's verification state unless one exists (idempotent). */
  create(record: VerificationRecord): Promise<void>
  get(requestId: string): Promise<VerificationRecord | null>
  /**
   * Replaces the current code with a new one, in one step, unless the request is verified, needs no verification,
   * or already had `maxCodes` codes: then null. Resets the attempts; status `code_sent`.
   */
  issueCode(requestId: string, code: IssueCode): Promise<VerificationRecord | null>
  /** Withdraws the current code (it could not be delivered): status back to `pending`, unless verified since. */
  withdrawCode(requestId: string, codeHash: string, now: number): Promise<void>
  /**
   * Spends one attempt on the current code, in one step, only while a code is out and fewer than `maxAttempts`
   * were made: returns the record after the attempt (with the code hash to compare), or null (no attempt left).
   */
  takeAttempt(requestId: string, maxAttempts: number, now: number): Promise<VerificationRecord | null>
  /** The last attempt failed: no more attempts on this code. */
  lock(requestId: string, codeHash: string, now: number): Promise<void>
  /** Marks the request verified, once: false when it already was (or needs no verification). Clears the code. */
  markVerified(requestId: string, v: { method: VerificationMethod; by: string; evidence: string | null; now: number }): Promise<boolean>
  /** Blanks the evidence of every request whose identifier was erased (`(erased)`); returns how many. */
  eraseEvidenceOfErasedRequests(): Promise<number>
  close(): Promise<void>
}

/** The state of a request created before verification existed, or that has no record yet. */
export function initialVerification(requestId: string, type: string, now: number): VerificationRecord {
  return {
    requestId, status: type === 'opt_out' ? 'not_required' : 'pending', method: null, codeHash: null, codeSalt: null, codeExpiresAt: null,
    attempts: 0, codesSent: 0, verifiedAt: null, verifiedBy: null, evidence: null, updatedAt: now,
  }
}
