/**
 * @module VerificationChannel port: how a one-time code reaches the person behind a data-subject request. Tessera
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

export interface VerificationChannel {
  /** Name for the audit log and answers, e.g. `webhook https://notify.example.com`. Never holds secrets. */
  readonly name: string
  /** Resolves once the receiver accepted the message; rejects (TESSERA_UPSTREAM) otherwise. */
  deliver(message: VerificationMessage): Promise<void>
}
