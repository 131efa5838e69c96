/**
 * @module The stage runner: consumes `events.raw` in batches and runs the stages inside one state
 * transaction that also stores the consumer offsets, so a crash at any moment neither loses nor
 * double-counts an event (the uncommitted batch is delivered again and produces the same state).
 *
 * Failure handling: an infrastructure error (store or log unavailable) stops the batch and the runner
 * retries it with backoff; any other error in an `ensure` stage is treated as a poison event: the batch is
 * retried one event at a time and the event that still fails goes to the dead-letter topic, so one bad event
 * cannot stall the pipeline.
 */
import { isTesseraError } from '../core/errors.js'
import type { RawEvent } from '../core/event.js'
import { TOPICS, type EventLog, type LogConsumer, type LogRecord, type RecordBatch, type TopicPartitionOffset } from '../log/event-log.js'
import type { StateBackend } from '../storage/state-backend.js'
import { eventTime } from '../identity/resolve-batch.js'
import type { BatchContext, Stage, StageName, WorkItem } from './stage.js'

export const PIPELINE_GROUP = 'tessera-pipeline'

/** What the runner needs of an item: the record it came from (offsets, dead-lettering). */
export interface RunnerItem {
  readonly record: LogRecord
}

/** Turns records into the items a runner's stages work on. */
export interface ItemCodec<T extends RunnerItem> {
  /** The item, or why the record can never be processed (it goes to the dead-letter topic). */
  parse(record: LogRecord): T | { readonly poison: string }
  /** A copy without anything stages wrote, for a retried transaction. */
  fresh(item: T): T
}

/** Items of `events.raw`: the events ingest accepted. */
export const rawEventCodec: ItemCodec<WorkItem> = {
  parse(record) {
    let event: RawEvent
    try {
      event = JSON.parse(record.value) as RawEvent
    } catch (error) {
      return { poison: `not JSON: ${(error as Error).message}` }
    }
    if (typeof event !== 'object' || event === null || typeof event.messageId !== 'string' || typeof event.type !== 'string') {
      return { poison: 'not a Tessera event (no messageId or type)' }
    }
    return { record, event, time: eventTime(event), enrichment: {} }
  },
  fresh: (i) => ({ record: i.record, event: i.event, time: i.time, enrichment: {} }),
}

/** The first runner's input: `events.raw` in the `tessera-pipeline` group. */
export const RAW_INPUT = { group: PIPELINE_GROUP, topic: TOPICS.raw, codec: rawEventCodec } as const

export interface PipelineStats {
  batches: number
  processed: number
  duplicates: number
  merges: number
  deadLettered: number
  /** Records removed from the input log (retention) before the pipeline read them: never processed. */
  lost: number
  /** Records whose data key was destroyed (an erased person, crypto-shredding): skipped, never processed. */
  shredded: number
  lastBatchMs: number
  stageErrors: Partial<Record<StageName, number>>
}

export interface BatchInfo {
  /** The topic the batch came from (events.raw, or events.resolved for the profile owners). */
  readonly topic: string
  readonly records: number
  readonly processed: number
  readonly duplicates: number
  readonly merges: number
  /** Records skipped over because the log no longer had them (see {@link PipelineStats.lost}). */
  readonly lost: number
  /** Records skipped because their data key was shredded (see {@link PipelineStats.shredded}). */
  readonly shredded: number
  readonly ms: number
  /** Errors caught in `attempt` stages during this batch, by stage. */
  readonly stageErrors: Partial<Record<StageName, number>>
}

export interface PipelineLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface PipelineRunnerOptions<T extends RunnerItem = WorkItem> {
  /** Consumer group; its offsets are stored with the state under this name. */
  readonly group: string
  readonly topic: string
  readonly codec: ItemCodec<T>
  readonly input: EventLog
  readonly state: StateBackend
  /** Where poison events go (`events.dead-letter`); usually the same log as the resolved output. */
  readonly deadLetter: EventLog
  readonly stages: readonly Stage<T>[]
  readonly batchSize: number
  readonly maxWaitMs: number
  readonly dedupeWindowMs: number
  readonly logger: PipelineLogger
  /** Called after each committed batch (metrics, tests). */
  readonly onBatch?: (info: BatchInfo) => void
}

export class PipelineRunner<T extends RunnerItem = WorkItem> {
  readonly #options: PipelineRunnerOptions<T>
  readonly stats: PipelineStats = { batches: 0, processed: 0, duplicates: 0, merges: 0, deadLettered: 0, lost: 0, shredded: 0, lastBatchMs: 0, stageErrors: {} }
  #consumer: LogConsumer | undefined
  #stopped = false
  #loop: Promise<void> | undefined
  #lastPurge = 0
  readonly #committed = new Map<number, TopicPartitionOffset>()

  constructor(options: PipelineRunnerOptions<T>) {
    this.#options = options
  }

  /** The topic this runner consumes. */
  get topic(): string {
    return this.#options.topic
  }

  /** Starts consuming; resolves at once. Errors are logged and retried with backoff until `stop()`. */
  start(): void {
    this.#loop ??= this.#supervise()
  }

  /** Offsets committed with the state so far (next offset to process, per partition of the input topic). */
  committedOffsets(): TopicPartitionOffset[] {
    return [...this.#committed.values()]
  }

  async stop(): Promise<void> {
    this.#stopped = true
    await this.#consumer?.stop()
    await this.#loop
    // A stage that opened a connection of its own (a PostgreSQL pool keeps a worker thread alive) closes it here.
    for (const stage of this.#options.stages) await stage.close?.()
  }

  async #supervise(): Promise<void> {
    let backoff = 100
    while (!this.#stopped) {
      const { group, topic } = this.#options
      const consumer = this.#options.input.createConsumer({
        group,
        topic,
        maxBatchRecords: this.#options.batchSize,
        maxWaitMs: this.#options.maxWaitMs,
        onAssign: async () => {
          const stored = await this.#options.state.transaction((tx) => tx.offsets.load(group, topic))
          for (const o of stored) this.#committed.set(o.partition, o)
          return stored
        },
      })
      this.#consumer = consumer
      try {
        await consumer.run(async (batch) => {
          await this.#handle(batch)
          backoff = 100
        })
      } catch (error) {
        if (this.#stopped) break
        this.#options.logger.error({ err: describe(error), retryInMs: backoff }, 'pipeline batch failed; retrying')
        await new Promise((r) => setTimeout(r, backoff))
        backoff = Math.min(backoff * 2, 10_000)
      }
    }
  }

  async #handle(batch: RecordBatch): Promise<void> {
    const started = performance.now()
    const lost = this.#checkContinuity(batch.records)
    const { items, poison, shredded } = this.#parse(batch.records)
    this.stats.shredded += shredded
    if (poison.length > 0) await this.#deadLetter(poison.map((p) => ({ record: p.record, reason: p.reason })))
    const offsets = nextOffsets(batch.records)
    const counts = await this.#applyRetryingInPlace(items, offsets)
    const ms = performance.now() - started
    const processed = items.length - (counts.duplicates ?? 0)
    this.stats.batches++
    this.stats.processed += processed
    this.stats.duplicates += counts.duplicates ?? 0
    this.stats.merges += counts.merges ?? 0
    this.stats.lastBatchMs = ms
    const stageErrors: Partial<Record<StageName, number>> = {}
    for (const [k, v] of Object.entries(counts)) if (k.startsWith('stageError:')) stageErrors[k.slice(11) as StageName] = v
    this.#options.onBatch?.({ topic: this.#options.topic, records: batch.records.length, processed, duplicates: counts.duplicates ?? 0, merges: counts.merges ?? 0, lost, shredded, ms, stageErrors })
    await this.#maybePurge()
  }

  /**
   * A store failure (a connection killed, a deadlock, a commit refused) is retried here, on the same batch, a few
   * times within about a second before the consumer gives the batch up. Giving it up means leaving the consumer
   * group and joining again: on Kafka that rebalances every member of the group and, on a broker that does not
   * act on the LeaveGroup at once (librdkafka's mock cluster), waits a whole session timeout (30 s). Retrying in
   * place is safe for the same reason redelivery is: #commit starts from fresh items, and the state's dedupe
   * keys and the offsets stored with it make a second application of the batch count nothing twice.
   */
  async #applyRetryingInPlace(items: readonly T[], offsets: readonly TopicPartitionOffset[]): Promise<Record<string, number>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#apply(items, offsets)
      } catch (error) {
        if (!isInfrastructureError(error) || attempt >= IN_PLACE_ATTEMPTS || this.#stopped) throw error
        const retryInMs = 100 * 2 ** (attempt - 1)
        this.#options.logger.warn({ err: describe(error), attempt, retryInMs }, 'batch failed on the store; retrying it in place')
        await new Promise((r) => setTimeout(r, retryInMs))
      }
    }
  }

  /** Commits the batch; an event whose content makes the batch fail is isolated and dead-lettered. */
  async #apply(items: readonly T[], offsets: readonly TopicPartitionOffset[]): Promise<Record<string, number>> {
    let counts: Record<string, number>
    try {
      counts = await this.#commit(items, offsets)
    } catch (error) {
      if (isInfrastructureError(error) || items.length <= 1) {
        if (items.length === 1 && !isInfrastructureError(error)) {
          await this.#deadLetter([{ record: items[0]!.record, reason: describe(error).message }])
          counts = await this.#commit([], offsets)
        } else throw error
      } else {
        this.#options.logger.warn({ err: describe(error), records: items.length }, 'batch failed; isolating the failing event')
        counts = {}
        for (const item of items) {
          const single: T[] = [item]
          try {
            const c = await this.#commit(single, nextOffsets([item.record]))
            for (const [k, v] of Object.entries(c)) counts[k] = (counts[k] ?? 0) + v
          } catch (inner) {
            if (isInfrastructureError(inner)) throw inner
            await this.#deadLetter([{ record: item.record, reason: describe(inner).message }])
          }
        }
        counts = { ...counts, ...(await this.#commit([], offsets)) }
      }
    }
    return counts
  }

  /**
   * A batch that starts after the next offset stored with the state means the log dropped records before the
   * pipeline read them: Kafka's retention (time or bytes) ran out while the pipeline lagged, and the consumer
   * restarted at the earliest record still kept. They cannot be processed any more; say so loudly and count them
   * (`lost` in the stats and the metrics) instead of skipping them silently. Returns how many were lost. (Tessera's
   * producers are not transactional, so events.raw has no control records and its offsets have no other gaps.)
   */
  #parse(records: readonly LogRecord[]): { items: T[]; poison: { record: LogRecord; reason: string }[]; shredded: number } {
    const items: T[] = []
    const poison: { record: LogRecord; reason: string }[] = []
    let shredded = 0
    for (const record of records) {
      // Its offset still counts as read (nextOffsets covers every record of the batch): it can never be processed.
      if (record.shredded) {
        shredded++
        continue
      }
      const parsed = this.#options.codec.parse(record)
      if ('poison' in parsed) poison.push({ record, reason: parsed.poison })
      else items.push(parsed)
    }
    return { items, poison, shredded }
  }

  #checkContinuity(records: readonly LogRecord[]): number {
    const first = new Map<number, number>()
    for (const r of records) if ((first.get(r.partition) ?? Infinity) > r.offset) first.set(r.partition, r.offset)
    let lost = 0
    for (const [partition, offset] of first) {
      const expected = this.#committed.get(partition)?.offset
      if (expected === undefined || offset <= expected) continue
      lost += offset - expected
      this.#options.logger.error({ topic: this.#options.topic, partition, from: expected, to: offset - 1, lost: offset - expected },
        'events were removed from the log before the pipeline read them (log retention shorter than the pipeline lag); they are lost')
    }
    this.stats.lost += lost
    return lost
  }

  async #commit(items: readonly T[], offsets: readonly TopicPartitionOffset[]): Promise<Record<string, number>> {
    return this.#options.state.transaction(async (tx) => {
      // Fresh work items per attempt: a backend may run this function again after a deadlock (PostgreSQL),
      // and stages mark items (duplicate, profile) inside a transaction that was rolled back.
      const fresh: T[] = items.map((i) => this.#options.codec.fresh(i))
      const ctx: BatchContext<T> = { items: fresh, tx, now: Date.now(), counts: {} }
      if (items.length > 0) {
        for (const stage of this.#options.stages) {
          if (stage.policy === 'ensure') {
            await stage.run(ctx)
            continue
          }
          try {
            await stage.run(ctx)
          } catch (error) {
            if (isInfrastructureError(error)) throw error
            this.stats.stageErrors[stage.name] = (this.stats.stageErrors[stage.name] ?? 0) + 1
            ctx.counts[`stageError:${stage.name}`] = (ctx.counts[`stageError:${stage.name}`] ?? 0) + 1
            this.#options.logger.warn({ stage: stage.name, err: describe(error) }, 'stage failed; batch continues without it')
          }
        }
      }
      await tx.offsets.save(this.#options.group, offsets)
      return ctx.counts
    }).then((counts) => {
      for (const o of offsets) this.#committed.set(o.partition, o)
      return counts
    })
  }

  async #deadLetter(entries: readonly { record: LogRecord; reason: string }[]): Promise<void> {
    this.stats.deadLettered += entries.length
    this.#options.logger.warn({ count: entries.length, reasons: [...new Set(entries.map((e) => e.reason))].slice(0, 5) }, 'events sent to the dead-letter topic')
    await this.#options.deadLetter.append(TOPICS.deadLetter, entries.map(({ record, reason }) => ({
      key: record.key,
      value: JSON.stringify({ reason, topic: record.topic, partition: record.partition, offset: record.offset, value: record.value }),
      timestamp: record.timestamp,
    })))
  }

  async #maybePurge(): Promise<void> {
    const now = Date.now()
    if (now - this.#lastPurge < 60_000) return
    this.#lastPurge = now
    const removed = await this.#options.state.transaction((tx) => tx.dedupe.purge(now - this.#options.dedupeWindowMs))
    if (removed > 0) this.#options.logger.info({ removed }, 'purged expired dedupe keys')
  }
}

function nextOffsets(records: readonly LogRecord[]): TopicPartitionOffset[] {
  const next = new Map<string, TopicPartitionOffset>()
  for (const r of records) {
    const key = `${r.topic}\u0000${r.partition}`
    const current = next.get(key)
    if (!current || current.offset <= r.offset) next.set(key, { topic: r.topic, partition: r.partition, offset: r.offset + 1 })
  }
  return [...next.values()]
}

/** Errors from storage or the log itself, as opposed to errors caused by one event's content. */
/** Attempts of a batch that fails on the store before the consumer gives it up (100 + 200 ms between them). */
const IN_PLACE_ATTEMPTS = 3

function isInfrastructureError(error: unknown): boolean {
  if (isTesseraError(error)) return error.code !== 'TESSERA_VALIDATION'
  const code = (error as { code?: unknown })?.code
  return typeof code === 'string' && (code.startsWith('SQLITE_') || code.startsWith('E'))
}

function describe(error: unknown): { message: string; code?: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return typeof code === 'string' ? { message: error.message, code } : { message: error.message }
  }
  return { message: String(error) }
}
