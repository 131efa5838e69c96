/**
 * @module Sessionization: a session per device (anonymousId, else userId) that ends after a period of
 * inactivity. A session id the client sent (`context.sessionId`, as RudderStack's SDKs do) wins.
 *
 * Sessions are stored by {@link sessionKeyFor}: the anonymousId or userId itself in a clear state; in a pseudonymous
 * one the stored value of that identifier (its HMAC, as the identity graph keeps it), so the sessions table holds no
 * id in clear, and an erasure, which deletes the sessions keyed by the person's stored identifier values, finds it.
 * The session id derives from that key and the first event, so it names no clear id either and a replay gives the
 * same ids.
 */
import type { RawEvent } from '../../core/event.js'
import { deterministicId } from '../../core/hash.js'
import { CLEAR_SCHEME } from '../../identity/identifier-codec.js'
import type { IdentityRules } from '../../identity/identity-rules.js'
import type { SessionState } from '../pipeline-state.js'

/** The key an event's session is stored under, or undefined when it carries neither an anonymousId nor a userId. */
export type SessionKeyOf = (event: RawEvent) => string | undefined

/** The device an event comes from: its anonymousId, else its userId (an empty one is none). */
function device(event: RawEvent): { readonly field: 'anonymousId' | 'userId'; readonly id: string } | undefined {
  const anonymous = event.anonymousId
  const id = anonymous ?? event.userId
  if (!id) return undefined
  return { field: anonymous === undefined || anonymous === null ? 'userId' : 'anonymousId', id: String(id) }
}

/** Sessions keyed by the clear anonymousId or userId (a clear state, and the default). */
export const clearSessionKey: SessionKeyOf = (event) => device(event)?.id

/**
 * How sessions are keyed under these identity rules: clear ids when the rules' codec is clear; else the stored value
 * of the identifier the id is (the type whose path is `anonymousId` or `userId`, normalised by its rule), which is
 * the value the identity graph stores for it.
 */
export function sessionKeyFor(rules: IdentityRules): SessionKeyOf {
  const codec = rules.codec
  if (codec.scheme === CLEAR_SCHEME) return clearSessionKey
  const ruleFor = (field: string) => rules.types.find((r) => r.paths.some((p) => p.length === 1 && p[0] === field))
  const types = {
    anonymousId: ruleFor('anonymousId') ?? rules.byName('anonymous_id'),
    userId: ruleFor('userId') ?? rules.byName('user_id'),
  }
  return (event) => {
    const d = device(event)
    if (d === undefined) return undefined
    const rule = types[d.field]
    const value = rule?.normalize(d.id) || d.id
    return codec.storedValue(rule?.name ?? (d.field === 'anonymousId' ? 'anonymous_id' : 'user_id'), value)
  }
}

export interface SessionAssignment {
  readonly sessionId: string
  readonly started: boolean
}

/** Assigns sessions in event order over a working set loaded once per batch; mutates `sessions`. */
export function assignSession(
  sessions: Map<string, SessionState>,
  key: string,
  time: number,
  timeoutMs: number,
  seed: string,
): SessionAssignment {
  const current = sessions.get(key)
  if (current && time - current.lastAt <= timeoutMs && time >= current.startedAt - timeoutMs) {
    if (time > current.lastAt) sessions.set(key, { ...current, lastAt: time })
    return { sessionId: current.sessionId, started: false }
  }
  if (current && time < current.lastAt) {
    // A late event from before the current session: give it its own session without moving the current one.
    return { sessionId: deterministicId('s_', key, seed), started: true }
  }
  const sessionId = deterministicId('s_', key, seed)
  sessions.set(key, { sessionId, lastAt: time, startedAt: time })
  return { sessionId, started: true }
}
