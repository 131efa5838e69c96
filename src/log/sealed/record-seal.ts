/**
 * @module How one event-log record is sealed and opened. The record's subject (its clear key, `''` for a record
 * without one) picks the data key; the stored key is the subject's pseudonym; the stored value is
 * `~s1.<data key id>.<base64 envelope>`, where the envelope (src/governance/crypto/envelope.ts) holds the clear key
 * and the value, and its AAD binds it to the pseudonym and the data key id (a value moved onto another subject's
 * record does not open). A value without the prefix is a record written before encryption was on: read as it is.
 */
import { open, seal } from '../../governance/crypto/envelope.js'
import type { DataKey } from '../../governance/crypto/keyring.js'

export const SEALED_PREFIX = '~s1.'
const KEY_ID_LENGTH = 16
const NO_KEY = 0xffffffff

export function isSealed(value: string): boolean {
  return value.startsWith(SEALED_PREFIX)
}

function aadOf(ref: string, keyId: string): Buffer {
  return Buffer.from(`tessera/log-record/v1\u0000${ref}\u0000${keyId}`, 'utf8')
}

/** The sealed value of a record (its stored key is `key.ref`). */
export function sealValue(key: DataKey, clearKey: string | null, value: string): string {
  const keyBytes = clearKey === null ? null : Buffer.from(clearKey, 'utf8')
  const valueBytes = Buffer.from(value, 'utf8')
  const plain = Buffer.allocUnsafe(4 + (keyBytes?.length ?? 0) + valueBytes.length)
  plain.writeUInt32BE(keyBytes === null ? NO_KEY : keyBytes.length, 0)
  if (keyBytes !== null) keyBytes.copy(plain, 4)
  valueBytes.copy(plain, 4 + (keyBytes?.length ?? 0))
  return `${SEALED_PREFIX}${key.keyId}.${seal(key.key, plain, aadOf(key.ref, key.keyId)).toString('base64')}`
}

/** The data key id a sealed value names; throws on a malformed value. */
export function sealedKeyId(value: string): string {
  const keyId = value.slice(SEALED_PREFIX.length, SEALED_PREFIX.length + KEY_ID_LENGTH)
  if (!/^[0-9a-f]{16}$/.test(keyId) || value[SEALED_PREFIX.length + KEY_ID_LENGTH] !== '.') throw new Error('a sealed event-log value is malformed (no data key id)')
  return keyId
}

/** The clear key and value of a sealed value; throws EnvelopeError if it does not authenticate. */
export function openValue(key: DataKey, value: string): { readonly key: string | null; readonly value: string } {
  const envelope = Buffer.from(value.slice(SEALED_PREFIX.length + KEY_ID_LENGTH + 1), 'base64')
  const plain = open(key.key, envelope, aadOf(key.ref, key.keyId))
  const length = plain.readUInt32BE(0)
  if (length === NO_KEY) return { key: null, value: plain.toString('utf8', 4) }
  return { key: plain.toString('utf8', 4, 4 + length), value: plain.toString('utf8', 4 + length) }
}
