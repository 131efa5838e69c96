/** @module Contract suite of the WorkloadStore port, run against the SQLite and PostgreSQL adapters. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { RunRow } from './runs/runs-table.js'
import type { RecommendationRecord, WorkloadStore } from './workload-store.js'

export interface WorkloadStoreFixture {
  readonly store: WorkloadStore
  readonly cleanup: () => Promise<void>
}

const run = (job: string, nodes: number, runtimeS: number, extra: Record<string, string> = {}): RunRow => ({
  job, inputBytes: 5e9, instanceType: 'm4.xlarge', nodes, vcpusPerNode: 4, memoryGbPerNode: 16, pricePerNodeHour: 0.2, runtimeS, completed: true, extra,
})

const recommendation = (id: string, createdAt: number): RecommendationRecord => ({
  id, createdAt, job: 'etl', inputBytes: 5e9, deadlineS: 600, instanceType: 'm4.xlarge', nodes: 8, predictedP50S: 300, predictedP90S: 360,
  predictedCost: 0.13, failureRisk: 0.02, method: 'ensemble', requestedBy: 'ops', advice: { flags: '--conf spark.executor.cores=3', alternatives: [{ nodes: 6 }] },
})

export function runWorkloadStoreContract(name: string, create: () => Promise<WorkloadStoreFixture>): void {
  describe(`WorkloadStore contract: ${name}`, () => {
    let f: WorkloadStoreFixture
    beforeEach(async () => {
      f = await create()
      await f.store.migrate()
      await f.store.migrate()
    })
    afterEach(() => f.cleanup())

    it('stores runs in order with their further columns, once per run key', async () => {
      const first = await f.store.addRuns([
        { run: run('etl', 4, 500, { executor_cores: '3', platform: 'emr' }), source: 'eventlog', runKey: 'app-1/1' },
        { run: { ...run('etl', 8, 260), inputBytes: null, pricePerNodeHour: null, completed: false }, source: 'eventlog', runKey: 'app-2' },
        { run: run('report', 4, 90), source: 'csv', runKey: null },
      ], 1000)
      expect(first).toEqual({ added: 3, duplicates: 0 })
      const again = await f.store.addRuns([
        { run: run('etl', 4, 999), source: 'eventlog', runKey: 'app-1/1' },
        { run: run('report', 4, 90), source: 'csv', runKey: null },
      ], 2000)
      expect(again).toEqual({ added: 1, duplicates: 1 })
      expect(await f.store.countRuns()).toBe(4)
      const all = await f.store.runs()
      expect(all.map((r) => [r.job, r.nodes, r.runtimeS])).toEqual([['etl', 4, 500], ['etl', 8, 260], ['report', 4, 90], ['report', 4, 90]])
      expect(all[0]).toEqual(run('etl', 4, 500, { executor_cores: '3', platform: 'emr' }))
      expect(all[1]).toMatchObject({ inputBytes: null, pricePerNodeHour: null, completed: false })
      expect((await f.store.runs({ job: 'etl' })).length).toBe(2)
      expect((await f.store.runs({ limit: 1 })).length).toBe(1)
    })

    it('keeps recommendations with their advice, newest first', async () => {
      await f.store.saveRecommendation(recommendation('r1', 100))
      await f.store.saveRecommendation(recommendation('r2', 200))
      expect(await f.store.getRecommendation('r1')).toEqual(recommendation('r1', 100))
      expect(await f.store.getRecommendation('nope')).toBeNull()
      expect((await f.store.listRecommendations(10)).map((r) => r.id)).toEqual(['r2', 'r1'])
      expect((await f.store.listRecommendations(1)).map((r) => r.id)).toEqual(['r2'])
    })

    it('records an outcome once per recommendation and run', async () => {
      await f.store.saveRecommendation(recommendation('r1', 100))
      const o = { recommendationId: 'r1', runKey: 'app-9', observedAt: 500, runtimeS: 330, completed: true, absPercentError: 0.0909, withinP90: true, metDeadline: true }
      expect(await f.store.recordOutcome(o)).toBe(true)
      expect(await f.store.recordOutcome({ ...o, runtimeS: 1 })).toBe(false)
      expect(await f.store.recordOutcome({ ...o, runKey: 'app-10', observedAt: 600, completed: false, withinP90: false, metDeadline: false })).toBe(true)
      const all = await f.store.outcomes()
      expect(all).toEqual([o, { ...o, runKey: 'app-10', observedAt: 600, completed: false, withinP90: false, metDeadline: false }])
    })
  })
}
