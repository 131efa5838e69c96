/**
 * @module Runs the pipeline beside the API: in a worker thread (default, so SQLite work never blocks HTTP and
 * the second core is used) or on the main thread (memory log, tests). Both expose the same handle.
 */
import type { IdentifierCodec } from '../identity/identifier-codec.js'
import { Worker } from 'node:worker_threads'
import { profileUpdatesMode, type TesseraConfig } from '../config/config.js'
import type { EventLog, TopicPartitionOffset } from '../log/event-log.js'
import { TOPICS } from '../log/event-log.js'
import type { StateBackend } from '../storage/state-backend.js'
import { buildPipeline, type RunnerHandle } from './build-pipeline.js'
import type { BatchInfo, PipelineLogger, PipelineStats } from './pipeline-runner.js'

export interface PipelineStatus extends PipelineStats {
  /**
   * Records appended to events.raw and not yet committed by the pipeline, per partition; null while it is
   * unknown (not measured yet, or the log did not answer the last time).
   */
  readonly lag: readonly number[] | null
  /** The same for the profile owners on events.resolved (partitioned profile updates only). */
  readonly profileLag?: readonly number[] | null
  readonly running: boolean
  /** Set when the worker died; the host restarts it. */
  readonly lastError?: string
}

export type BatchReport = BatchInfo

export interface PipelineHandle {
  status(): PipelineStatus
  /** Resolves once every record appended so far has been processed (or the timeout passed: false). */
  drain(timeoutMs: number): Promise<boolean>
  stop(): Promise<void>
}

export interface WorkerPipelineOptions {
  readonly config: TesseraConfig
  readonly paths: { readonly rawLog: string; readonly outputLog: string; readonly state: string }
  /** The log that ingest appends to (to compute lag from the main thread). */
  readonly input: EventLog
  /** The log holding events.resolved, for the profile owners' lag (partitioned profile updates only). */
  readonly output?: EventLog
  readonly logger: PipelineLogger
  readonly onBatch?: (report: BatchReport) => void
}

const TS_BOOTSTRAP = `const { workerData } = require('node:worker_threads')
import('tsx/esm/api').then((tsx) => { tsx.register(); return import(workerData.module) })`

/**
 * The worker's heap. A batch of 2,000 events allocates tens of MB of short-lived objects (parsed events, rows,
 * JSON); with V8's default young generation (a few tens of MB) many survive scavenges and get promoted, and the
 * old generation's collections follow. With a 192 MB young generation a batch's garbage dies young (GC was
 * 8.9% of the worker's profile before, 7.0% after, together with the 8 KiB log pages and the HMAC memo;
 * bench/pipeline.ts, docs/performance.md).
 */
export const WORKER_LIMITS = { maxYoungGenerationSizeMb: 192 } as const

const EMPTY_STATS: PipelineStats = { batches: 0, processed: 0, duplicates: 0, merges: 0, deadLettered: 0, lost: 0, shredded: 0, lastBatchMs: 0, stageErrors: {} }

/** A consumed topic whose lag the host watches: end offsets in `log` minus the committed offsets. */
interface LagSource {
  readonly log: EventLog
  readonly topic: string
}

async function computeLag(source: LagSource, committed: readonly TopicPartitionOffset[]): Promise<number[]> {
  const ends = await source.log.endOffsets(source.topic)
  const done = new Map(committed.filter((c) => c.topic === source.topic).map((c) => [c.partition, c.offset]))
  return ends.map((e) => Math.max(0, e.offset - (done.get(e.partition) ?? 0)))
}

interface ProgressTracker {
  /** Last measured lag per partition of each source; null while unknown (not measured yet, or the log did not answer). */
  lag(index: number): number[] | null
  drain(timeoutMs: number): Promise<boolean>
  stop(): void
}

/**
 * Measures the pipeline's lag on each consumed topic every second and waits for all of them to catch up, from
 * wherever the committed offsets come from (the worker's reports, or the in-process runners). Shared by both handles.
 * Sources are drained in order: events.raw first, since its runner is what appends to events.resolved.
 */
function trackProgress(sources: readonly LagSource[], committed: () => readonly TopicPartitionOffset[], logger: PipelineLogger): ProgressTracker {
  const lags: (number[] | null)[] = sources.map(() => null)
  const timer = setInterval(() => {
    sources.forEach((source, i) => {
      computeLag(source, committed()).then((l) => { lags[i] = l }, (error: unknown) => {
        lags[i] = null // never report an unmeasured lag as zero
        logger.warn({ err: { message: (error as Error).message }, topic: source.topic }, 'could not measure pipeline lag')
      })
    })
  }, 1000)
  timer.unref()
  return {
    lag: (index) => lags[index] ?? null,
    async drain(timeoutMs) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        let caughtUp = true
        for (const source of sources) {
          if (!(await computeLag(source, committed())).every((l) => l === 0)) {
            caughtUp = false
            break
          }
        }
        if (caughtUp) return true
        if (Date.now() > deadline) return false
        await new Promise((r) => setTimeout(r, 20))
      }
    },
    stop: () => clearInterval(timer),
  }
}

/** Lag sources of a pipeline: events.raw, plus events.resolved when profiles are updated by partition. */
function lagSources(config: TesseraConfig, input: EventLog, output: EventLog | undefined): LagSource[] {
  const sources: LagSource[] = [{ log: input, topic: TOPICS.raw }]
  if (profileUpdatesMode(config) === 'partitioned') {
    // On Kafka both topics are in one cluster; the embedded mode keeps events.resolved in its own file.
    sources.push({ log: output ?? input, topic: TOPICS.resolved })
  }
  return sources
}

function statusOf(stats: PipelineStats, progress: ProgressTracker, sources: readonly LagSource[], running: boolean): PipelineStatus {
  return { ...stats, lag: progress.lag(0), ...(sources.length > 1 ? { profileLag: progress.lag(1) } : {}), running }
}

/** The identity runner's stats stand for the pipeline (the profile owners' batches are reported through onBatch). */
function combinedStats(runners: readonly RunnerHandle[]): PipelineStats {
  return runners[0]!.stats
}

export function startWorkerPipeline(options: WorkerPipelineOptions): PipelineHandle {
  const here = new URL(import.meta.url)
  const isTs = here.pathname.endsWith('.ts')
  const entry = new URL(`./pipeline-worker.${isTs ? 'ts' : 'js'}`, here)
  let stats: PipelineStats = EMPTY_STATS
  let committed: TopicPartitionOffset[] = []
  let running = false
  let stopping = false
  let lastError: string | undefined
  let worker: Worker
  let stopped: Promise<void> = Promise.resolve()

  const spawn = (): void => {
    const workerData = { config: options.config, paths: options.paths, module: entry.href }
    // Running from TypeScript sources (tests, tsx): `execArgv: ['--import', 'tsx']` does not reach a worker's
    // entry module on Node 20, so a small bootstrap registers tsx first. Built code (dist/) needs none of it.
    worker = isTs
      ? new Worker(TS_BOOTSTRAP, { eval: true, workerData, resourceLimits: WORKER_LIMITS })
      : new Worker(entry, { workerData, resourceLimits: WORKER_LIMITS })
    running = true
    stopped = new Promise((resolve) => worker.once('exit', () => resolve()))
    worker.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'stats') {
        stats = msg.stats
        committed = msg.committed
      } else if (msg.type === 'batch') options.onBatch?.(msg.report)
      else if (msg.type === 'log') options.logger[msg.level](msg.obj, msg.msg)
    })
    worker.on('error', (error) => {
      lastError = error.message
      options.logger.error({ err: { message: error.message, stack: error.stack } }, 'pipeline worker failed')
    })
    worker.on('exit', (code) => {
      running = false
      if (!stopping) {
        options.logger.error({ code }, 'pipeline worker exited; restarting in 1 s')
        setTimeout(() => { if (!stopping) spawn() }, 1000).unref()
      }
    })
  }
  spawn()
  const sources = lagSources(options.config, options.input, options.output)
  const progress = trackProgress(sources, () => committed, options.logger)

  return {
    status: () => ({ ...statusOf(stats, progress, sources, running), ...(lastError ? { lastError } : {}) }),
    drain: (timeoutMs) => progress.drain(timeoutMs),
    async stop() {
      stopping = true
      progress.stop()
      if (running) worker.postMessage({ type: 'stop' })
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000).unref())
      if ((await Promise.race([stopped.then(() => 'ok' as const), timeout])) === 'timeout') await worker.terminate()
    },
  }
}

export type WorkerMessage =
  | { type: 'stats'; stats: PipelineStats; committed: TopicPartitionOffset[] }
  | { type: 'batch'; report: BatchReport }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; obj: object; msg: string }
  | { type: 'ready' }

export interface InProcessPipelineOptions {
  readonly config: TesseraConfig
  readonly input: EventLog
  readonly output: EventLog
  readonly state: StateBackend
  readonly logger: PipelineLogger
  readonly onBatch?: (report: BatchReport) => void
  /** The state's identifier codec (src/app/identifier-scheme.ts). */
  readonly identifiers: IdentifierCodec
}

export function startInProcessPipeline(options: InProcessPipelineOptions): PipelineHandle {
  const runners = buildPipeline(options.config, {
    input: options.input, output: options.output, state: options.state, logger: options.logger, identifiers: options.identifiers,
    onBatch: (report) => {
      options.onBatch?.(report)
    },
  })
  const sources = lagSources(options.config, options.input, options.output)
  const progress = trackProgress(sources, () => runners.flatMap((r) => r.committedOffsets()), options.logger)
  for (const runner of runners) runner.start()
  return {
    status: () => statusOf(combinedStats(runners), progress, sources, true),
    drain: (timeoutMs) => progress.drain(timeoutMs),
    async stop() {
      progress.stop()
      for (const runner of runners) await runner.stop()
    },
  }
}
