/**
 * @module The envelope format of everything Tessera encrypts at rest: AES-256-GCM (node:crypto) with a fresh
 * 12-byte random nonce per message and additional authenticated data (AAD) that names what the ciphertext is for
 * (its purpose and subject), so a ciphertext copied onto another subject or purpose fails to open.
 *
 * Layout: `version (1 byte) | nonce (12) | ciphertext | tag (16)`. Version 1 is the only one; a reader refuses any
 * other, so the format can change later without old readers misreading new data.
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto'

export const ENVELOPE_VERSION = 1
const NONCE_BYTES = 12
const TAG_BYTES = 16
/** Bytes an envelope adds to its plaintext. */
export const ENVELOPE_OVERHEAD = 1 + NONCE_BYTES + TAG_BYTES

/** The envelope cannot be opened: wrong key, wrong AAD, or altered bytes (GCM does not say which). */
export class EnvelopeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'EnvelopeError'
  }
}

/**
 * Random nonces come from a pool refilled by the CSPRNG 256 nonces at a time (one `randomBytes` call per nonce cost
 * about 5 µs, a third of a seal; bench/crypto.ts). Each pool byte is used once.
 */
const NONCE_POOL = Buffer.alloc(NONCE_BYTES * 256)
let poolOffset = NONCE_POOL.length

function nextNonce(into: Buffer, at: number): void {
  if (poolOffset + NONCE_BYTES > NONCE_POOL.length) {
    randomFillSync(NONCE_POOL)
    poolOffset = 0
  }
  NONCE_POOL.copy(into, at, poolOffset, poolOffset + NONCE_BYTES)
  poolOffset += NONCE_BYTES
}

/** Encrypts `plaintext` under the 32-byte `key`, bound to `aad`. */
export function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  if (key.length !== 32) throw new Error(`an AES-256-GCM key has 32 bytes, not ${key.length}`)
  const head = Buffer.allocUnsafe(1 + NONCE_BYTES)
  head[0] = ENVELOPE_VERSION
  nextNonce(head, 1)
  const nonce = head.subarray(1)
  const cipher = createCipheriv('aes-256-gcm', key, nonce)
  cipher.setAAD(aad)
  const body = cipher.update(plaintext)
  const last = cipher.final()
  return Buffer.concat([head, body, last, cipher.getAuthTag()])
}

/** Decrypts an envelope made by {@link seal} with the same key and AAD; throws {@link EnvelopeError} otherwise. */
export function open(key: Buffer, envelope: Buffer, aad: Buffer): Buffer {
  if (envelope.length < ENVELOPE_OVERHEAD) throw new EnvelopeError(`an envelope has at least ${ENVELOPE_OVERHEAD} bytes, this one ${envelope.length}`)
  if (envelope[0] !== ENVELOPE_VERSION) throw new EnvelopeError(`unknown envelope version ${envelope[0]} (this Tessera reads version ${ENVELOPE_VERSION}); upgrade Tessera`)
  const nonce = envelope.subarray(1, 1 + NONCE_BYTES)
  const tag = envelope.subarray(envelope.length - TAG_BYTES)
  const decipher = createDecipheriv('aes-256-gcm', key, nonce)
  decipher.setAAD(aad)
  decipher.setAuthTag(tag)
  try {
    return Buffer.concat([decipher.update(envelope.subarray(1 + NONCE_BYTES, envelope.length - TAG_BYTES)), decipher.final()])
  } catch (cause) {
    throw new EnvelopeError('the envelope does not authenticate: wrong key, wrong subject or purpose, or altered bytes', { cause })
  }
}
