/**
 * @module The webhook adapter of the VerificationChannel port: POSTs the one-time code as JSON to the configured URL
 * (`governance.dsar.verification.webhookUrl`), and the notices to the person (`tessera.dsar.acknowledgement`,
 * `tessera.dsar.extension`) the same way, signed so the receiver can tell they come from this Tessera:
 * `X-Tessera-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with a shared secret
 * (`<dataDir>/dsar-webhook.key`, created on first use with mode 0600, or `webhookSecretFile`). The receiver
 * checks the signature and that `t` is recent, then sends the code to the person at the identifier named in the
 * message (never to an address the requester typed elsewhere). Only HTTPS, or HTTP to this machine (loopback), is
 * accepted: the body holds a code and an identifier. A receiver that does not answer 2xx within the timeout
 * fails the delivery (TESSERA_UPSTREAM), and the code is withdrawn.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { ConfigError, TesseraError } from '../../core/errors.js'
import type { RequesterNotice, VerificationChannel, VerificationMessage } from './verification-channel.js'

export const SIGNATURE_HEADER = 'x-tessera-signature'

/** Loads the shared secret (64 hex characters), creating it on first use. */
export function loadOrCreateWebhookSecret(path: string): Buffer {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' })
  }
  const text = readFileSync(path, 'utf8').trim()
  if (!/^[0-9a-f]{64}$/i.test(text)) throw new ConfigError(`the verification webhook secret ${path} must hold 64 hexadecimal characters (32 bytes); delete it to have a new one made`)
  return Buffer.from(text, 'hex')
}

/** The signature header value for a body sent at `unixSeconds`. */
export function signWebhook(secret: Buffer, unixSeconds: number, body: string): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`
}

/** May this URL receive codes? HTTPS anywhere, HTTP only on loopback. Returns the reason when not. */
export function webhookUrlProblem(text: string): string | null {
  if (!URL.canParse(text)) return 'is not a URL'
  const url = new URL(text)
  if (url.username !== '' || url.password !== '') return 'must not carry a user name or password (the request is signed instead)'
  if (url.protocol === 'https:') return null
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)
  if (url.protocol === 'http:' && loopback) return null
  return 'must be https:// (or http:// to localhost): the message holds a one-time code and an identifier'
}

export interface WebhookChannelOptions {
  readonly url: string
  readonly secret: Buffer
  readonly timeoutMs: number
  readonly now: () => number
  readonly fetch?: typeof fetch
}

export class WebhookVerificationChannel implements VerificationChannel {
  readonly name: string
  readonly #o: WebhookChannelOptions

  constructor(options: WebhookChannelOptions) {
    const problem = webhookUrlProblem(options.url)
    if (problem !== null) throw new ConfigError(`governance.dsar.verification.webhookUrl ${problem}`, 'governance.dsar.verification.webhookUrl')
    this.#o = options
    const url = new URL(options.url)
    this.name = `webhook ${url.origin}`
  }

  deliver(message: VerificationMessage): Promise<void> {
    return this.#post(JSON.stringify({ type: 'tessera.dsar.verification_code', ...message }), 'the code was not sent')
  }

  notify(notice: RequesterNotice): Promise<void> {
    const { kind, ...rest } = notice
    return this.#post(JSON.stringify({ type: `tessera.dsar.${kind}`, ...rest }), `the ${kind} notice was not sent`)
  }

  async #post(body: string, outcome: string): Promise<void> {
    const t = Math.floor(this.#o.now() / 1000)
    let response: Response
    try {
      response = await (this.#o.fetch ?? fetch)(this.#o.url, {
        method: 'POST', body, redirect: 'error', signal: AbortSignal.timeout(this.#o.timeoutMs),
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signWebhook(this.#o.secret, t, body), 'user-agent': 'tessera-dsar-verification' },
      })
    } catch (error) {
      const reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${this.#o.timeoutMs} ms` : (error as Error).message
      throw new TesseraError('TESSERA_UPSTREAM', `the verification webhook (${this.name}) could not be reached: ${reason}; ${outcome}, try again`, { cause: error })
    }
    // Drain the body so the connection is released; its content is not used (and may be large or hostile).
    await response.arrayBuffer().catch(() => undefined)
    if (!response.ok) {
      throw new TesseraError('TESSERA_UPSTREAM', `the verification webhook (${this.name}) answered ${response.status}; ${outcome}, try again`)
    }
  }
}
