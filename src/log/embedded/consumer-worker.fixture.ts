/**
 * @module Test fixture, run in a worker thread by `embedded-reader.test.ts`: opens a reader of the log file and
 * consumes it, reporting to the parent thread. Its poll interval is far longer than the test waits, so records
 * reach it in time only if the appender's BroadcastChannel wakes it.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { openEmbeddedEventLog } from './embedded-event-log.js'

export interface ConsumerWorkerData {
  readonly path: string
  readonly topic: string
  readonly group: string
  readonly maxWaitMs: number
}

export type ConsumerWorkerMessage =
  | { readonly type: 'assigned' }
  | { readonly type: 'batch'; readonly values: readonly string[] }
  | { readonly type: 'stopped' }
  | { readonly type: 'failed'; readonly message: string }

const port = parentPort!
const { path, topic, group, maxWaitMs } = workerData as ConsumerWorkerData
const send = (message: ConsumerWorkerMessage): void => port.postMessage(message)

const reader = await openEmbeddedEventLog({ path, sync: 'full', maxPendingBytes: 0, readOnly: true })
const consumer = reader.createConsumer({
  group, topic, maxWaitMs,
  onAssign: async () => {
    send({ type: 'assigned' })
    return []
  },
})
const running = consumer.run(async (batch) => {
  send({ type: 'batch', values: batch.records.map((r) => r.value) })
  const last = new Map(batch.records.map((r) => [r.partition, r.offset + 1]))
  await consumer.commit([...last].map(([partition, offset]) => ({ topic, partition, offset })))
})
running.catch((error: unknown) => send({ type: 'failed', message: String(error) }))

port.once('message', () => {
  void (async () => {
    await consumer.stop()
    await reader.close()
    send({ type: 'stopped' })
    // Nothing else is done: the thread must end by itself, which proves the log left nothing running.
    port.close()
  })()
})
