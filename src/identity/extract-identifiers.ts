/**
 * @module Reads the identifiers an event carries, normalised, with blocked placeholder values set apart, each keyed
 * by the rules' codec (pseudonymous keys when the state is pseudonymised): the one place a clear value becomes a key.
 */
import type { JsonValue, RawEvent } from '../core/event.js'
import { identifierKey, type IdentifierKey } from './identity-store.js'
import type { IdentifierRule, IdentityRules } from './identity-rules.js'

export interface ExtractedIdentifier {
  readonly key: IdentifierKey
  readonly type: string
  /** The stored value (the part of `key` after the type): the normalised value, or its pseudonym. */
  readonly value: string
  /** The normalised value in clear (sealed before it is stored; never a key). */
  readonly clear: string
  readonly rule: IdentifierRule
}

export interface Extraction {
  /** Usable identifiers, highest priority first, one entry per key. */
  readonly identifiers: readonly ExtractedIdentifier[]
  /** Keys of values that were present but blocked (placeholders such as `0` or `test@test.com`). */
  readonly blocked: readonly IdentifierKey[]
  /** The clear value of each blocked key. */
  readonly blockedValues: ReadonlyMap<IdentifierKey, string>
}

function at(root: unknown, path: readonly string[]): unknown {
  let node = root
  for (const segment of path) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined
    node = (node as Record<string, unknown>)[segment]
  }
  return node
}

function asText(value: unknown): string | null {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return null
}

/**
 * Extracts identifiers by the configured paths, Segment's `context.externalIds` (`[{id, type}]` whose type
 * names a configured identifier type), and for `alias` the `previousId`, typed as the identifier it already
 * is (`previousTypeOf`) or else as an anonymous_id, the common case of aliasing a pre-login id.
 */
export function extractIdentifiers(
  event: RawEvent,
  rules: IdentityRules,
  previousTypeOf?: (previousId: string) => string | undefined,
): Extraction {
  const found = new Map<IdentifierKey, ExtractedIdentifier>()
  const blocked: IdentifierKey[] = []
  const blockedValues = new Map<IdentifierKey, string>()
  const codec = rules.codec
  const block = (rule: IdentifierRule, value: string): void => {
    const key = codec.storedKey(rule.name, value)
    blocked.push(key)
    blockedValues.set(key, value)
  }
  const add = (rule: IdentifierRule, raw: unknown): void => {
    const text = asText(raw)
    if (text === null) return
    const value = rule.normalize(text)
    if (value === null || value === '') {
      if (text.trim() !== '') block(rule, text.trim())
      return
    }
    if (rule.isBlocked(value)) {
      block(rule, value)
      return
    }
    const stored = codec.storedValue(rule.name, value)
    const key = identifierKey(rule.name, stored)
    if (!found.has(key)) found.set(key, { key, type: rule.name, value: stored, clear: value, rule })
  }
  for (const rule of rules.types) {
    for (const path of rule.paths) add(rule, at(event, path))
  }
  const externalIds = at(event, ['context', 'externalIds'])
  if (Array.isArray(externalIds)) {
    for (const ext of externalIds as JsonValue[]) {
      if (typeof ext !== 'object' || ext === null || Array.isArray(ext)) continue
      const rule = typeof ext.type === 'string' ? rules.byName(ext.type) : undefined
      if (rule) add(rule, ext.id)
    }
  }
  if (event.type === 'alias' && event.previousId !== undefined) {
    const typeName = previousTypeOf?.(String(event.previousId)) ?? 'anonymous_id'
    const rule = rules.byName(typeName) ?? rules.byName('anonymous_id')
    if (rule) add(rule, event.previousId)
  }
  const identifiers = [...found.values()].sort((a, b) => a.rule.priority - b.rule.priority)
  return { identifiers, blocked, blockedValues }
}
