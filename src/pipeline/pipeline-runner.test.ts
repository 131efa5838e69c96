import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { defaultConfig } from '../config/config.js'
import { TesseraError } from '../core/errors.js'
import { MemoryEventLog } from '../log/memory/memory-event-log.js'
import { TOPICS } from '../log/event-log.js'
import { SqliteStateBackend } from '../storage/sqlite/sqlite-backend.js'
import { rawEvent, tempDir } from '../../test/support/factories.js'
import { buildStages } from './build-pipeline.js'
import { PIPELINE_GROUP, PipelineRunner, RAW_INPUT, type BatchInfo } from './pipeline-runner.js'
import type { Stage } from './stage.js'
import { SealedEventLog } from '../log/sealed/sealed-event-log.js'
import { tempKeyring } from '../log/sealed/sealed-log.fixture.js'

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined }

describe('PipelineRunner', () => {
  let input: MemoryEventLog
  let output: MemoryEventLog
  let state: SqliteStateBackend
  let cleanup: () => void
  // The stages' own stores (the suppress stage's privacy store) go in the test's folder, not ./data.
  let config = defaultConfig()

  beforeEach(async () => {
    const t = tempDir()
    cleanup = t.cleanup
    config = { ...defaultConfig(), dataDir: t.dir }
    input = new MemoryEventLog()
    output = new MemoryEventLog()
    await input.ensureTopic(TOPICS.raw, 4)
    await output.ensureTopic(TOPICS.resolved, 4)
    await output.ensureTopic(TOPICS.deadLetter, 1)
    state = new SqliteStateBackend({ path: join(t.dir, 'state.db'), sync: 'normal' })
    await state.migrate()
  })
  afterEach(async () => {
    await state.close()
    cleanup()
  })

  async function runUntilDone(stages: Stage[], expected: number): Promise<BatchInfo[]> {
    const reports: BatchInfo[] = []
    const runner = new PipelineRunner({
      ...RAW_INPUT, input, state, deadLetter: output, stages, batchSize: 50, maxWaitMs: 5, dedupeWindowMs: 86_400_000, logger: silent,
      onBatch: (r) => reports.push(r),
    })
    runner.start()
    const deadline = Date.now() + 10_000
    while (reports.reduce((n, r) => n + r.records, 0) < expected) {
      if (Date.now() > deadline) throw new Error('runner did not finish')
      await new Promise((r) => setTimeout(r, 5))
    }
    await runner.stop()
    return reports
  }

  async function profileOf(userId: string) {
    const reader = state.reader()
    const id = await reader.profileIdByIdentifier('user_id', userId)
    const profile = id ? await reader.profile(id) : null
    await reader.close()
    return profile
  }

  it('processes every event once and stores its offsets with the state', async () => {
    const events = Array.from({ length: 120 }, (_, i) => rawEvent('track', { userId: `u${i % 3}`, event: 'e' }))
    await input.append(TOPICS.raw, events.map((e) => ({ key: e.userId!, value: JSON.stringify(e) })))
    await runUntilDone(buildStages(config, output), 120)
    expect((await profileOf('u0'))?.eventCount).toBe(40)
    const offsets = await state.transaction((tx) => tx.offsets.load(PIPELINE_GROUP, TOPICS.raw))
    const ends = await input.endOffsets(TOPICS.raw)
    expect(offsets.map((o) => o.offset).sort()).toEqual(ends.filter((e) => e.offset > 0).map((e) => e.offset).sort())
    const resolved = (await Promise.all([0, 1, 2, 3].map((p) => output.read(TOPICS.resolved, p, 0, 1000)))).flat()
    expect(resolved).toHaveLength(120)
  })

  it('closes what its stages opened when it stops, once', async () => {
    let closed = 0
    const stage: Stage = { name: 'enrich', policy: 'attempt', run: async () => undefined, close: async () => { closed++ } }
    await input.append(TOPICS.raw, [{ key: 'a', value: JSON.stringify(rawEvent('track', { userId: 'c1', event: 'e' })) }])
    await runUntilDone([stage], 1)
    expect(closed).toBe(1)
  })

  it('does not double-count a batch delivered again (offsets lost, dedupe keys kept)', async () => {
    const events = Array.from({ length: 30 }, () => rawEvent('track', { userId: 'again', event: 'e' }))
    await input.append(TOPICS.raw, events.map((e) => ({ key: 'again', value: JSON.stringify(e) })))
    await runUntilDone(buildStages(config, output), 30)
    // Simulate redelivery: forget the stored offsets so the whole log is consumed again.
    await state.transaction((tx) => tx.offsets.save(PIPELINE_GROUP, [0, 1, 2, 3].map((partition) => ({ topic: TOPICS.raw, partition, offset: 0 }))))
    const again = await runUntilDone(buildStages(config, output), 30)
    expect(again.reduce((n, r) => n + r.duplicates, 0)).toBe(30)
    expect((await profileOf('again'))?.eventCount).toBe(30)
  })

  it('applies a batch again in place when its commit fails on the store, without leaving the group, counting nothing twice', async () => {
    const events = Array.from({ length: 20 }, () => rawEvent('track', { userId: 'flaky', event: 'e' }))
    await input.append(TOPICS.raw, events.map((e) => ({ key: 'flaky', value: JSON.stringify(e) })))
    // The store refuses the first two commits, as a killed connection would; stages have run by then.
    let failures = 2
    const real = state.transaction.bind(state)
    state.transaction = (async (work: Parameters<typeof real>[0]) => real(async (tx) => {
      const result = await work(tx)
      // Only a batch's commit (it returns its counts; loading offsets at assignment returns an array).
      if (!Array.isArray(result) && failures-- > 0) throw new TesseraError('TESSERA_STORE', 'injected: the commit failed')
      return result
    })) as typeof state.transaction
    const consumers = { created: 0 }
    const log = input
    const counting = Object.create(log) as MemoryEventLog
    counting.createConsumer = (options) => {
      consumers.created++
      return log.createConsumer(options)
    }
    const warnings: string[] = []
    const reports: BatchInfo[] = []
    const runner = new PipelineRunner({
      ...RAW_INPUT, input: counting, state, deadLetter: output, stages: buildStages(config, output), batchSize: 50, maxWaitMs: 5,
      dedupeWindowMs: 86_400_000, logger: { ...silent, warn: (_o: unknown, msg: string) => { warnings.push(msg) } }, onBatch: (r) => reports.push(r),
    })
    runner.start()
    const deadline = Date.now() + 10_000
    while (reports.reduce((n, r) => n + r.records, 0) < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    await runner.stop()
    expect(warnings.filter((w) => w.includes('retrying it in place'))).toHaveLength(2)
    expect(consumers.created).toBe(1)
    expect((await profileOf('flaky'))?.eventCount).toBe(20)
    expect(runner.stats.processed).toBe(20)
  })

  it('sends an event that is not JSON to the dead-letter topic and goes on', async () => {
    const good = rawEvent('track', { userId: 'fine', event: 'e' })
    await input.append(TOPICS.raw, [{ key: 'k', value: '{not json' }, { key: 'k', value: JSON.stringify(good) }])
    await runUntilDone(buildStages(config, output), 2)
    const dead = await output.read(TOPICS.deadLetter, 0, 0, 10)
    expect(dead).toHaveLength(1)
    expect(JSON.parse(dead[0]!.value)).toMatchObject({ value: '{not json', reason: expect.stringContaining('not JSON') })
    expect((await profileOf('fine'))?.eventCount).toBe(1)
  })

  it('isolates an event that makes an ensure stage fail, dead-letters it, and keeps the rest of its batch', async () => {
    const events = Array.from({ length: 10 }, (_, i) => rawEvent('track', { userId: 'iso', event: i === 4 ? 'poison' : 'ok' }))
    await input.append(TOPICS.raw, events.map((e) => ({ key: 'iso', value: JSON.stringify(e) })))
    const failing: Stage = {
      name: 'publish', policy: 'ensure',
      async run(batch) {
        if (batch.items.some((i) => i.event.event === 'poison')) throw new TypeError('cannot handle this event')
      },
    }
    await runUntilDone([...buildStages(config, output), failing], 10)
    expect((await profileOf('iso'))?.eventCount).toBe(9)
    const dead = await output.read(TOPICS.deadLetter, 0, 0, 10)
    expect(dead.map((d) => JSON.parse(JSON.parse(d.value).value).event)).toEqual(['poison'])
  })

  it('lets events through when an attempt stage fails, and reports the error', async () => {
    const broken: Stage = { name: 'enrich', policy: 'attempt', run: async () => { throw new Error('enricher down') } }
    const stages = buildStages(config, output).map((s) => (s.name === 'enrich' ? broken : s))
    await input.append(TOPICS.raw, [{ key: 'x', value: JSON.stringify(rawEvent('track', { userId: 'att', event: 'e' })) }])
    const reports = await runUntilDone(stages, 1)
    expect(reports.reduce((n, r) => n + (r.stageErrors.enrich ?? 0), 0)).toBe(1)
    expect((await profileOf('att'))?.eventCount).toBe(1)
  })

  it('counts and reports the events a log dropped before the pipeline read them (retention), then goes on', async () => {
    const events = Array.from({ length: 10 }, () => rawEvent('track', { userId: 'gap', event: 'e' }))
    const { positions } = await input.append(TOPICS.raw, events.map((e) => ({ key: 'gap', value: JSON.stringify(e) })))
    const partition = positions[0]!.partition
    // The state says offsets 0-1 were processed; the log has since dropped 2-4, so it starts the consumer at 5,
    // as Kafka does when the stored offset is older than its retention (auto.offset.reset=earliest).
    await state.transaction((tx) => tx.offsets.save(PIPELINE_GROUP, [{ topic: TOPICS.raw, partition, offset: 2 }]))
    const log = input
    const retained = Object.create(log) as MemoryEventLog
    retained.createConsumer = (options) => log.createConsumer({
      ...options,
      onAssign: async (partitions) => ((await options.onAssign?.(partitions)) ?? [])
        .map((o) => (o.partition === partition ? { ...o, offset: 5 } : o)),
    })
    const errors: { obj: object; msg: string }[] = []
    const reports: BatchInfo[] = []
    const runner = new PipelineRunner({
      ...RAW_INPUT, input: retained, state, deadLetter: output, stages: buildStages(config, output), batchSize: 50, maxWaitMs: 5,
      dedupeWindowMs: 86_400_000, logger: { ...silent, error: (obj, msg) => errors.push({ obj, msg }) }, onBatch: (r) => reports.push(r),
    })
    runner.start()
    const deadline = Date.now() + 10_000
    while (reports.reduce((n, r) => n + r.records, 0) < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    await runner.stop()
    expect(reports.reduce((n, r) => n + r.lost, 0)).toBe(3)
    expect(runner.stats.lost).toBe(3)
    expect(errors).toEqual([{ obj: expect.objectContaining({ partition, from: 2, to: 4, lost: 3 }), msg: expect.stringContaining('lost') }])
    expect((await profileOf('gap'))?.eventCount).toBe(5)
  })

  it('skips and counts records whose data key was shredded, and still moves its offsets past them', async () => {
    const keys = await tempKeyring()
    try {
      const sealed = new SealedEventLog(input, { keyring: keys.keyring, seal: true })
      const events = Array.from({ length: 12 }, (_, i) => rawEvent('track', { userId: i % 3 === 0 ? 'erased' : `kept${i % 3}`, event: 'e' }))
      await sealed.append(TOPICS.raw, events.map((e) => ({ key: e.userId!, value: JSON.stringify(e) })))
      await keys.keyring.shred(['erased'])
      const reports: BatchInfo[] = []
      const runner = new PipelineRunner({
        ...RAW_INPUT, input: sealed, state, deadLetter: output, stages: buildStages(config, output), batchSize: 50, maxWaitMs: 5,
        dedupeWindowMs: 86_400_000, logger: silent, onBatch: (r) => reports.push(r),
      })
      runner.start()
      const deadline = Date.now() + 10_000
      while (reports.reduce((n, r) => n + r.records, 0) < 12 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
      await runner.stop()
      expect(reports.reduce((n, r) => n + r.shredded, 0)).toBe(4)
      expect(runner.stats.shredded).toBe(4)
      expect(runner.stats.deadLettered).toBe(0)
      expect(await profileOf('erased')).toBeNull()
      expect((await profileOf('kept1'))?.eventCount).toBe(4)
      const stored = await state.transaction((tx) => tx.offsets.load(PIPELINE_GROUP, TOPICS.raw))
      expect(stored.map((o) => o.offset).sort()).toEqual((await input.endOffsets(TOPICS.raw)).filter((o) => o.offset > 0).map((o) => o.offset).sort())
    } finally {
      await keys.cleanup()
    }
  })
})
