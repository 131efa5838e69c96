/**
 * @module Converters into the runs table: parsed Spark event logs, the Scout multi-node CSV, C3O's TSV files and
 * the Dataproc regular-cluster CSV (the shared research datasets). Each converter states where the columns it
 * cannot read from its source come from (a price table, the instance catalog).
 */
import { basename } from 'node:path'
import { ValidationError } from '../../core/errors.js'
import type { SparkApp } from '../eventlog/spark-app.js'
import { parseCsvTable } from './csv-table.js'
import type { RowProblem, RunRow, RunsTable } from './runs-table.js'

/** AWS EC2 us-east-1 on-demand Linux, 2018 (the Scout and Lynceus price table): vCPUs, GiB and USD per node-hour. */
export const AWS_2018: Readonly<Record<string, { vcpus: number; memoryGb: number; price: number }>> = {
  'c4.large': { vcpus: 2, memoryGb: 3.75, price: 0.1 }, 'c4.xlarge': { vcpus: 4, memoryGb: 7.5, price: 0.199 }, 'c4.2xlarge': { vcpus: 8, memoryGb: 15, price: 0.398 },
  'm4.large': { vcpus: 2, memoryGb: 8, price: 0.1 }, 'm4.xlarge': { vcpus: 4, memoryGb: 16, price: 0.2 }, 'm4.2xlarge': { vcpus: 8, memoryGb: 32, price: 0.4 },
  'r4.large': { vcpus: 2, memoryGb: 15.25, price: 0.133 }, 'r4.xlarge': { vcpus: 4, memoryGb: 30.5, price: 0.266 }, 'r4.2xlarge': { vcpus: 8, memoryGb: 61, price: 0.532 },
}

/** GCP N2 custom machine prices used by the Dataproc autoscaling study (USD per vCPU-hour and GB-hour). */
export const GCP_N2 = { perVcpuHour: 0.04073, perGbHour: 0.005458 } as const

/**
 * Scout multi-node (`scout_multinode_runs.csv`): one job per workload × framework × input size. Scout's
 * `input_size_bytes` is measured per run (it differs by a few KB between runs of one dataset, and is -1 when
 * unknown); every run of a job gets the median measured size of that job's dataset.
 */
export function fromScout(text: string): { table: RunsTable; problems: RowProblem[] } {
  const csv = parseCsvTable(text)
  for (const c of ['workload', 'framework', 'datasize', 'n_nodes', 'vm_type', 'vcpus_per_node', 'mem_gib_per_node', 'completed', 'elapsed_time_s', 'price_usd_per_node_hour']) {
    if (!csv.header.includes(c)) throw new ValidationError('scout csv: header', `missing column ${c} (expected scout_multinode_runs.csv)`)
  }
  const rows: RunRow[] = []
  const problems: RowProblem[] = []
  for (const r of csv.rows) {
    const c = r.cells
    const runtime = Number(c.elapsed_time_s)
    if (!Number.isFinite(runtime)) {
      problems.push({ line: r.line, message: `elapsed_time_s ${JSON.stringify(c.elapsed_time_s)} is not a number` })
      continue
    }
    rows.push({
      job: `${c.workload}_${c.framework}_${c.datasize}`, inputBytes: Number(c.input_size_bytes),
      instanceType: c.vm_type!, nodes: Number(c.n_nodes), vcpusPerNode: Number(c.vcpus_per_node), memoryGbPerNode: Number(c.mem_gib_per_node),
      pricePerNodeHour: Number(c.price_usd_per_node_hour), runtimeS: runtime, completed: /^true$/i.test(c.completed ?? ''),
      extra: { framework: c.framework ?? '', source: 'scout' },
    })
  }
  const sizes = new Map<string, number[]>()
  for (const r of rows) if (r.inputBytes !== null && r.inputBytes >= 0) sizes.set(r.job, [...(sizes.get(r.job) ?? []), r.inputBytes])
  const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!
  const fixed = rows.map((r) => ({ ...r, inputBytes: sizes.has(r.job) ? median(sizes.get(r.job)!) : null }))
  return { table: { rows: fixed, extraColumns: ['framework', 'source'] }, problems }
}

/**
 * C3O (`<job>.tsv`): the job is the file name; job parameters become feature columns; vCPUs, memory and the
 * price come from {@link AWS_2018} (C3O publishes no prices; its machines are the same families).
 */
export function fromC3o(text: string, fileName: string): { table: RunsTable; problems: RowProblem[] } {
  const job = basename(fileName).replace(/\.tsv$/i, '')
  const csv = parseCsvTable(text, '\t')
  for (const c of ['instance_count', 'machine_type', 'data_size_MB', 'gross_runtime']) {
    if (!csv.header.includes(c)) throw new ValidationError(`${fileName}: header`, `missing column ${c} (expected a C3O experiments TSV)`)
  }
  const params = csv.header.filter((h) => !['instance_count', 'machine_type', 'slots', 'memory', 'data_size_MB', 'gross_runtime'].includes(h))
  const rows: RunRow[] = []
  const problems: RowProblem[] = []
  for (const r of csv.rows) {
    const c = r.cells
    const type = AWS_2018[c.machine_type ?? '']
    if (!type) {
      problems.push({ line: r.line, message: `machine_type ${JSON.stringify(c.machine_type)} is not in the price table` })
      continue
    }
    const extra: Record<string, string> = { source: 'c3o' }
    for (const p of params) extra[p] = c[p] ?? ''
    rows.push({
      job, inputBytes: Number(c.data_size_MB) * 1e6, instanceType: c.machine_type!, nodes: Number(c.instance_count), vcpusPerNode: type.vcpus,
      memoryGbPerNode: type.memoryGb, pricePerNodeHour: type.price, runtimeS: Number(c.gross_runtime), completed: true, extra,
    })
  }
  return { table: { rows, extraColumns: [...params, 'source'] }, problems }
}

/** Dataproc regular clusters (`regular_dataproc.csv`): custom N2 shapes priced per vCPU and GB (the study's prices). */
export function fromDataproc(text: string): { table: RunsTable; problems: RowProblem[] } {
  const csv = parseCsvTable(text)
  for (const c of ['algorithm', 'dataset_size_bytes', 'cpu_cores_per_node', 'memory_gb_per_node', 'scaleout', 'runtime']) {
    if (!csv.header.includes(c)) throw new ValidationError('dataproc csv: header', `missing column ${c} (expected regular_dataproc.csv)`)
  }
  const rows: RunRow[] = csv.rows.map((r) => {
    const c = r.cells
    const cores = Number(c.cpu_cores_per_node)
    const mem = Number(c.memory_gb_per_node)
    return {
      job: c.algorithm!, inputBytes: Number(c.dataset_size_bytes), instanceType: `n2-custom-${cores}-${mem * 1024}`, nodes: Number(c.scaleout),
      vcpusPerNode: cores, memoryGbPerNode: mem, pricePerNodeHour: Math.round((cores * GCP_N2.perVcpuHour + mem * GCP_N2.perGbHour) * 1e6) / 1e6,
      runtimeS: Number(c.runtime), completed: true, extra: { source: 'dataproc' },
    }
  })
  return { table: { rows, extraColumns: ['source'] }, problems: [] }
}

export interface EventLogRunOptions {
  /** Instance type when the log does not name it (only Databricks logs do). */
  readonly instanceType?: string
  /** Price per node-hour by instance type (config workload.prices, or --price). */
  readonly prices?: Readonly<Record<string, number>>
  readonly vcpusPerNode?: number
  readonly memoryGbPerNode?: number
}

export const EVENTLOG_COLUMNS = [
  'executors', 'executor_cores', 'executor_memory_gb', 'dynamic_allocation', 'platform', 'spark_version',
  'peak_memory_gb_per_executor', 'cpu_seconds', 'spill_bytes', 'run_id', 'source', 'recommendation_id',
] as const

/**
 * One parsed application as a run. Nodes are the distinct executor hosts (1 for local mode); vCPUs per node the
 * most executor cores seen on one host unless given; memory per node from YARN's
 * `yarn.nodemanager.resource.memory-mb` is not in the summary, so it is the executors' memory on the busiest
 * host unless given. Returns null (with the reason) for an application that cannot be a training row.
 */
export function fromSparkApp(app: SparkApp, options: EventLogRunOptions = {}): { row: RunRow } | { row: null; reason: string } {
  if (app.durationS === null || app.startTime === null) return { row: null, reason: 'the application has no start or end (a log in progress or cut short)' }
  if (!app.appName) return { row: null, reason: 'the log names no application (no SparkListenerApplicationStart)' }
  const byHost = new Map<string, { cores: number; executors: number }>()
  for (const x of app.executors) {
    const h = byHost.get(x.host) ?? { cores: 0, executors: 0 }
    h.cores += x.cores
    h.executors++
    byHost.set(x.host, h)
  }
  const busiest = [...byHost.values()].sort((a, b) => b.cores - a.cores)[0]
  const executorCores = app.allocation.executorCores ?? (app.executors[0]?.cores ?? null)
  const executorMemGb = app.allocation.executorMemoryMb !== null ? app.allocation.executorMemoryMb / 1024 : null
  const instanceType = app.allocation.instanceType ?? options.instanceType ?? 'unknown'
  const vcpus = options.vcpusPerNode ?? Math.max(1, busiest?.cores ?? executorCores ?? 1)
  const memory = options.memoryGbPerNode ?? Math.max(0, (busiest?.executors ?? 1) * (executorMemGb ?? 1))
  const peaks = app.executors.map((x) => x.peakRssBytes ?? x.peakJvmHeapBytes).filter((v): v is number => v !== null)
  const peak = peaks.length > 0 ? Math.max(...peaks) : app.memory.rssBytes ?? app.memory.jvmHeapBytes
  const price = options.prices?.[instanceType]
  return {
    row: {
      job: app.appName, inputBytes: app.totals.inputBytes, instanceType, nodes: Math.max(1, byHost.size), vcpusPerNode: vcpus, memoryGbPerNode: memory,
      pricePerNodeHour: price ?? null, runtimeS: app.durationS, completed: app.completed && app.failures.failedJobs === 0,
      extra: {
        executors: String(app.maxConcurrentExecutors), executor_cores: executorCores === null ? '' : String(executorCores),
        executor_memory_gb: executorMemGb === null ? '' : String(executorMemGb), dynamic_allocation: String(app.allocation.dynamicAllocation),
        platform: app.allocation.platform, spark_version: app.sparkVersion ?? '',
        peak_memory_gb_per_executor: peak === null ? '' : String(Math.round((peak / 2 ** 30) * 1000) / 1000),
        cpu_seconds: String(Math.round(app.totals.executorCpuTimeNs / 1e6) / 1000),
        spill_bytes: String(app.totals.diskBytesSpilled), run_id: `${app.appId ?? ''}${app.attemptId ? `/${app.attemptId}` : ''}`, source: 'eventlog',
        recommendation_id: app.allocation.recommendationId ?? '',
      },
    },
  }
}
