/**
 * @module Wakes idle consumers when records were appended: at once for consumers in this thread and in worker
 * threads of this process (through a `BroadcastChannel` named after the log file), and by polling for everything
 * else (another process appending to the file cannot reach our channel).
 */
import { BroadcastChannel } from 'node:worker_threads'

/** The channel name every connection to one log file shares; `absolutePath` must already be resolved. */
export function appendChannelName(absolutePath: string): string {
  return `tessera-log:${absolutePath}`
}

/** The wake-up side of one log connection: announces its commits and lets its consumers wait for others'. */
export class AppendSignal {
  readonly #waiters = new Set<() => void>()
  readonly #channel: BroadcastChannel
  #generation = 0
  #closed = false

  constructor(channelName: string) {
    this.#channel = new BroadcastChannel(channelName)
    this.#channel.onmessage = () => this.#wake()
    // An idle log must not keep the process alive; a waiting consumer does so through its poll timer instead.
    this.#channel.unref()
  }

  /**
   * Increases with every wake-up. A consumer reads it before it looks for records and passes it to `wait`, so an
   * append that lands between the look and the wait is not lost (the wait then returns at once).
   */
  get generation(): number {
    return this.#generation
  }

  /** Tells consumers of this file, here and in other threads, that new records are committed. */
  announce(): void {
    this.#wake()
    // The sender never receives its own message; consumers on this instance were woken above.
    if (!this.#closed) this.#channel.postMessage(null)
  }

  /**
   * Resolves on the next wake-up after `seen` (see {@link generation}), after `ms`, when `abort` fires, or when
   * the signal is closed; whichever comes first. Never rejects.
   */
  wait(ms: number, abort: AbortSignal, seen: number): Promise<void> {
    if (this.#closed || abort.aborted || seen !== this.#generation) return Promise.resolve()
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        abort.removeEventListener('abort', done)
        this.#waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      abort.addEventListener('abort', done, { once: true })
      this.#waiters.add(done)
    })
  }

  /** Closes the channel (so it cannot keep the process or the thread alive) and releases all waiters. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#channel.close()
    this.#wake()
  }

  #wake(): void {
    this.#generation++
    for (const done of [...this.#waiters]) done()
  }
}
