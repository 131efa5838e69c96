/**
 * @module Waits for the pipeline to process what the demo sent, by polling the admin API: the profiles of a few
 * demo people (their event counts are known, and their last events were sent last) and, when the server has
 * it, the store's event total. Done when they reach what was sent, or when nothing has changed for a while.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { AdminClient, AdminProfile } from '../../client/admin-client.js'

export interface WatchedProfile {
  /** Identifier type and value to look the profile up by. */
  readonly type: string
  readonly value: string
  /** The eventCount the profile reaches once all its events are processed. */
  readonly expectedEvents: number
}

export interface AwaitOptions {
  readonly watched: readonly WatchedProfile[]
  /** `GET /v1/stats` events before sending, or null when the server has no stats endpoint. */
  readonly baselineEvents: number | null
  /** Distinct events sent (duplicates excluded). */
  readonly expectedEvents: number
  readonly timeoutMs: number
  /** Default 500 ms. */
  readonly intervalMs?: number
  /** How long counts must stay unchanged to call the pipeline settled short of the expected numbers (default 4 s). */
  readonly settleMs?: number
}

export interface ProcessingOutcome {
  /** `complete`: every count reached what was sent; `settled`: counts stopped changing short of it; `timeout`. */
  readonly status: 'complete' | 'settled' | 'timeout'
  /** When the last change was seen (ms): the end of processing. */
  readonly processedAt: number
  /** The watched profiles as last read (null: not found yet). */
  readonly profiles: readonly (AdminProfile | null)[]
  /** Events the store gained since the baseline, when the server reports it. */
  readonly processedEvents: number | null
}

/** Polls until done; throws the admin client's error if the API fails (unreachable, token refused). */
export async function awaitProcessing(admin: AdminClient, options: AwaitOptions): Promise<ProcessingOutcome> {
  const interval = options.intervalMs ?? 500
  const settleMs = options.settleMs ?? 4_000
  const started = Date.now()
  let useStats = options.baselineEvents !== null
  let signature = ''
  let lastChange = started
  for (;;) {
    const profiles = await Promise.all(options.watched.map((w) => admin.profileByIdentifier(w.type, w.value)))
    let processedEvents: number | null = null
    if (useStats) {
      const stats = await admin.stats()
      if (stats === null) useStats = false
      else processedEvents = stats.events - (options.baselineEvents ?? 0)
    }
    const now = Date.now()
    const next = JSON.stringify([profiles.map((p) => p?.eventCount ?? -1), processedEvents])
    if (next !== signature) {
      signature = next
      lastChange = now
    }
    const found = profiles.every((p) => p !== null)
    const profilesDone = found && profiles.every((p, i) => p!.eventCount >= options.watched[i]!.expectedEvents)
    const storeDone = processedEvents === null || processedEvents >= options.expectedEvents
    if (profilesDone && storeDone) return { status: 'complete', processedAt: now, profiles, processedEvents }
    if (found && now - lastChange >= settleMs) return { status: 'settled', processedAt: lastChange, profiles, processedEvents }
    if (now - started >= options.timeoutMs) return { status: 'timeout', processedAt: lastChange, profiles, processedEvents }
    await sleep(interval)
  }
}
