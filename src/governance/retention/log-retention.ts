/**
 * @module How long the event log keeps records: the retention schedule of the events' data category (what
 * `event.event` is classified as, behavioral by default), or `log.retentionMs` when the operator sets a shorter one.
 * The embedded log applies it through the retention job; Kafka topics Tessera creates get it as `retention.ms`.
 */
import type { TesseraConfig } from '../../config/config.js'
import { ConfigError } from '../../core/errors.js'
import type { TopicSettings } from '../../log/event-log.js'
import { createClassifier } from '../classification.js'

const DAY_MS = 86_400_000

/** The events' schedule in ms, or undefined when their category has none (kept). */
export function eventScheduleMs(config: TesseraConfig): number | undefined {
  const category = createClassifier(config.governance.classification).classify('event.event').category
  const days = Object.hasOwn(config.governance.retention.schedules, category) ? config.governance.retention.schedules[category] : undefined
  return days === undefined ? undefined : days * DAY_MS
}

/** `retention.ms` for the topics Tessera creates: `log.retentionMs`, else the events' schedule, else the broker's default. */
export function logTopicSettings(config: TesseraConfig): TopicSettings {
  const ms = config.log.retentionMs ?? eventScheduleMs(config)
  return ms === undefined ? {} : { retentionMs: ms }
}

/** Refuses a `log.retentionMs` that would keep events longer than their schedule allows. */
export function validateLogRetention(config: TesseraConfig): void {
  const ms = config.log.retentionMs
  if (ms === undefined) return
  if (!Number.isSafeInteger(ms) || ms < 60_000) throw new ConfigError('config log.retentionMs: must be a whole number of milliseconds >= 60000 (Kafka retention.ms of the topics Tessera creates)', 'log.retentionMs')
  const schedule = eventScheduleMs(config)
  if (schedule !== undefined && ms > schedule) {
    throw new ConfigError(`config log.retentionMs: ${ms} keeps events longer than their retention schedule (${schedule / DAY_MS} days, governance.retention.schedules); ` +
      'use a value up to that, or raise the schedule', 'log.retentionMs')
  }
}
