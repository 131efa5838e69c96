/**
 * @module JSON Canonicalization Scheme (RFC 8785) for audit entries: object keys sorted by UTF-16 code
 * units, no whitespace, numbers and strings as ECMAScript's JSON.stringify writes them. The same entry always
 * gives the same bytes, so its leaf hash can be recomputed by anyone from the stored text.
 */
import type { JsonValue } from '../core/event.js'

export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`canonical JSON has no representation for ${value}`)
    return JSON.stringify(value)
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (typeof value !== 'object') throw new TypeError(`canonical JSON has no representation for a ${typeof value}`)
  const keys = Object.keys(value).sort()
  const parts: string[] = []
  for (const key of keys) {
    const v = value[key]
    if (v === undefined) continue
    parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`)
  }
  return `{${parts.join(',')}}`
}
