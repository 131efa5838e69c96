/**
 * @module The worker thread of ThreadedSqliteDataKeyStore (data-key-store-thread.ts): owns one SqliteDataKeyStore
 * and answers its calls one at a time, in order. `close` closes the connection and ends the thread.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { DataKeyStore, StoredDataKey } from '../../governance/crypto/data-key-store.js'
import { SqliteDataKeyStore } from './data-key-store.js'
import { asBuffer, serializeError, type DataKeyStoreReply, type DataKeyStoreRequest } from './data-key-store-thread.js'

const port = parentPort!
const { path } = workerData as { readonly path: string }
let store: SqliteDataKeyStore | undefined
let openError: unknown
try {
  store = new SqliteDataKeyStore(path)
} catch (error) {
  openError = error
}

/** Buffers arrive as Uint8Arrays (structured clone); better-sqlite3 binds Buffers. */
function revive(method: DataKeyStoreRequest['method'], args: readonly unknown[]): unknown[] {
  if (method === 'insertIfAbsent') return [(args[0] as StoredDataKey[]).map((k) => ({ ...k, wrapped: asBuffer(k.wrapped) }))]
  if (method === 'rewrap') {
    const to = args[3] as { masterKeyId: string; wrapped: Uint8Array }
    return [args[0], args[1], args[2], { masterKeyId: to.masterKeyId, wrapped: asBuffer(to.wrapped) }]
  }
  return [...args]
}

let queue: Promise<void> = Promise.resolve()

port.on('message', (request: DataKeyStoreRequest | { readonly id: 0; readonly method: 'close' }) => {
  queue = queue.then(async () => {
    if (request.method === 'close') {
      await store?.close()
      port.close()
      return
    }
    let reply: DataKeyStoreReply
    try {
      if (store === undefined) throw openError
      if (request.method === 'opened') {
        port.postMessage({ id: request.id, ok: true, result: null } satisfies DataKeyStoreReply)
        return
      }
      const call = store[request.method] as (...a: unknown[]) => Promise<unknown>
      reply = { id: request.id, ok: true, result: await call.apply(store as DataKeyStore, revive(request.method, request.args)) }
    } catch (error) {
      reply = { id: request.id, ok: false, error: serializeError(error) }
    }
    port.postMessage(reply)
  })
})
