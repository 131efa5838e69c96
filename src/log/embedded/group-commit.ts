/**
 * @module Group commit: coalesces the `append` calls made in one turn of the event loop into a single
 * transaction, so that many concurrent HTTP requests share one fsync instead of paying one each.
 *
 * Calls are queued and the group is written from a `setImmediate` callback, which runs after the event loop has
 * handled every I/O callback that was ready (all requests that arrived together). The write is synchronous, so no
 * call can slip into a group while it is being written; calls made meanwhile form the next group.
 */
import { TesseraError } from '../../core/errors.js'
import type { AppendRecord, AppendResult, TopicPartitionOffset } from '../event-log.js'
import type { AppendCall } from './log-appender.js'
import { toWriteError } from './sqlite-errors.js'

/** Writes a whole group in one transaction (all or nothing) and returns each call's positions, in order. */
export type GroupWriter = (calls: readonly AppendCall[]) => TopicPartitionOffset[][]

/** Counters for metrics and tests. */
export interface GroupCommitStats {
  /** Transactions committed; one per group of coalesced calls. */
  readonly groupsCommitted: number
  readonly callsCommitted: number
  readonly recordsCommitted: number
  /** Groups whose transaction failed (all their calls were rejected). */
  readonly groupsFailed: number
  /** Bytes (UTF-16 code units of values) accepted but not yet committed. */
  readonly pendingBytes: number
}

interface QueuedCall extends AppendCall {
  readonly bytes: number
  readonly resolve: (result: AppendResult) => void
  readonly reject: (error: Error) => void
}

/** Queues `append` calls and writes each event-loop turn's calls as one transaction; see the module comment. */
export class GroupCommitter {
  readonly #write: GroupWriter
  readonly #maxPendingBytes: number
  readonly #onCommitted: () => void
  #queue: QueuedCall[] = []
  #scheduled: NodeJS.Immediate | undefined
  #pendingBytes = 0
  #groupsCommitted = 0
  #callsCommitted = 0
  #recordsCommitted = 0
  #groupsFailed = 0

  /**
   * @param write writes one group synchronously; a throw rejects every call of the group.
   * @param maxPendingBytes most value bytes that may wait for a commit; calls beyond it are refused.
   * @param onCommitted called after each committed group (to wake consumers).
   */
  constructor(write: GroupWriter, maxPendingBytes: number, onCommitted: () => void) {
    this.#write = write
    this.#maxPendingBytes = maxPendingBytes
    this.#onCommitted = onCommitted
  }

  /**
   * Queues one call; resolves once the transaction holding it committed. Rejects at once with
   * `TESSERA_BACKPRESSURE` when accepting it would exceed `maxPendingBytes` (a single call larger than the limit
   * is always refused: split it), and with the mapped SQLite error when its group's transaction fails.
   */
  submit(topic: string, records: readonly AppendRecord[]): Promise<AppendResult> {
    let bytes = 0
    for (const r of records) bytes += r.value.length
    if (this.#pendingBytes + bytes > this.#maxPendingBytes) {
      return Promise.reject(new TesseraError('TESSERA_BACKPRESSURE',
        `event log is busy: ${this.#pendingBytes} bytes wait for a commit, this call adds ${bytes}, the limit is ${this.#maxPendingBytes}`,
        { retryAfterSeconds: 1 }))
    }
    const acceptedAt = Date.now()
    return new Promise<AppendResult>((resolve, reject) => {
      this.#queue.push({ topic, records, acceptedAt, bytes, resolve, reject })
      this.#pendingBytes += bytes
      this.#scheduled ??= setImmediate(() => this.flush())
    })
  }

  /** Writes the queued calls now (used by `close()`); a no-op when nothing is queued. Never throws. */
  flush(): void {
    if (this.#scheduled !== undefined) {
      clearImmediate(this.#scheduled)
      this.#scheduled = undefined
    }
    const calls = this.#queue
    if (calls.length === 0) return
    this.#queue = []
    let bytes = 0
    let records = 0
    for (const call of calls) {
      bytes += call.bytes
      records += call.records.length
    }
    let results: TopicPartitionOffset[][]
    try {
      results = this.#write(calls)
    } catch (error) {
      this.#pendingBytes -= bytes
      this.#groupsFailed++
      const failure = error instanceof TesseraError ? error : toWriteError(error, 'append')
      for (const call of calls) call.reject(failure)
      return
    }
    this.#pendingBytes -= bytes
    this.#groupsCommitted++
    this.#callsCommitted += calls.length
    this.#recordsCommitted += records
    for (let i = 0; i < calls.length; i++) calls[i]!.resolve({ positions: results[i]! })
    this.#onCommitted()
  }

  get stats(): GroupCommitStats {
    return {
      groupsCommitted: this.#groupsCommitted,
      callsCommitted: this.#callsCommitted,
      recordsCommitted: this.#recordsCommitted,
      groupsFailed: this.#groupsFailed,
      pendingBytes: this.#pendingBytes,
    }
  }
}
