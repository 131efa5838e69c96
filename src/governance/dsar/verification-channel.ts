/**
 * @module VerificationChannel port: how a one-time code, and the notices the law requires (the acknowledgement of a
 * request, the extension of its deadline with the reason), reach the person behind a data-subject request. Tessera
 * sends no e-mail or SMS itself; a channel hands the code to a system that already knows how to reach the person
 * at the identifier they gave (the company's mailer, SMS gateway or account system). Adapter:
 * `webhook-channel.ts` (an HMAC-signed POST to a configured URL).
 */

export interface VerificationMessage {
  readonly requestId: string
  /** access, erasure, correct. */
  readonly requestType: string
  /** The identifier the request names, `type:value` (where the code must go: that mailbox, that phone, that account). */
  readonly identifier: string
  readonly code: string
  /** ISO time after which the code no longer verifies. */
  readonly expiresAt: string
}

/** A notice to the person: their request was received (acknowledgement), or its deadline was extended, and why. */
export interface RequesterNotice {
  readonly kind: 'acknowledgement' | 'extension'
  readonly requestId: string
  readonly requestType: string
  /** The identifier the request names, `type:value`: where the notice must go. */
  readonly identifier: string
  /** ISO time by which the person will have their answer (the extended deadline for an extension). */
  readonly dueAt: string
  /** Why the deadline was extended (extension only). */
  readonly reason?: string
}

export interface VerificationChannel {
  /** Name for the audit log and answers, e.g. `webhook https://notify.example.com`. Never holds secrets. */
  readonly name: string
  /** Resolves once the receiver accepted the message; rejects (TESSERA_UPSTREAM) otherwise. */
  deliver(message: VerificationMessage): Promise<void>
  /** Resolves once the receiver accepted the notice; rejects (TESSERA_UPSTREAM) otherwise. */
  notify(notice: RequesterNotice): Promise<void>
}
