/**
 * @module The SQLite DataKeyStore on a thread of its own. keys.db commits with a rollback journal and
 * `synchronous = FULL` (data-key-store.ts says why), which costs 2-9 ms of fsyncs per transaction on the benchmark
 * VM; better-sqlite3 is synchronous, so on the calling thread each commit stopped ingest (or the pipeline) for
 * that long. Here a worker thread owns the SqliteDataKeyStore and every call is a message to it: the caller's event
 * loop keeps serving requests while a commit waits for the disk, and a call resolves only after the worker's
 * transaction committed (the durability of a key before anything sealed under it is unchanged).
 *
 * The worker handles one call at a time, in the order sent, on one connection. It holds no state besides the
 * connection; keys cross the thread boundary wrapped (as stored), never unwrapped.
 */
import { Worker } from 'node:worker_threads'
import { TesseraError, type ErrorCode } from '../../core/errors.js'
import type { DataKeyStore, StoredDataKey } from '../../governance/crypto/data-key-store.js'

/** The calls the worker serves: the DataKeyStore port minus `close`, plus `opened` (did the file open?). */
export type DataKeyStoreMethod = Exclude<keyof DataKeyStore, 'close'> | 'opened'

export interface DataKeyStoreRequest { readonly id: number; readonly method: DataKeyStoreMethod; readonly args: readonly unknown[] }

/** An error as it crosses the thread boundary (structured clone keeps neither the class nor the code). */
export interface SerializedError { readonly message: string; readonly code?: ErrorCode; readonly field?: string; readonly retryAfterSeconds?: number }

export type DataKeyStoreReply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: SerializedError }

export function serializeError(error: unknown): SerializedError {
  if (error instanceof TesseraError) {
    return { message: error.message, code: error.code, ...(error.field === undefined ? {} : { field: error.field }), ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }) }
  }
  return { message: error instanceof Error ? error.message : String(error) }
}

function deserializeError(e: SerializedError): Error {
  if (e.code === undefined) return new Error(e.message)
  return new TesseraError(e.code, e.message, { ...(e.field === undefined ? {} : { field: e.field }), ...(e.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: e.retryAfterSeconds }) })
}

/** A Buffer over the bytes of a Uint8Array that came through postMessage (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

export function reviveKeys(rows: readonly StoredDataKey[]): StoredDataKey[] {
  return rows.map((r) => ({ ...r, wrapped: asBuffer(r.wrapped) }))
}

const TS_BOOTSTRAP = `const { workerData } = require('node:worker_threads')
import('tsx/esm/api').then((tsx) => { tsx.register(); return import(workerData.module) })`

interface Waiting { readonly resolve: (value: unknown) => void; readonly reject: (error: Error) => void }

export class ThreadedSqliteDataKeyStore implements DataKeyStore {
  readonly #start: () => Worker
  readonly #waiting = new Map<number, Waiting>()
  #worker: Worker | null
  #next = 1
  #closed = false

  /** Starts the worker over `path` (created if absent); rejects with the store's error if it cannot open it. */
  static async open(path: string): Promise<ThreadedSqliteDataKeyStore> {
    const here = new URL(import.meta.url)
    const isTs = here.pathname.endsWith('.ts')
    const entry = new URL(`./data-key-store-worker.${isTs ? 'ts' : 'js'}`, here)
    const workerData = { path, module: entry.href }
    // From TypeScript sources (tests) a bootstrap registers tsx first, as pipeline-host.ts does.
    const store = new ThreadedSqliteDataKeyStore(() => isTs ? new Worker(TS_BOOTSTRAP, { eval: true, workerData }) : new Worker(entry, { workerData }))
    try {
      await store.#call('opened', [])
    } catch (error) {
      await store.close()
      throw error
    }
    return store
  }

  private constructor(start: () => Worker) {
    this.#start = start
    this.#worker = this.#spawn()
  }

  /**
   * A new worker. If one dies (a bug, out of memory), the calls it had are rejected as TESSERA_STORE (ingest
   * answers 503, the client retries) and the next call starts another: nothing was acknowledged on their behalf.
   */
  #spawn(): Worker {
    const worker = this.#start()
    worker.on('message', (reply: DataKeyStoreReply) => {
      const waiting = this.#waiting.get(reply.id)
      if (waiting === undefined) return
      this.#waiting.delete(reply.id)
      if (this.#waiting.size === 0) worker.unref()
      if (reply.ok) waiting.resolve(reply.result)
      else waiting.reject(deserializeError(reply.error))
    })
    let failure: Error | undefined
    worker.on('error', (error) => {
      failure = new TesseraError('TESSERA_STORE', `the key store thread failed: ${error.message}`, { cause: error })
    })
    worker.on('exit', (code) => {
      const error = failure ?? new TesseraError('TESSERA_STORE', `the key store thread exited (code ${code})`)
      for (const w of this.#waiting.values()) w.reject(error)
      this.#waiting.clear()
      if (this.#worker === worker) this.#worker = null
    })
    worker.unref()
    return worker
  }

  #call(method: DataKeyStoreMethod, args: readonly unknown[]): Promise<unknown> {
    if (this.#closed) return Promise.reject(new TesseraError('TESSERA_STORE', 'the key store is closed'))
    const worker = this.#worker ??= this.#spawn()
    const id = this.#next++
    return new Promise((resolve, reject) => {
      // Referenced while a call waits (a CLI awaiting its answer must not exit), idle otherwise.
      if (this.#waiting.size === 0) worker.ref()
      this.#waiting.set(id, { resolve, reject })
      worker.postMessage({ id, method, args } satisfies DataKeyStoreRequest)
    })
  }

  /** Ends the worker abruptly (tests: a thread that dies). */
  terminateThread(): Promise<number> {
    return this.#worker?.terminate() ?? Promise.resolve(0)
  }

  async migrate(): Promise<void> {
    await this.#call('migrate', [])
  }

  async get(refs: readonly string[]): Promise<StoredDataKey[]> {
    if (refs.length === 0) return []
    return reviveKeys(await this.#call('get', [refs]) as StoredDataKey[])
  }

  async insertIfAbsent(keys: readonly StoredDataKey[]): Promise<StoredDataKey[]> {
    if (keys.length === 0) return []
    return reviveKeys(await this.#call('insertIfAbsent', [keys]) as StoredDataKey[])
  }

  async delete(refs: readonly string[]): Promise<number> {
    return await this.#call('delete', [refs]) as number
  }

  async notWrappedBy(masterKeyId: string, afterRef: string, limit: number): Promise<StoredDataKey[]> {
    return reviveKeys(await this.#call('notWrappedBy', [masterKeyId, afterRef, limit]) as StoredDataKey[])
  }

  async rewrap(ref: string, keyId: string, fromMasterKeyId: string, to: { readonly masterKeyId: string; readonly wrapped: Buffer }): Promise<boolean> {
    return await this.#call('rewrap', [ref, keyId, fromMasterKeyId, to]) as boolean
  }

  async countByMasterKey(): Promise<Record<string, number>> {
    return await this.#call('countByMasterKey', []) as Record<string, number>
  }

  async countDataKeys(): Promise<number> {
    return await this.#call('countDataKeys', []) as number
  }

  /** Closes the connection in the worker (after the calls already sent) and ends the thread. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const worker = this.#worker
    if (worker === null) return
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
    worker.ref()
    worker.postMessage({ id: 0, method: 'close', args: [] })
    await exited
  }
}
