/**
 * @module Runs retention against the configured stores: for `tessera retention run` (its own audit log handle,
 * appending after whatever the server wrote) and for the interval job in `tessera up`.
 */
import type { TesseraConfig } from '../../config/config.js'
import type { Clock } from '../../core/clock.js'
import type { AuditActor } from '../audit-entry.js'
import type { AuditLog } from '../audit-log.js'
import { createClassifier } from '../classification.js'
import { openRetentionStore } from '../open-privacy.js'
import { runRetention, type LogTopicTarget, type RetentionReport } from './retention-job.js'
import { CLEAR_TRAITS, type TraitSealing } from './retention-store.js'

/** Opens the event-log topics for one run (src/app/retention-logs.ts); `close` releases what it opened. */
export type OpenLogTopics = () => Promise<{ readonly topics: readonly LogTopicTarget[]; close(): Promise<void> }>

/** One retention run: opens the state's retention side (and the log's topics), runs, closes. */
export async function retentionOnce(
  config: TesseraConfig, statePath: string, audit: AuditLog, clock: Clock, actor: AuditActor, dryRun: boolean, openLogTopics?: OpenLogTopics,
  sealing?: TraitSealing | null,
): Promise<RetentionReport> {
  const store = await openRetentionStore(config, statePath, sealing ?? CLEAR_TRAITS)
  const logs = openLogTopics ? await openLogTopics() : undefined
  try {
    return await runRetention({
      store, classifier: createClassifier(config.governance.classification), config: config.governance.retention, clock, audit, actor,
      ...(logs ? { logTopics: logs.topics } : {}),
    }, dryRun)
  } finally {
    await logs?.close()
    await store.close()
  }
}

/**
 * Starts the retention job of `tessera up`: a run every `intervalMinutes` (0 = off), the first one an interval
 * after start (so short-lived processes and tests are left alone; `tessera retention run` runs it at once).
 * Runs never overlap; a failure is reported and the next run tries again. Returns the stop function.
 */
export function startRetentionJob(options: {
  config: TesseraConfig; statePath: string; audit: AuditLog; clock: Clock; onReport: (r: RetentionReport) => void; onError: (e: Error) => void
  openLogTopics?: OpenLogTopics
  /** Opens and reseals sealed traits (src/profiles/profile-sealing.ts); null or absent: traits are in clear. */
  sealing?: TraitSealing | null
}): () => Promise<void> {
  const minutes = options.config.governance.retention.intervalMinutes
  if (minutes <= 0) return async () => {}
  let running: Promise<void> | null = null
  const tick = (): void => {
    if (running) return
    running = retentionOnce(options.config, options.statePath, options.audit, options.clock, { type: 'system', id: 'retention' }, false, options.openLogTopics, options.sealing)
      .then(options.onReport, (e: unknown) => options.onError(e as Error))
      .finally(() => { running = null })
  }
  const timer = setInterval(tick, minutes * 60_000)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await running
  }
}
