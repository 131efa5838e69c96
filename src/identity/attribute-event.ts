/** @module Which part of an unmerged component an event belongs to (shared by the inline unmerge and the profile owners). */
import type { RawEvent } from '../core/event.js'
import { extractIdentifiers } from './extract-identifiers.js'
import type { IdentifierKey } from './identity-store.js'
import type { IdentityRules } from './identity-rules.js'

/**
 * The part owning the event's highest-priority identifier among those of the component (`partOf` answers for the
 * component's keys only). The detached identifier of an identifier unmerge takes only the events that carry nothing
 * else of the component; an event carrying none of its identifiers (it linked nothing: a quarantined or refused
 * identifier) goes to `fallback`, the part that keeps the id.
 */
export function attributeEvent(
  event: RawEvent,
  rules: IdentityRules,
  partOf: (key: IdentifierKey) => string | undefined,
  isDetached: (key: IdentifierKey) => boolean,
  fallback: string,
): string {
  // An alias's previousId is a user_id when the component holds it as one (as the resolver typed it).
  const extraction = extractIdentifiers(event, rules, (p) => (partOf(rules.codec.storedKey('user_id', p)) !== undefined ? 'user_id' : undefined))
  const own = extraction.identifiers.filter((id) => partOf(id.key) !== undefined)
  const chosen = own.find((id) => !isDetached(id.key)) ?? own[0]
  return chosen === undefined ? fallback : partOf(chosen.key)!
}
