/**
 * @module Signed checkpoints of the audit log in the C2SP tlog-checkpoint / signed-note format:
 * the body is `<origin>\n<tree size>\n<base64 root hash>\ntime <ms>\n`, followed by a blank line and one
 * signature line `— <origin> <base64(key id || Ed25519 signature)>`. The Ed25519 key pair is generated on
 * first start into the data dir (PKCS#8 PEM, mode 0600, like credentials.json); its public key is what
 * auditors pin.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { ConfigError } from '../core/errors.js'

export interface Checkpoint {
  readonly origin: string
  readonly size: number
  readonly rootHash: Buffer
  readonly time: number
}

export interface SignedCheckpoint extends Checkpoint {
  readonly note: string
}

export interface CheckpointSigner {
  readonly origin: string
  /** Raw 32-byte Ed25519 public key, base64. */
  readonly publicKey: string
  sign(checkpoint: Omit<Checkpoint, 'origin'>): SignedCheckpoint
}

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

export function rawPublicKey(key: KeyObject): Buffer {
  const der = key.export({ type: 'spki', format: 'der' })
  return der.subarray(der.length - 32)
}

export function publicKeyFromRaw(base64: string): KeyObject {
  const raw = Buffer.from(base64, 'base64')
  if (raw.length !== 32) throw new ConfigError(`an Ed25519 public key is 32 bytes (base64), got ${raw.length}`)
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' })
}

/** C2SP signed-note key id: the first 4 bytes of SHA-256(name || "\n" || 0x01 || public key). */
export function keyId(origin: string, publicKey: Buffer): Buffer {
  return createHash('sha256').update(`${origin}\n`).update(Buffer.from([0x01])).update(publicKey).digest().subarray(0, 4)
}

export function checkpointBody(c: Checkpoint): string {
  if (/[\n\s]/.test(c.origin) || c.origin === '') throw new ConfigError(`checkpoint origin ${JSON.stringify(c.origin)} must be non-empty without spaces`)
  return `${c.origin}\n${c.size}\n${c.rootHash.toString('base64')}\ntime ${c.time}\n`
}

/** Reads the signing key from `path`, creating it (mode 0600) if it does not exist yet. */
export function loadOrCreateSigningKey(path: string): KeyObject {
  if (existsSync(path)) {
    try {
      const key = createPrivateKey(readFileSync(path, 'utf8'))
      if (key.asymmetricKeyType !== 'ed25519') throw new Error(`it holds a ${key.asymmetricKeyType} key`)
      return key
    } catch (cause) {
      throw new ConfigError(`${path} is not an Ed25519 private key in PEM (${(cause as Error).message}); restore it from a backup — a new key cannot sign for the old checkpoints`)
    }
  }
  const { privateKey } = generateKeyPairSync('ed25519')
  mkdirSync(dirname(path), { recursive: true })
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
  chmodSync(tmp, 0o600)
  renameSync(tmp, path)
  return privateKey
}

export function createCheckpointSigner(origin: string, privateKey: KeyObject): CheckpointSigner {
  const pub = rawPublicKey(createPublicKey(privateKey))
  const id = keyId(origin, pub)
  return {
    origin,
    publicKey: pub.toString('base64'),
    sign(c) {
      const body = checkpointBody({ origin, ...c })
      const signature = sign(null, Buffer.from(body, 'utf8'), privateKey)
      const note = `${body}\n\u2014 ${origin} ${Buffer.concat([id, signature]).toString('base64')}\n`
      return { origin, ...c, note }
    },
  }
}

/**
 * Parses a signed note and checks its signature against the public key; returns the checkpoint, or a reason
 * why it cannot be trusted.
 */
export function openCheckpoint(note: string, publicKeyBase64: string): { ok: true; checkpoint: SignedCheckpoint } | { ok: false; reason: string } {
  const split = note.indexOf('\n\n')
  if (split < 0) return { ok: false, reason: 'not a signed note (no blank line before the signatures)' }
  const body = note.slice(0, split + 1)
  const lines = body.split('\n')
  const [origin, sizeText, rootText, timeLine] = lines
  const size = Number(sizeText)
  const time = Number(timeLine?.replace(/^time /, ''))
  if (!origin || !Number.isSafeInteger(size) || size < 0 || !/^time \d+$/.test(timeLine ?? '') || rootText === undefined) {
    return { ok: false, reason: 'the checkpoint body is malformed' }
  }
  const rootHash = Buffer.from(rootText, 'base64')
  if (rootHash.length !== 32) return { ok: false, reason: 'the root hash is not 32 bytes' }
  const publicKey = publicKeyFromRaw(publicKeyBase64)
  const expectedId = keyId(origin, rawPublicKey(publicKey))
  for (const line of note.slice(split + 2).split('\n')) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line)
    if (!m || m[1] !== origin) continue
    const blob = Buffer.from(m[2]!, 'base64')
    if (blob.length !== 68 || !blob.subarray(0, 4).equals(expectedId)) continue
    if (verify(null, Buffer.from(body, 'utf8'), publicKey, blob.subarray(4))) {
      return { ok: true, checkpoint: { origin, size, rootHash, time, note } }
    }
    return { ok: false, reason: 'the signature does not match the checkpoint (edited, or signed by another key)' }
  }
  return { ok: false, reason: 'no signature by the audit key' }
}
