/**
 * @module The event-log accumulator: fed one JSON line at a time (`SparkListener*` events, Spark 1.x to 3.5),
 * it keeps only aggregates (per stage, per executor, application totals, a task-duration sample) and builds a
 * {@link SparkApp} at the end. Units follow Spark: timestamps and run/GC times in ms, CPU times in ns, bytes
 * elsewhere. A line that is not JSON, or an event with the wrong shape, is recorded as a problem with its line
 * number and skipped; nothing else is lost.
 */
import type { AllocationSummary, ExecutorSummary, ParseProblem, SparkApp, StageSummary } from './spark-app.js'

type Json = Record<string, unknown>

function obj(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined
}

function num(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v)
  return 0
}

function optNum(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v)
  return null
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null
}

/** Spark's property maps are objects, or (some writers) lists of [key, value] pairs. */
function propertyMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (Array.isArray(v)) {
    for (const pair of v) if (Array.isArray(pair) && pair.length >= 2) out[String(pair[0])] = String(pair[1])
  } else {
    const o = obj(v)
    if (o) for (const [k, val] of Object.entries(o)) out[k] = String(val)
  }
  return out
}

/** Spark memory strings (`7g`, `9397M`, `1024` = MiB, `512k`) in MiB; null when unreadable. */
export function memoryMb(text: string | null | undefined, defaultUnit: 'm' | 'b' = 'm'): number | null {
  if (text === null || text === undefined) return null
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)b?\s*$/i.exec(text)
  if (!m) return null
  const value = Number(m[1])
  const unit = (m[2] || defaultUnit).toLowerCase()
  const factor: Record<string, number> = { b: 1 / (1024 * 1024), k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024, p: 1024 * 1024 * 1024 }
  return Math.round(value * (factor[unit] ?? 1))
}

/**
 * The p-th percentile of a sorted array as the element at index floor(p/100 × n) (capped at the last): an
 * observed task duration, never an interpolated one.
 */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

const OOM = /OutOfMemory|OOM|Container killed .*memory|exceeding memory limits|beyond (physical|virtual) memory/i
/** Removal reasons that are not a failure: dynamic allocation releasing an idle executor, or the app ending. */
const BENIGN_REMOVAL = /explicit termination request|idle|decommission|Executor killed by driver|Driver requested|Stale executor|shutdown|finished|SparkContext is stopped/i

interface StageAcc {
  stageId: number
  attemptId: number
  name: string
  tasks: number
  failedTasks: number
  submitted: number | null
  completed: number | null
  failureReason: string | null
  inputBytes: number
  inputRecords: number
  outputBytes: number
  outputRecords: number
  shuffleReadBytes: number
  shuffleWriteBytes: number
  memoryBytesSpilled: number
  diskBytesSpilled: number
  executorRunTimeMs: number
  executorCpuTimeNs: number
  jvmGcTimeMs: number
  durations: number[]
}

interface ExecutorAcc {
  id: string
  host: string
  cores: number
  addedAt: number | null
  removedAt: number | null
  removedReason: string | null
  peakHeap: number | null
  peakRss: number | null
}

function maxOf(a: number | null, v: unknown): number | null {
  const n = optNum(v)
  if (n === null || n <= 0) return a
  return a === null || n > a ? n : a
}

export class EventLogAccumulator {
  readonly #file: string
  #appId: string | null = null
  #attemptId: string | null = null
  #appName: string | null = null
  #sparkVersion: string | null = null
  #start: number | null = null
  #end: number | null = null
  #props: Record<string, string> = {}
  #system: Record<string, string> = {}
  #hadoop: Record<string, string> = {}
  readonly #executors = new Map<string, ExecutorAcc>()
  #executorsAdded = 0
  #executorsRemoved = 0
  #concurrent = 0
  #maxConcurrent = 0
  #coresSeen = 0
  readonly #stages = new Map<string, StageAcc>()
  #stagesCompleted = 0
  #stagesFailed = 0
  #jobs = 0
  #jobsFailed = 0
  #tasks = 0
  #tasksFailed = 0
  readonly #failuresByReason: Record<string, number> = {}
  #oomFailures = 0
  readonly #durations: number[] = []
  #maxPeakExecution: number | null = null
  #heap: number | null = null
  #offHeap: number | null = null
  #rss: number | null = null
  #onHeapExec: number | null = null
  #stageHeap: number | null = null
  #stageRss: number | null = null
  readonly #problems: ParseProblem[] = []
  #badLines = 0
  #currentFile: string

  constructor(file = '') {
    this.#file = file
    this.#currentFile = file
  }

  /** Lines that follow come from this file (the parts of a rolling log). */
  set file(name: string) {
    this.#currentFile = name
  }

  /** Records a problem that is not a line (a broken compressed stream). */
  problem(line: number, message: string): void {
    this.#problems.push({ line, file: this.#currentFile, message })
  }

  /** Adds one line of the log. Blank lines are ignored. */
  push(text: string, line: number): void {
    if (text.trim() === '') return
    let event: Json | undefined
    try {
      event = obj(JSON.parse(text))
    } catch (error) {
      this.#bad(line, `not valid JSON (${(error as Error).message.slice(0, 120)})${text.length > 0 ? `: ${text.slice(0, 60)}...` : ''}`)
      return
    }
    if (!event || typeof event.Event !== 'string') {
      this.#bad(line, 'not a Spark listener event (no "Event" field)')
      return
    }
    try {
      this.#apply(event)
    } catch (error) {
      this.#bad(line, `${event.Event}: ${(error as Error).message}`)
    }
  }

  #bad(line: number, message: string): void {
    this.#badLines++
    if (this.#problems.length < 100) this.#problems.push({ line, file: this.#currentFile, message })
  }

  #stage(id: number, attempt: number): StageAcc {
    const key = `${id}.${attempt}`
    let s = this.#stages.get(key)
    if (!s) {
      s = {
        stageId: id, attemptId: attempt, name: '', tasks: 0, failedTasks: 0, submitted: null, completed: null, failureReason: null,
        inputBytes: 0, inputRecords: 0, outputBytes: 0, outputRecords: 0, shuffleReadBytes: 0, shuffleWriteBytes: 0,
        memoryBytesSpilled: 0, diskBytesSpilled: 0, executorRunTimeMs: 0, executorCpuTimeNs: 0, jvmGcTimeMs: 0, durations: [],
      }
      this.#stages.set(key, s)
    }
    return s
  }

  #apply(e: Json): void {
    switch (e.Event) {
      case 'SparkListenerLogStart':
        this.#sparkVersion = str(e['Spark Version'])
        return
      case 'SparkListenerApplicationStart':
        this.#appName = str(e['App Name'])
        this.#appId = str(e['App ID'])
        this.#attemptId = str(e['App Attempt ID'])
        this.#start = optNum(e.Timestamp)
        return
      case 'SparkListenerApplicationEnd':
        this.#end = optNum(e.Timestamp)
        return
      case 'SparkListenerEnvironmentUpdate':
        this.#props = { ...this.#props, ...propertyMap(e['Spark Properties']) }
        this.#system = { ...this.#system, ...propertyMap(e['System Properties']) }
        this.#hadoop = { ...this.#hadoop, ...propertyMap(e['Hadoop Properties']) }
        return
      case 'SparkListenerExecutorAdded': {
        const info = obj(e['Executor Info']) ?? {}
        const id = String(e['Executor ID'] ?? '')
        const cores = num(info['Total Cores'])
        this.#executors.set(id, {
          id, host: str(info.Host) ?? '', cores, addedAt: optNum(e.Timestamp), removedAt: null, removedReason: null,
          peakHeap: this.#executors.get(id)?.peakHeap ?? null, peakRss: this.#executors.get(id)?.peakRss ?? null,
        })
        this.#executorsAdded++
        this.#coresSeen += cores
        this.#concurrent++
        if (this.#concurrent > this.#maxConcurrent) this.#maxConcurrent = this.#concurrent
        return
      }
      case 'SparkListenerExecutorRemoved': {
        const id = String(e['Executor ID'] ?? '')
        const ex = this.#executors.get(id)
        if (ex) {
          ex.removedAt = optNum(e.Timestamp)
          ex.removedReason = str(e['Removed Reason'])
        }
        this.#executorsRemoved++
        this.#concurrent = Math.max(0, this.#concurrent - 1)
        return
      }
      case 'SparkListenerJobEnd': {
        this.#jobs++
        const result = obj(e['Job Result'])
        if (result && result.Result !== 'JobSucceeded') this.#jobsFailed++
        return
      }
      case 'SparkListenerStageSubmitted': {
        const info = obj(e['Stage Info']) ?? {}
        const s = this.#stage(num(info['Stage ID']), num(info['Stage Attempt ID']))
        s.name = str(info['Stage Name']) ?? s.name
        s.submitted = optNum(info['Submission Time']) ?? s.submitted
        return
      }
      case 'SparkListenerStageCompleted': {
        const info = obj(e['Stage Info']) ?? {}
        const s = this.#stage(num(info['Stage ID']), num(info['Stage Attempt ID']))
        s.name = str(info['Stage Name']) ?? s.name
        s.submitted = optNum(info['Submission Time']) ?? s.submitted
        s.completed = optNum(info['Completion Time'])
        s.failureReason = str(info['Failure Reason'])
        this.#stagesCompleted++
        if (s.failureReason !== null) this.#stagesFailed++
        return
      }
      case 'SparkListenerTaskEnd':
        this.#taskEnd(e)
        return
      case 'SparkListenerStageExecutorMetrics': {
        const id = String(e['Executor ID'] ?? '')
        if (id === 'driver') return
        const m = obj(e['Executor Metrics']) ?? {}
        this.#stageHeap = maxOf(this.#stageHeap, m.JVMHeapMemory)
        this.#stageRss = maxOf(this.#stageRss, m.ProcessTreeJVMRSSMemory)
        const ex = this.#executors.get(id)
        if (ex) {
          ex.peakHeap = maxOf(ex.peakHeap, m.JVMHeapMemory)
          ex.peakRss = maxOf(ex.peakRss, m.ProcessTreeJVMRSSMemory)
        }
        return
      }
      default:
        return
    }
  }

  #taskEnd(e: Json): void {
    const info = obj(e['Task Info']) ?? {}
    const reason = obj(e['Task End Reason'])
    const s = this.#stage(num(e['Stage ID']), num(e['Stage Attempt ID']))
    this.#tasks++
    s.tasks++
    const reasonName = str(reason?.Reason) ?? 'Success'
    const failed = info.Failed === true || info.Killed === true || reasonName !== 'Success'
    if (failed) {
      this.#tasksFailed++
      s.failedTasks++
      this.#failuresByReason[reasonName] = (this.#failuresByReason[reasonName] ?? 0) + 1
      const text = `${str(reason?.['Class Name']) ?? ''} ${str(reason?.Description) ?? ''} ${str(reason?.['Loss Reason']) ?? ''} ${str(reason?.['Full Stack Trace'])?.slice(0, 400) ?? ''}`
      if (OOM.test(text)) this.#oomFailures++
    }
    const launch = optNum(info['Launch Time'])
    const finish = optNum(info['Finish Time'])
    if (launch !== null && finish !== null && finish > 0) {
      const d = finish - launch
      this.#durations.push(d)
      s.durations.push(d)
    }
    const m = obj(e['Task Metrics'])
    if (m) {
      s.executorRunTimeMs += num(m['Executor Run Time'])
      s.executorCpuTimeNs += num(m['Executor CPU Time'])
      s.jvmGcTimeMs += num(m['JVM GC Time'])
      s.memoryBytesSpilled += num(m['Memory Bytes Spilled'])
      s.diskBytesSpilled += num(m['Disk Bytes Spilled'])
      this.#maxPeakExecution = maxOf(this.#maxPeakExecution, m['Peak Execution Memory'])
      const input = obj(m['Input Metrics'])
      if (input) {
        s.inputBytes += num(input['Bytes Read'])
        s.inputRecords += num(input['Records Read'])
      }
      const output = obj(m['Output Metrics'])
      if (output) {
        s.outputBytes += num(output['Bytes Written'])
        s.outputRecords += num(output['Records Written'])
      }
      const read = obj(m['Shuffle Read Metrics'])
      if (read) s.shuffleReadBytes += num(read['Remote Bytes Read']) + num(read['Local Bytes Read'])
      const write = obj(m['Shuffle Write Metrics'])
      if (write) s.shuffleWriteBytes += num(write['Shuffle Bytes Written'])
    }
    const em = obj(e['Task Executor Metrics'])
    if (em) {
      this.#heap = maxOf(this.#heap, em.JVMHeapMemory)
      this.#offHeap = maxOf(this.#offHeap, em.JVMOffHeapMemory)
      this.#rss = maxOf(this.#rss, em.ProcessTreeJVMRSSMemory)
      this.#onHeapExec = maxOf(this.#onHeapExec, em.OnHeapExecutionMemory)
      const ex = this.#executors.get(String(info['Executor ID'] ?? ''))
      if (ex) {
        ex.peakHeap = maxOf(ex.peakHeap, em.JVMHeapMemory)
        ex.peakRss = maxOf(ex.peakRss, em.ProcessTreeJVMRSSMemory)
      }
    }
  }

  #allocation(): AllocationSummary {
    const p = this.#props
    const master = p['spark.master'] ?? null
    const intProp = (k: string): number | null => {
      const v = p[k]
      return v !== undefined && /^\s*\d+\s*$/.test(v) ? Number(v) : null
    }
    const memory = p['spark.executor.memory'] ?? null
    let platform = 'unknown'
    if (Object.keys(p).some((k) => k.startsWith('spark.databricks.'))) platform = 'databricks'
    else if (this.#system.EMR_CLUSTER_ID !== undefined || p['spark.emr.default.executor.memory'] !== undefined) platform = 'emr'
    else if ([...this.#executors.values()].some((x) => x.host.endsWith('.c.internal')) || p['spark.dataproc.sql.joinConditionReorder.enabled'] !== undefined
      || Object.keys(p).some((k) => k.startsWith('spark.dataproc.'))) platform = 'dataproc'
    else if (master?.startsWith('yarn')) platform = 'yarn'
    else if (master?.startsWith('k8s')) platform = 'kubernetes'
    else if (master?.startsWith('spark://')) platform = 'standalone'
    else if (master?.startsWith('local')) platform = 'local'
    return {
      master,
      deployMode: p['spark.submit.deployMode'] ?? null,
      executorMemory: memory,
      executorMemoryMb: memoryMb(memory),
      executorCores: intProp('spark.executor.cores'),
      executorInstances: intProp('spark.executor.instances'),
      memoryOverhead: p['spark.executor.memoryOverhead'] ?? p['spark.yarn.executor.memoryOverhead'] ?? null,
      driverMemory: p['spark.driver.memory'] ?? null,
      dynamicAllocation: p['spark.dynamicAllocation.enabled'] === 'true',
      dynamicMinExecutors: intProp('spark.dynamicAllocation.minExecutors'),
      dynamicMaxExecutors: intProp('spark.dynamicAllocation.maxExecutors'),
      sqlShufflePartitions: intProp('spark.sql.shuffle.partitions'),
      platform,
      instanceType: p['spark.databricks.workerNodeTypeId'] ?? p['spark.databricks.clusterUsageTags.workerNodeTypeId'] ?? null,
      recommendationId: p['spark.tessera.recommendationId'] ?? null,
    }
  }

  /** The application as read so far. */
  finish(): SparkApp {
    const stages: StageSummary[] = [...this.#stages.values()].sort((a, b) => a.stageId - b.stageId || a.attemptId - b.attemptId).map((s) => {
      const sorted = [...s.durations].sort((a, b) => a - b)
      return {
        stageId: s.stageId, attemptId: s.attemptId, name: s.name, tasks: s.tasks, failedTasks: s.failedTasks,
        durationMs: s.submitted !== null && s.completed !== null ? s.completed - s.submitted : null, failureReason: s.failureReason,
        inputBytes: s.inputBytes, inputRecords: s.inputRecords, outputBytes: s.outputBytes, outputRecords: s.outputRecords,
        shuffleReadBytes: s.shuffleReadBytes, shuffleWriteBytes: s.shuffleWriteBytes, memoryBytesSpilled: s.memoryBytesSpilled,
        diskBytesSpilled: s.diskBytesSpilled, executorRunTimeMs: s.executorRunTimeMs, executorCpuTimeNs: s.executorCpuTimeNs,
        jvmGcTimeMs: s.jvmGcTimeMs, taskDurationP50Ms: percentile(sorted, 50), taskDurationMaxMs: sorted.length > 0 ? sorted[sorted.length - 1]! : null,
      }
    })
    const sum = (k: keyof StageSummary): number => stages.reduce((t, s) => t + (s[k] as number), 0)
    const durations = [...this.#durations].sort((a, b) => a - b)
    const end = this.#end
    const executors: ExecutorSummary[] = [...this.#executors.values()].map((x) => ({ ...x, peakJvmHeapBytes: x.peakHeap, peakRssBytes: x.peakRss }))
      .map(({ peakHeap: _h, peakRss: _r, ...rest }) => rest)
    const lastTime = end ?? Math.max(0, ...executors.map((x) => x.removedAt ?? x.addedAt ?? 0))
    const executorSeconds = executors.reduce((t, x) => t + (x.addedAt === null ? 0 : Math.max(0, (x.removedAt ?? lastTime) - x.addedAt) / 1000), 0)
    const lostExecutors = executors.filter((x) => x.removedReason !== null && !BENIGN_REMOVAL.test(x.removedReason)).length
    return {
      appId: this.#appId, attemptId: this.#attemptId, appName: this.#appName, sparkVersion: this.#sparkVersion,
      startTime: this.#start, endTime: end,
      durationS: this.#start !== null && end !== null ? (end - this.#start) / 1000 : null,
      completed: end !== null,
      allocation: this.#allocation(),
      executors,
      executorsAdded: this.#executorsAdded,
      executorsRemoved: this.#executorsRemoved,
      maxConcurrentExecutors: this.#maxConcurrent,
      totalExecutorCoresSeen: this.#coresSeen,
      hosts: new Set(executors.map((x) => x.host).filter((h) => h !== '')).size,
      executorSeconds,
      totals: {
        jobs: this.#jobs, stages: this.#stagesCompleted, tasks: this.#tasks, failedTasks: this.#tasksFailed,
        executorRunTimeMs: sum('executorRunTimeMs'), executorCpuTimeNs: sum('executorCpuTimeNs'), jvmGcTimeMs: sum('jvmGcTimeMs'),
        inputBytes: sum('inputBytes'), inputRecords: sum('inputRecords'), outputBytes: sum('outputBytes'), outputRecords: sum('outputRecords'),
        shuffleReadBytes: sum('shuffleReadBytes'), shuffleWriteBytes: sum('shuffleWriteBytes'),
        memoryBytesSpilled: sum('memoryBytesSpilled'), diskBytesSpilled: sum('diskBytesSpilled'),
        taskDurationP50Ms: percentile(durations, 50), taskDurationP95Ms: percentile(durations, 95),
        taskDurationMaxMs: durations.length > 0 ? durations[durations.length - 1]! : null,
        maxTaskPeakExecutionMemory: this.#maxPeakExecution,
      },
      memory: {
        jvmHeapBytes: this.#heap, jvmOffHeapBytes: this.#offHeap, rssBytes: this.#rss, onHeapExecutionBytes: this.#onHeapExec,
        stageExecutorJvmHeapBytes: this.#stageHeap, stageExecutorRssBytes: this.#stageRss,
      },
      failures: {
        taskFailuresByReason: { ...this.#failuresByReason }, oomTaskFailures: this.#oomFailures, lostExecutors,
        failedJobs: this.#jobsFailed, failedStages: this.#stagesFailed,
      },
      stages,
      problems: [...this.#problems],
      badLines: this.#badLines,
    }
  }

  get fileName(): string {
    return this.#file
  }
}
