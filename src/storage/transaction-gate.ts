/**
 * @module How a state backend admits transactions: one at a time on a single connection (SQLite), or concurrently
 * on a pool (PostgreSQL). Either way a transaction started from inside another one on the same backend is refused,
 * since it would deadlock (SQLite) or escape the outer transaction (PostgreSQL).
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { TesseraError } from '../core/errors.js'

export class TransactionGate {
  readonly #inside = new AsyncLocalStorage<true>()
  readonly #serial: boolean
  #tail: Promise<unknown> = Promise.resolve()

  /** `serial`: transactions wait for the one before them (several runners share one connection). */
  constructor(options: { readonly serial: boolean }) {
    this.#serial = options.serial
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#inside.getStore() === true) {
      return Promise.reject(new TesseraError('TESSERA_STORE',
        'a state transaction was started inside another one on the same backend; do the work in the outer transaction'))
    }
    const enter = (): Promise<T> => this.#inside.run(true, work)
    if (!this.#serial) return enter()
    const result = this.#tail.then(enter)
    this.#tail = result.catch(() => undefined)
    return result
  }
}
