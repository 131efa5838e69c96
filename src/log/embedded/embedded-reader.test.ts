import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { TesseraError } from '../../core/errors.js'
import type { LogRecord } from '../event-log.js'
import type { ConsumerWorkerData, ConsumerWorkerMessage } from './consumer-worker.fixture.js'
import { useTempLogs } from './temp-logs.fixture.js'

/** Far longer than any wait below: a consumer with this poll interval is only on time if something wakes it. */
const NEVER_POLL_MS = 120_000
const WAIT_LIMIT_MS = 15_000

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Lets a consumer that found nothing settle into its wait, so that a wake-up (not its first look) finds the records. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 100))

describe('EmbeddedEventLog readers', () => {
  const logs = useTempLogs({ sync: 'normal', maxPendingBytes: 1024 * 1024 })
  const open = logs.open

  it('a reader refuses appends but reads, consumes and commits what the appender writes', async () => {
    const appender = await open()
    const reader = await open({ readOnly: true })
    expect(reader.readOnly).toBe(true)
    await appender.ensureTopic('t', 2)
    await expect(reader.append('t', [{ key: 'k', value: 'v' }])).rejects.toThrow(/readOnly/)

    const delivered: LogRecord[] = []
    let assigned = false
    const consumer = reader.createConsumer({
      group: 'g', topic: 't', maxWaitMs: NEVER_POLL_MS,
      onAssign: async () => {
        assigned = true
        return []
      },
    })
    const running = consumer.run(async (batch) => {
      delivered.push(...batch.records)
      await consumer.commit(batch.records.map((r) => ({ topic: 't', partition: r.partition, offset: r.offset + 1 })))
    })
    await until(() => assigned, 'onAssign')
    await settle()
    const { positions } = await appender.append('t', Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })))
    await until(() => delivered.length >= 20, 'the reader to be woken and consume')
    await consumer.stop()
    await running

    expect(delivered.map((r) => r.value).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`).sort())
    expect(await reader.endOffsets('t')).toEqual(await appender.endOffsets('t'))
    const expected = [0, 1].map((partition) => ({ topic: 't', partition, offset: positions.filter((p) => p.partition === partition).length }))
    expect(await appender.committedOffsets('g', 't')).toEqual(expected.filter((o) => o.offset > 0))
  })

  it('a reader sees topics created after it opened', async () => {
    const appender = await open()
    const reader = await open({ readOnly: true })
    await expect(reader.partitions('late')).rejects.toBeInstanceOf(TesseraError)
    await appender.ensureTopic('late', 3)
    expect(await reader.partitions('late')).toBe(3)
    // A topic a reader creates is appendable by the appender (the appender does not cache missing topics).
    await reader.ensureTopic('from-reader', 2)
    expect((await appender.append('from-reader', [{ key: 'k', value: 'v' }])).positions).toHaveLength(1)
  })

  it('wakes a consumer in a worker thread through the BroadcastChannel, and the worker exits after close', async () => {
    const appender = await open({ sync: 'full' })
    await appender.ensureTopic('t', 3)
    const data: ConsumerWorkerData = { path: logs.path(), topic: 't', group: 'pipeline', maxWaitMs: NEVER_POLL_MS }
    // The worker runs TypeScript sources, so it registers tsx first. (`execArgv: ['--import', 'tsx']` does not
    // apply loader hooks to a worker's entry module on Node 20, hence the small bootstrap.)
    const bootstrap = `const { workerData } = require('node:worker_threads')
      import('tsx/esm/api').then((tsx) => { tsx.register(); return import(workerData.module) })`
    const module = new URL('./consumer-worker.fixture.ts', import.meta.url).href
    const worker = new Worker(bootstrap, { eval: true, workerData: { ...data, module } })
    const messages: ConsumerWorkerMessage[] = []
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve))
    worker.on('message', (message: ConsumerWorkerMessage) => messages.push(message))
    worker.on('error', (error) => messages.push({ type: 'failed', message: String(error) }))
    try {
      const values = (): string[] => messages.flatMap((m) => (m.type === 'batch' ? m.values : []))
      await until(() => messages.some((m) => m.type === 'assigned' || m.type === 'failed'), 'the worker to start')
      expect(messages.filter((m) => m.type === 'failed')).toEqual([])
      await settle()
      await appender.append('t', Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `first-${i}` })))
      await until(() => values().length >= 10, 'the worker to be woken for the first records')
      await settle()
      await appender.append('t', Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `second-${i}` })))
      await until(() => values().length >= 20, 'the worker to be woken again')
      expect(new Set(values()).size).toBe(20)

      worker.postMessage('stop')
      await until(() => messages.some((m) => m.type === 'stopped'), 'the worker to stop')
      const code = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), WAIT_LIMIT_MS))])
      expect(code).toBe(0)
      expect(messages.filter((m) => m.type === 'failed')).toEqual([])
      expect((await appender.committedOffsets('pipeline', 't')).reduce((sum, o) => sum + o.offset, 0)).toBe(20)
    } finally {
      await worker.terminate()
    }
  })
})
