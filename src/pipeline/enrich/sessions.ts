/**
 * @module Sessionization: a session per device (anonymousId, else userId) that ends after a period of
 * inactivity. A session id the client sent (`context.sessionId`, as RudderStack's SDKs do) wins.
 */
import { deterministicId } from '../../core/hash.js'
import type { SessionState } from '../pipeline-state.js'

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
