/** @module Ports for the pipeline's own state: dedupe keys, sessions and consumer offsets. */
import type { TopicPartitionOffset } from '../log/event-log.js'

export interface DedupeStore {
  /** The subset of `keys` already processed within the window. */
  seen(keys: readonly string[]): Promise<Set<string>>
  remember(keys: readonly string[], at: number): Promise<void>
  /** Forgets keys remembered before `before` (ms); returns how many. */
  purge(before: number): Promise<number>
}

export interface SessionState {
  readonly sessionId: string
  /** Event time (ms) of the last event of the session. */
  readonly lastAt: number
  readonly startedAt: number
}

export interface SessionStore {
  get(keys: readonly string[]): Promise<Map<string, SessionState>>
  put(sessions: ReadonlyMap<string, SessionState>): Promise<void>
}

export interface OffsetStore {
  load(group: string, topic: string): Promise<readonly TopicPartitionOffset[]>
  save(group: string, offsets: readonly TopicPartitionOffset[]): Promise<void>
}
