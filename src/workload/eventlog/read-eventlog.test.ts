import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseCsvTable } from '../runs/csv-table.js'
import { parseEventLogBytes, readEventLogs } from './read-eventlog.js'
import type { SparkApp } from './spark-app.js'
import { summaryRow } from './summary-row.js'

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/workload')
const LOGS = join(FIXTURES, 'eventlogs')
const summary = parseCsvTable(readFileSync(join(LOGS, 'eventlog_app_summary.csv'), 'utf8')).rows.map((r) => r.cells)

function expected(file: string): Record<string, string> {
  const row = summary.find((r) => r.file === file)
  if (!row) throw new Error(`no summary row for ${file}`)
  const got: Record<string, string> = {}
  for (const k of Object.keys(summaryRow(emptyLike()))) {
    const v = row[k] ?? ''
    // The summary writes floats as Python prints them (62.168, 1.0); compare numbers as numbers.
    got[k] = v !== '' && Number.isFinite(Number(v)) ? String(Number(v)) : v
  }
  return got
}

let empty: SparkApp | undefined
function emptyLike(): SparkApp {
  return (empty ??= { allocation: {}, totals: {}, failures: {}, memory: {} } as unknown as SparkApp)
}

function normalised(app: SparkApp): Record<string, string> {
  const out = summaryRow(app)
  for (const [k, v] of Object.entries(out)) out[k] = v !== '' && Number.isFinite(Number(v)) ? String(Number(v)) : v
  return out
}

describe('Spark event-log parser against the corpus summary', () => {
  it.each(summary.map((r) => r.file!))('%s', async (file) => {
    const logs = await readEventLogs(join(LOGS, file))
    expect(logs).toHaveLength(1)
    expect(normalised(logs[0]!.app)).toEqual(expected(file))
  })
})

describe('compressed and rolling logs (Spark codec framings)', () => {
  const source = 'apache_spark_tests/application_1553914137147_0018'
  it.each(['lz4', 'snappy', 'framed.snappy', 'zstd'])('application_1553914137147_0018.%s reads as the plain log', async (suffix) => {
    const [log] = await readEventLogs(join(FIXTURES, 'codecs', `application_1553914137147_0018.${suffix}`))
    expect(normalised(log!.app)).toEqual(expected(source))
    expect(log!.app.problems).toEqual([])
  })

  it('reads a gzip log, whatever its name', async () => {
    const [log] = await readEventLogs(join(FIXTURES, 'codecs', 'local-1430917381534.gz'))
    expect(normalised(log!.app)).toEqual(expected('apache_spark_tests/local-1430917381534'))
    const renamed = await parseEventLogBytes(readFileSync(join(FIXTURES, 'codecs', 'local-1430917381534.gz')), 'no-suffix')
    expect(renamed.totals.tasks).toBe(110)
  })

  it('reads a rolling eventlog_v2 folder as one application, in part order', async () => {
    const logs = await readEventLogs(join(FIXTURES, 'codecs', 'eventlog_v2_application_1628109047826_1317105'))
    expect(logs).toHaveLength(1)
    expect(normalised(logs[0]!.app)).toEqual(expected('apache_spark_tests/application_1628109047826_1317105'))
  })

  it('reads a folder of logs, rolling folders included', async () => {
    const logs = await readEventLogs(join(FIXTURES, 'codecs'))
    expect(logs.map((l) => l.app.appId).sort()).toEqual([
      'application_1553914137147_0018', 'application_1553914137147_0018', 'application_1553914137147_0018', 'application_1553914137147_0018',
      'application_1628109047826_1317105', 'local-1430917381534',
    ])
  })
})

describe('what the parser extracts beyond the summary', () => {
  it('takes the allocation, executors, hosts and peak memory of a YARN app', async () => {
    const app = (await readEventLogs(join(LOGS, 'apache_spark_tests/application_1553914137147_0018')))[0]!.app
    expect(app.allocation).toMatchObject({ master: 'yarn', executorMemoryMb: 7168, executorCores: 1, executorInstances: 3, memoryOverhead: '1024', platform: 'yarn' })
    expect(app.hosts).toBe(3)
    expect(app.executors.every((x) => x.peakJvmHeapBytes !== null && x.peakRssBytes !== null)).toBe(true)
    expect(app.executorSeconds).toBeGreaterThan(100)
    expect(app.stages.length).toBe(3)
  })

  it('counts task failures by reason, OOMs and lost executors', async () => {
    const [fail] = await readEventLogs(join(LOGS, 'spark_rapids_tools/spark-events-profiling_tasks_executors_fail_compressed_eventlog.zstd'))
    expect(fail!.app.failures.taskFailuresByReason).toHaveProperty('ExecutorLostFailure')
    expect(fail!.app.failures.lostExecutors).toBeGreaterThan(0)
    const [oom] = await readEventLogs(join(LOGS, 'spark_rapids_tools/spark-events-profiling_gpu_oom_eventlog.zstd'))
    expect(oom!.app.failures.oomTaskFailures).toBeGreaterThan(0)
  })

  it('finds the platform and the worker type', async () => {
    const [emr] = await readEventLogs(join(LOGS, 'spark_rapids_tools/spark-events-qualification_cluster_information_platform_emr'))
    expect(emr!.app.allocation.platform).toBe('emr')
    const [db] = await readEventLogs(join(LOGS, 'spark_rapids_tools/spark-events-qualification_cluster_information_platform_databricks-aws'))
    expect(db!.app.allocation.platform).toBe('databricks')
    expect(db!.app.allocation.instanceType).toMatch(/\./)
    const [dyn] = await readEventLogs(join(LOGS, 'spark_rapids_tools/spark-events-qualification_cluster_information_eventlog_4nodes_8cores_dynamic_alloc.zstd'))
    expect(dyn!.app.allocation.dynamicAllocation).toBe(true)
  })
})

describe('corrupt and truncated logs are reported with the line, not fatal', () => {
  const plain = readFileSync(join(LOGS, 'apache_spark_tests/local-1430917381534'))

  it('a corrupt line is skipped and named; the rest is read', async () => {
    const lines = plain.toString('utf8').split('\n')
    lines[10] = '{"Event":"SparkListenerTaskEnd", this is not json'
    const app = await parseEventLogBytes(Buffer.from(lines.join('\n')), 'broken.log')
    expect(app.badLines).toBe(1)
    expect(app.problems[0]).toMatchObject({ line: 11, file: 'broken.log' })
    expect(app.problems[0]!.message).toMatch(/not valid JSON/)
    expect(app.totals.tasks).toBeGreaterThan(100)
  })

  it('a log cut in the middle of a line (in progress) keeps every complete line', async () => {
    const cut = plain.subarray(0, Math.floor(plain.length * 0.6))
    const app = await parseEventLogBytes(cut, 'local-1430917381534.inprogress')
    expect(app.completed).toBe(false)
    expect(app.durationS).toBeNull()
    expect(app.badLines).toBe(1)
    expect(app.problems[0]!.line).toBe(cut.toString('utf8').split('\n').length)
  })

  it.each([
    ['lz4', join(FIXTURES, 'codecs', 'application_1553914137147_0018.lz4'), '3.0.0-SNAPSHOT'],
    ['snappy', join(FIXTURES, 'codecs', 'application_1553914137147_0018.snappy'), '3.0.0-SNAPSHOT'],
    // zstd blocks hold up to 128 KiB: a log cut inside its only block yields nothing, so cut a longer one.
    ['zstd', join(LOGS, 'spark_rapids_tools/spark-events-qualification_jdbc_eventlog.zstd'), '3.1.1'],
  ])('a truncated %s stream gives the lines before the break and a problem', async (codec, file, version) => {
    const data = readFileSync(file)
    const app = await parseEventLogBytes(data.subarray(0, Math.floor(data.length / 2)), `x.${codec}`)
    expect(app.problems.some((p) => new RegExp(`${codec} stream`).test(p.message))).toBe(true)
    expect(app.sparkVersion).toBe(version)
  })

  it.each(['lz4', 'snappy', 'zstd'])('a corrupted %s stream is reported, not a crash or a hang', async (codec) => {
    const data = Buffer.from(readFileSync(join(FIXTURES, 'codecs', `application_1553914137147_0018.${codec}`)))
    for (let i = 2000; i < 2400; i++) data[i] = data[i]! ^ 0x5a
    const app = await parseEventLogBytes(data, `x.${codec}`)
    expect(app.problems.length).toBeGreaterThan(0)
  })

  it('an lzf log is refused with how to fix it', async () => {
    const app = await parseEventLogBytes(Buffer.from('ZV\u0000\u0001xxxx'), 'app.lzf')
    expect(app.problems[0]!.message).toMatch(/lzf codec is not supported/)
  })

  it('a missing path is a clear error', async () => {
    await expect(readEventLogs('/nonexistent/eventlog')).rejects.toThrow(/no such file or folder/)
  })
})
