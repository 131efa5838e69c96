/**
 * @module Publishes the control records admin actions queued (an unmerge's notices, an accepted review's merge) when
 * no pipeline batch comes to take them (see src/profiles/profile-control-store.ts): every `intervalMs` it appends the
 * queued records to events.resolved and removes them, in one state transaction. A batch of the identity runner may
 * publish the same records at the same time; the profile owners' dedupe keys drop the second copy.
 */
import { TOPICS, type EventLog, type TopicPartitionOffset } from '../log/event-log.js'
import type { StateBackend } from '../storage/state-backend.js'
import type { RunnerHandle } from './build-pipeline.js'
import type { PipelineLogger, PipelineStats } from './pipeline-runner.js'
import { OUTBOX_LIMIT } from './stages/publish.js'

export interface OutboxPublisherOptions {
  readonly state: StateBackend
  readonly output: EventLog
  readonly logger: PipelineLogger
  /** How often the queue is looked at; default 200 ms. */
  readonly intervalMs?: number
}

export class OutboxPublisher implements RunnerHandle {
  readonly topic = TOPICS.resolved
  readonly stats: PipelineStats = { batches: 0, processed: 0, duplicates: 0, merges: 0, deadLettered: 0, lost: 0, shredded: 0, lastBatchMs: 0, stageErrors: {} }
  readonly #options: OutboxPublisherOptions
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #failing = false

  constructor(options: OutboxPublisherOptions) {
    this.#options = options
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.publish(), this.#options.intervalMs ?? 200)
    this.#timer.unref()
  }

  /** Publishes what is queued now (one run at a time). */
  publish(): Promise<void> {
    this.#running ??= this.#publish().finally(() => {
      this.#running = undefined
    })
    return this.#running
  }

  async #publish(): Promise<void> {
    try {
      const n = await this.#options.state.transaction(async (tx) => {
        const queued = await tx.control.pending(OUTBOX_LIMIT)
        if (queued.length === 0) return 0
        await this.#options.output.append(TOPICS.resolved, queued.map((q) => ({ key: q.key, value: q.value })))
        await tx.control.published(queued.map((q) => q.seq))
        return queued.length
      })
      if (n > 0) {
        this.stats.processed += n
        this.stats.batches++
      }
      if (this.#failing) this.#options.logger.info({}, 'queued control records are published again')
      this.#failing = false
    } catch (error) {
      // Logged once per outage; the next tick (or the next pipeline batch) tries again.
      if (!this.#failing) this.#options.logger.warn({ err: { message: (error as Error).message } }, 'could not publish queued control records; retrying')
      this.#failing = true
    }
  }

  committedOffsets(): TopicPartitionOffset[] {
    return []
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
    await this.#running
  }
}
