/**
 * @module Masking of field values, as a policy's `@mask` asks: `hash` (a keyed HMAC-SHA-256, stable within one
 * Tessera so masked values can still be joined and counted, but not reversed by hashing a dictionary of known
 * e-mails without the key), `partial` (enough to recognise, not to copy: `a***@example.com`, `***42`,
 * a number's order of magnitude) and `redact` (the value is replaced by `[redacted]`).
 */
import { createHmac, randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { JsonValue } from '../core/event.js'
import { ConfigError } from '../core/errors.js'
import { canonicalJson } from './canonical-json.js'
import type { MaskMode } from './policy-engine.js'

export const REDACTED = '[redacted]'

export type Masker = (mode: MaskMode, value: JsonValue) => JsonValue

function partialString(text: string): string {
  const at = text.lastIndexOf('@')
  if (at > 0 && at < text.length - 1) return `${[...text.slice(0, at)][0]}***${text.slice(at)}`
  const digits = text.replace(/\D/g, '')
  if (digits.length >= 6 && digits.length >= text.replace(/[\s()+.-]/g, '').length - 1) return `***${digits.slice(-2)}`
  const chars = [...text]
  return chars.length <= 2 ? '***' : `${chars[0]}***`
}

function partialNumber(n: number): string {
  if (n === 0) return '0'
  const magnitude = 10 ** Math.floor(Math.log10(Math.abs(n)))
  return n > 0 ? `${magnitude}–${magnitude * 10}` : `-${magnitude * 10}–-${magnitude}`
}

export function createMasker(key: Buffer): Masker {
  if (key.length < 32) throw new ConfigError('the masking key must be at least 32 bytes')
  return (mode, value) => {
    if (value === null) return null
    switch (mode) {
      case 'redact':
        return REDACTED
      case 'hash':
        return `hmac:${createHmac('sha256', key).update(typeof value === 'string' ? value : canonicalJson(value)).digest('base64url').slice(0, 22)}`
      case 'partial':
        if (typeof value === 'string') return partialString(value)
        if (typeof value === 'number' && Number.isFinite(value)) return partialNumber(value)
        return REDACTED
    }
  }
}

/** Reads the masking key (32 random bytes) from `path`, creating it with mode 0600 on first start. */
export function loadOrCreateMaskingKey(path: string): Buffer {
  if (existsSync(path)) {
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64')
    if (key.length < 32) throw new ConfigError(`${path} does not hold a masking key of 32 bytes (base64); restore it, or delete it to make new hashed values`)
    return key
  }
  const key = randomBytes(32)
  mkdirSync(dirname(path), { recursive: true })
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, key.toString('base64') + '\n', { mode: 0o600 })
  chmodSync(tmp, 0o600)
  renameSync(tmp, path)
  return key
}
