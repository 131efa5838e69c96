/**
 * @module The stage contract. Each stage works on a whole batch and states its failure policy in code
 * (after analytics-next's plugin types): `ensure` stages must succeed or the batch is not committed;
 * `attempt` stages log and count an error (`tessera_pipeline_stage_errors_total{stage}`) and the batch goes on.
 */
import type { Enrichment, RawEvent } from '../core/event.js'
import type { LogRecord } from '../log/event-log.js'
import type { StateTransaction } from '../storage/state-backend.js'

export const STAGE_NAMES = ['dedupe', 'suppress', 'enrich', 'resolve-identity', 'update-profiles', 'publish', 'apply-profiles'] as const
export type StageName = (typeof STAGE_NAMES)[number]

export const FAILURE_POLICIES = ['ensure', 'attempt'] as const
export type FailurePolicy = (typeof FAILURE_POLICIES)[number]

/** One event travelling through the stages of a batch. Stages fill in fields; `dropped` ends its journey. */
export interface WorkItem {
  readonly record: LogRecord
  readonly event: RawEvent
  /** Event time in ms (after clock-skew correction at ingest). */
  readonly time: number
  dropped?: 'duplicate' | 'suppressed'
  enrichment: Enrichment
  profileId?: string
  /** Profiles merged into `profileId` by this event. */
  merged?: readonly string[]
  /** The resolved event serialised once by update-profiles, reused by publish. */
  resolvedJson?: string
}

export interface BatchContext<T = WorkItem> {
  readonly items: readonly T[]
  readonly tx: StateTransaction
  /** Wall-clock ms at batch start. */
  readonly now: number
  /** Counters a stage reports (merges, duplicates...), summed into metrics by the runner. */
  readonly counts: Record<string, number>
}

export interface Stage<T = WorkItem> {
  readonly name: StageName
  readonly policy: FailurePolicy
  run(batch: BatchContext<T>): Promise<void>
  /** Releases what the stage opened itself (connections, files); called once when its runner stops. */
  close?(): Promise<void>
}

export function live(items: readonly WorkItem[]): WorkItem[] {
  return items.filter((i) => i.dropped === undefined)
}
